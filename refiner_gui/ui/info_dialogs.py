"""The Help menu's short dialogs: photo rules and about. GUI thread only."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

from refiner_gui import __version__
from refiner_gui.slots import IMAGE_RULES, POSE_RULES


def show_rules(parent: QWidget) -> None:
    """What makes a good person photo and input images (modal)."""
    QMessageBox.information(
        parent,
        "Photo rules",
        f"<p><b>Person photo.</b> {POSE_RULES}</p><p><b>Every image.</b> {IMAGE_RULES}</p>"
        "<p>The coarse result is the image the try-on service produced from this person "
        "photo and garments; send the same files you sent to the try-on call.</p>",
    )


def show_about(parent: QWidget) -> None:
    """The app's version and what it does with images and credits (modal)."""
    QMessageBox.about(
        parent,
        "About Refiner",
        f"<p><b>Refiner</b> {__version__}</p><p>A desktop client for the AILabTools Try on "
        "Clothes Refiner API. Images are sent only to the service; results are kept there "
        "for 24 hours. A refinement costs 25 credits.</p>",
    )
