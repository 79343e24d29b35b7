"""The four input slots, named as the API's multipart fields, and the rules users must see."""

from __future__ import annotations

PERSON = "person_image"
TOP = "top_garment"
COARSE = "coarse_image"
BOTTOM = "bottom_garment"
SLOTS = (PERSON, TOP, COARSE, BOTTOM)
REQUIRED_SLOTS = (PERSON, TOP, COARSE)

SLOT_LABELS = {
    PERSON: "person photo",
    TOP: "top garment",
    COARSE: "coarse try-on result",
    BOTTOM: "bottom garment",
}

GENDERS = ("woman", "man")

POSE_RULES = (
    "The person photo must be a full-body front view of exactly one person, "
    "hands fully visible, arms neither wide open nor crossed."
)

IMAGE_RULES = (
    "Each image must be JPG, PNG or BMP, at most 5 MB, and larger than 150x150 and smaller "
    "than 4096x4096 pixels. The coarse result must have exactly the person photo's pixel size."
)
