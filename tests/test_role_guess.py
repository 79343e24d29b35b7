"""Placing several files in slots from their names and their pictures
(refiner_gui.role_guess): real image files, no Qt."""

from __future__ import annotations

from pathlib import Path

import pytest

from refiner_gui.role_guess import PictureFacts, guess_from_files, guess_roles, read_facts
from refiner_gui.slots import BOTTOM, COARSE, PERSON, TOP
from tests.helpers.images import make_image, make_photo, make_product_shot


@pytest.mark.parametrize(
    "names",
    [
        ("person.jpg", "top.png", "coarse.png", "bottom.jpg"),  # English
        ("mannequin.jpg", "chemise.png", "essayage.png", "pantalon.jpg"),  # French
        ("modella.jpg", "camicia.png", "prova.png", "gonna.jpg"),  # Italian
        ("modelo.jpg", "camiseta.png", "prueba.png", "falda.jpg"),  # Spanish
        ("Mensch.jpg", "Oberteil.png", "Anprobe.png", "Hose.jpg"),  # German
        ("moderu.jpg", "uwagi.png", "shichaku.png", "zubon.jpg"),  # Japanese (romaji)
    ],
)
def test_names_in_several_languages_place_all_four(tmp_path, names):
    person, top, coarse, bottom = (tmp_path / n for n in names)
    make_photo(person)
    make_product_shot(top)
    make_photo(coarse, seed=2)
    make_product_shot(bottom, (200, 400))
    # Given in a scrambled order: the order never decides.
    guess, _ = guess_from_files([bottom, coarse, person, top])
    assert guess.complete
    assert guess.roles == {PERSON: person, TOP: top, COARSE: coarse, BOTTOM: bottom}
    assert guess.reasons[person] == "its name says so"


def test_same_size_as_the_named_person_is_the_coarse(tmp_path):
    person = make_photo(tmp_path / "person.jpg", (320, 480))
    unknown = make_photo(tmp_path / "IMG_0042.png", (320, 480), seed=3)
    top = make_product_shot(tmp_path / "top.png")
    guess, _ = guess_from_files([unknown, top, person])
    assert guess.complete
    assert guess.roles[COARSE] == unknown
    assert guess.reasons[unknown] == "same size as the person photo"


def test_same_size_as_the_named_coarse_is_the_person(tmp_path):
    coarse = make_photo(tmp_path / "tryon.png", (320, 480))
    unknown = make_photo(tmp_path / "DSC01.jpg", (320, 480), seed=4)
    guess, _ = guess_from_files([coarse, unknown])
    assert guess.roles == {COARSE: coarse, PERSON: unknown}


def test_two_unnamed_photos_of_one_size_are_left_to_the_user(tmp_path):
    a = make_photo(tmp_path / "a.jpg", (320, 480))
    b = make_photo(tmp_path / "b.jpg", (320, 480), seed=5)
    top = make_product_shot(tmp_path / "shirt.png")
    guess, _ = guess_from_files([a, b, top])
    assert not guess.complete
    assert guess.roles == {TOP: top}
    assert guess.candidates == {a: (PERSON, COARSE), b: (PERSON, COARSE)}


def test_a_plain_border_is_a_garment(tmp_path):
    person = make_photo(tmp_path / "person.jpg", (320, 480))
    coarse = make_photo(tmp_path / "coarse.jpg", (320, 480), seed=2)
    top = make_product_shot(tmp_path / "top.jpg")
    shot = make_product_shot(tmp_path / "IMG_7.jpg", (260, 300), colour=(20, 20, 20))
    guess, _ = guess_from_files([shot, person, coarse, top])
    assert guess.complete and guess.roles[BOTTOM] == shot
    assert "plain background" in guess.reasons[shot]


def test_a_studio_photo_on_white_is_not_taken_for_a_garment(tmp_path):
    """Without a person photo in sight, a plain border may be the model on a backdrop."""
    studio = make_product_shot(tmp_path / "IMG_3.jpg", (320, 480))  # plain, like a studio
    top = make_product_shot(tmp_path / "top.png")
    guess, _ = guess_from_files([studio, top])
    assert guess.roles == {TOP: top}
    assert not guess.complete and studio in guess.candidates


def test_a_lone_garment_with_both_garment_slots_free_is_the_top(tmp_path):
    person = make_photo(tmp_path / "person.jpg", (320, 480))
    coarse = make_photo(tmp_path / "result.jpg", (320, 480), seed=2)
    shot = make_product_shot(tmp_path / "IMG_7.jpg")
    guess, _ = guess_from_files([person, shot, coarse])
    assert guess.complete and guess.roles[TOP] == shot


def test_two_unnamed_garments_are_not_told_apart_by_picture(tmp_path):
    person = make_photo(tmp_path / "person.jpg", (320, 480))
    coarse = make_photo(tmp_path / "coarse.jpg", (320, 480), seed=2)
    wide = make_product_shot(tmp_path / "x1.jpg", (300, 300))
    tall = make_product_shot(tmp_path / "x2.jpg", (200, 420))
    guess, _ = guess_from_files([person, coarse, wide, tall])
    assert not guess.complete
    assert TOP not in guess.roles and BOTTOM not in guess.roles
    # The shape is only a hint, offered in the order shown to the user.
    assert guess.candidates[tall] == (BOTTOM, TOP)
    assert guess.candidates[wide] == (TOP, BOTTOM)


def test_no_clue_at_all_is_never_assigned_alphabetically(tmp_path):
    files = [make_image(tmp_path / f"{n}.png", (300 + 10 * i, 400)) for i, n in enumerate("abcd")]
    # make_image draws on a flat colour: give the rules no border clue either.
    facts = {f: PictureFacts(size=(300 + 10 * i, 400)) for i, f in enumerate(files)}
    guess = guess_roles(files, facts)
    assert guess.roles == {}
    assert set(guess.candidates) == set(files)


def test_two_files_naming_one_slot_go_to_the_user_with_that_slot_first(tmp_path):
    person = make_photo(tmp_path / "person.jpg")
    one = make_product_shot(tmp_path / "top_front.png")
    two = make_product_shot(tmp_path / "top_back.png")
    guess, _ = guess_from_files([person, one, two])
    assert guess.roles == {PERSON: person}
    assert guess.candidates[one][0] == TOP and guess.candidates[two][0] == TOP


def test_elimination_places_the_last_file_unless_its_picture_disagrees(tmp_path):
    person = make_photo(tmp_path / "person.jpg", (320, 480))
    top = make_product_shot(tmp_path / "top.png")
    bottom = make_product_shot(tmp_path / "jeans.png")
    last = make_photo(tmp_path / "IMG_1.jpg", (320, 480), seed=9)
    guess, _ = guess_from_files([person, top, bottom, last])
    assert guess.complete and guess.roles[COARSE] == last

    wrong = make_photo(tmp_path / "IMG_2.jpg", (400, 400), seed=9)  # not the person's size
    guess, _ = guess_from_files([person, top, bottom, wrong])
    assert not guess.complete and COARSE not in guess.roles


def test_facts_of_photos_shots_and_bad_files(tmp_path):
    assert read_facts(make_photo(tmp_path / "p.jpg", (320, 480))) == PictureFacts((320, 480))
    assert read_facts(make_product_shot(tmp_path / "g.jpg")).plain_border
    text = tmp_path / "notes.txt"
    text.write_text("not a picture")
    assert read_facts(text) == PictureFacts(size=None)
    assert read_facts(Path(tmp_path / "missing.png")) == PictureFacts(size=None)
