"""Pre-flight checks of input images and "Fix", which makes conforming copies (no Qt here).

* :func:`check_image` / :func:`check_inputs` read headers only and report every problem as a
  :class:`Problem` in an :class:`ImageReport`; they never raise for a bad file.
* :func:`fix_image` writes a copy the service accepts, or raises :class:`ImageFixError`.

Typical flow: check the inputs; for each report that is not ``ok`` but ``fixable``, fix the
person photo first, then fix the coarse image with ``target_size`` set to the fixed person
photo's size (``check_image(fixed_person).size``), then check again.
"""

from __future__ import annotations

from refiner_gui.images.fix import ImageFixError, fix_image
from refiner_gui.images.preflight import (
    MAX_FILE_BYTES,
    PROBLEM_CODES,
    ImageReport,
    Problem,
    check_image,
    check_inputs,
    planned_size,
)

__all__ = [
    "MAX_FILE_BYTES",
    "PROBLEM_CODES",
    "ImageFixError",
    "ImageReport",
    "Problem",
    "check_image",
    "check_inputs",
    "fix_image",
    "planned_size",
]
