"""The name rules that say which slot a file is for (refiner_gui.roles)."""

from __future__ import annotations

import pytest

from refiner_gui.roles import assign_by_name, name_words, role_from_name
from refiner_gui.slots import BOTTOM, COARSE, PERSON, TOP


@pytest.mark.parametrize(
    ("name", "slot"),
    [
        ("person.png", PERSON),
        ("Model-Front.JPG", PERSON),
        ("mannequin_02.jpg", PERSON),
        ("TopShirt_02.jpg", TOP),
        ("t-shirt.jpg", TOP),
        ("chemise bleue.png", TOP),
        ("pantalón.png", BOTTOM),
        ("jeans.webp", BOTTOM),
        ("Rock.bmp", BOTTOM),
        ("try-on.png", COARSE),
        ("person_tryon.png", COARSE),  # a try-on is named after what it shows
        ("top_result.jpg", COARSE),
        ("IMG_1234.jpg", None),
        ("shirt_and_pants.jpg", None),  # two roles: ask, never guess
        ("topology.png", None),  # whole words only
    ],
)
def test_role_from_name(name, slot):
    assert role_from_name(name) == slot


def test_words_split_humps_accents_and_joined_words():
    assert name_words("TryOn_Résultat-2.PNG") == ["tryon", "resultat", "2"]


def test_two_files_for_one_slot_are_both_left_to_the_user():
    assigned, left = assign_by_name(["a_person.jpg", "b_top.jpg", "c.jpg", "d_top.jpg"])
    assert assigned == {PERSON: "a_person.jpg"}
    assert sorted(left) == ["b_top.jpg", "c.jpg", "d_top.jpg"]
