"""Draw the demo's sample images (run once; the JPEGs are committed beside this file).

They are illustrations, not photos: a figure in a plain pose with hands visible, a top
garment, a bottom garment, and a "coarse try-on" that is the figure wearing the top with
the seams and blur a first-pass try-on model leaves. ``python make_samples.py``.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

W, H = 640, 960
SKIN = (224, 182, 150)
HAIR = (60, 40, 30)
HERE = Path(__file__).parent


def backdrop() -> Image.Image:
    img = Image.new("RGB", (W, H))
    d = ImageDraw.Draw(img)
    for y in range(H):
        t = y / H
        d.line([(0, y), (W, y)], fill=(int(236 - 30 * t), int(232 - 30 * t), int(226 - 26 * t)))
    d.rectangle((0, int(H * 0.86), W, H), fill=(196, 188, 178))
    return img


def figure(
    d: ImageDraw.ImageDraw, shirt: tuple[int, int, int] | None, trousers: tuple[int, int, int]
) -> None:
    cx = W // 2
    # legs
    d.rounded_rectangle((cx - 70, 520, cx - 8, 850), 18, fill=trousers)
    d.rounded_rectangle((cx + 8, 520, cx + 70, 850), 18, fill=trousers)
    d.ellipse((cx - 80, 835, cx - 5, 870), fill=(40, 36, 34))
    d.ellipse((cx + 5, 835, cx + 80, 870), fill=(40, 36, 34))
    # arms, relaxed at the sides, hands visible
    d.rounded_rectangle((cx - 135, 250, cx - 95, 520), 20, fill=shirt or SKIN)
    d.rounded_rectangle((cx + 95, 250, cx + 135, 520), 20, fill=shirt or SKIN)
    d.ellipse((cx - 140, 505, cx - 92, 560), fill=SKIN)
    d.ellipse((cx + 92, 505, cx + 140, 560), fill=SKIN)
    # torso
    d.rounded_rectangle((cx - 100, 230, cx + 100, 540), 40, fill=shirt or (235, 235, 232))
    # neck and head
    d.rectangle((cx - 22, 195, cx + 22, 240), fill=SKIN)
    d.ellipse((cx - 62, 70, cx + 62, 215), fill=SKIN)
    d.chord((cx - 66, 60, cx + 66, 190), 180, 360, fill=HAIR)
    d.ellipse((cx - 30, 135, cx - 18, 147), fill=(50, 40, 40))
    d.ellipse((cx + 18, 135, cx + 30, 147), fill=(50, 40, 40))
    d.arc((cx - 22, 160, cx + 22, 185), 20, 160, fill=(150, 80, 80), width=3)


def garment(color: tuple[int, int, int], bottom: bool = False) -> Image.Image:
    img = Image.new("RGB", (600, 600), (250, 250, 250))
    d = ImageDraw.Draw(img)
    if bottom:
        d.polygon(
            [(170, 80), (430, 80), (470, 540), (330, 540), (300, 220), (270, 540), (130, 540)],
            fill=color,
        )
        d.rectangle((170, 80, 430, 115), fill=tuple(max(0, c - 30) for c in color))
    else:
        d.polygon(
            [
                (200, 90),
                (400, 90),
                (520, 170),
                (470, 250),
                (420, 215),
                (420, 520),
                (180, 520),
                (180, 215),
                (130, 250),
                (80, 170),
            ],
            fill=color,
        )
        d.ellipse((255, 70, 345, 130), fill=(250, 250, 250))
        for y in range(160, 500, 60):  # a stripe pattern the refiner should keep
            d.rectangle((180, y, 420, y + 18), fill=(245, 240, 230))
    return img


def main() -> None:
    person = backdrop()
    figure(ImageDraw.Draw(person), None, (60, 70, 90))
    person.save(HERE / "person.jpg", quality=88)

    top_color = (176, 48, 72)
    garment(top_color).save(HERE / "top.jpg", quality=88)
    garment((60, 70, 90), bottom=True).save(HERE / "bottom.jpg", quality=88)

    coarse = backdrop()
    d = ImageDraw.Draw(coarse)
    figure(d, top_color, (60, 70, 90))
    cx = W // 2
    for y in range(300, 520, 60):
        d.rectangle((cx - 95, y, cx + 95, y + 14), fill=(240, 226, 220))
    # first-pass artefacts: soft edges and a seam across the waist
    coarse = coarse.filter(ImageFilter.GaussianBlur(1.6))
    d = ImageDraw.Draw(coarse)
    d.line([(cx - 100, 522), (cx + 100, 530)], fill=(120, 30, 50), width=5)
    coarse.save(HERE / "coarse.jpg", quality=88)


if __name__ == "__main__":
    main()
