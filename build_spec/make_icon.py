"""Draw the app icon into ``resources/icons/`` (run once; the output is committed).

A 256 px rounded square with an "R": PNG for Linux/macOS (PyInstaller converts it to
.icns with Pillow on macOS) and a multi-size ICO for the Windows executable.
Usage, from the repository root: ``python build_spec/make_icon.py``.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"
SIZE = 256


def draw() -> Image.Image:
    # Drawn at 4x and scaled down: Pillow's shapes and text are not antialiased otherwise.
    big = SIZE * 4
    img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((16, 16, big - 16, big - 16), radius=big // 5, fill=(37, 99, 235, 255))
    font = ImageFont.load_default(size=big * 2 // 3)
    d.text((big / 2, big / 2), "R", font=font, fill="white", anchor="mm")
    return img.resize((SIZE, SIZE), Image.Resampling.LANCZOS)


def main() -> None:
    icon = draw()
    icon.save(ICONS / "refiner-gui.png", optimize=True)
    icon.save(
        ICONS / "refiner-gui.ico",
        sizes=[(16, 16), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)],
    )
    print(f"wrote {ICONS / 'refiner-gui.png'} and .ico")


if __name__ == "__main__":
    main()
