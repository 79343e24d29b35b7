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

from refiner_gui.ui.viewer.compare_view import CompareViewer
from refiner_gui.ui.viewer.modes import ViewMode

__all__ = ["CompareViewer", "ViewMode"]
