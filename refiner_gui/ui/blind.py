"""Blind review: which side the refined image goes on, and what the sides are called.

Qt-free on purpose (plain data and :mod:`random`), so the rule is tested without a display
and the main window stays the only place that knows both the assignment and the viewer.

How the main window uses it, per shown job::

    assignment = BlindAssignment.draw(seed=job.id ^ session_salt)
    left, right = assignment.order(coarse_image, refined_image)
    viewer.set_images(left, right)
    viewer.set_labels(*assignment.labels(revealed=False))

and, when the review bar reports the answer to "which looks better?"
(``ReviewBar.preferenceChosen``: "A" is the left side, "B" the right), stores it unblinded
(``which_is_refined``) and calls ``viewer.set_labels(*assignment.labels(revealed=True))``.
Seeding with the job id mixed with a per-session salt keeps a job's sides stable while it
is revisited in one session (so going back does not reshuffle what the reviewer already
looked at) but differs between sessions, so reviewers cannot learn "job 12 has refined on
the left".
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal, TypeVar

T = TypeVar("T")

COARSE_LABEL = "Coarse"
REFINED_LABEL = "Refined"
HIDDEN_LABELS = ("A", "B")
"""Neutral names for the left and right positions while the roles are hidden."""


def new_session_salt() -> int:
    """A random 32-bit salt for one review session (mix it into :meth:`BlindAssignment.draw`
    seeds with ``job_id ^ salt``). Drawn from the OS, so sessions are not predictable."""
    return random.SystemRandom().getrandbits(32)


@dataclass(frozen=True)
class BlindAssignment:
    """Where the refined image sits in one blind comparison.

    Attributes:
        swapped: True when the refined image is on the LEFT (the viewer's default puts
            coarse left, refined right; "swapped" is relative to that).
    """

    swapped: bool

    @classmethod
    def draw(cls, seed: int | None = None) -> BlindAssignment:
        """A fair coin toss for the sides.

        Args:
            seed: any int gives the same assignment every time (in every process: integer
                seeds are not affected by hash randomisation); None draws from the OS.
        """
        rng = random.Random(seed) if seed is not None else random.SystemRandom()
        return cls(swapped=rng.random() < 0.5)

    def order(self, coarse: T, refined: T) -> tuple[T, T]:
        """``(left, right)``: the two images (or anything) in display order."""
        return (refined, coarse) if self.swapped else (coarse, refined)

    def labels(self, revealed: bool) -> tuple[str, str]:
        """``(left, right)`` captions: "A" / "B" while hidden; once revealed, "Coarse" and
        "Refined" in the positions the images actually have."""
        if not revealed:
            return HIDDEN_LABELS
        return self.order(COARSE_LABEL, REFINED_LABEL)

    def which_is_refined(self) -> Literal["left", "right"]:
        """The position of the refined image: ``"left"`` or ``"right"``."""
        return "left" if self.swapped else "right"
