"""The result viewer: compare a coarse try-on image with the refined one.

Public names: :class:`CompareViewer` (the widget the main window embeds) and
:class:`ViewMode`. The rest of the package is its parts:

* ``image_canvas`` – zoom/pan QGraphicsView with caption overlays.
* ``swipe``, ``flicker``, ``heatmap`` – the single-view modes.
* ``difference`` – the Qt-free difference map and colour ramp (Pillow).
* ``difference_worker`` – the one module here that crosses threads.
* ``composite`` – the side-by-side picture for "save comparison".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from refiner_gui.ui.viewer.modes import ViewMode

if TYPE_CHECKING:
    from refiner_gui.ui.viewer.compare_view import CompareViewer

__all__ = ["CompareViewer", "ViewMode"]


def __getattr__(name: str) -> Any:
    # The widget (and Pillow behind its difference view) loads when first used, so the
    # main window can paint before a result exists.
    if name == "CompareViewer":
        from refiner_gui.ui.viewer.compare_view import CompareViewer

        return CompareViewer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
