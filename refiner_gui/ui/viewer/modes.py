"""The ways the viewer can show a coarse/refined pair."""

from __future__ import annotations

import enum


class ViewMode(enum.Enum):
    """How :class:`~refiner_gui.ui.viewer.CompareViewer` presents the two images.

    The value is the text of the mode's toolbar button.
    """

    SIDE_BY_SIDE = "Side by side"
    SWIPE = "Swipe"
    FLICKER = "Flicker"
    DIFFERENCE = "Difference"
