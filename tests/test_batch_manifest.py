"""Reading batch looks from folders and CSV manifests, and the dry run: every bad row gets
its own clear message and never stops the others; cost and balance are checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from refiner_gui.api import AuthError
from refiner_gui.batch import COST_PER_LOOK, ManifestError, check_balance, make_plan, read_source
from refiner_gui.batch.manifest import safe_name
from refiner_gui.slots import BOTTOM, COARSE, PERSON, TOP
from tests.helpers.images import make_image

HEADER = "person,top,coarse,bottom,gender,name\n"


def look_files(folder: Path, *, coarse_size=(320, 480), bottom=False) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "person": make_image(folder / "person.jpg", (320, 480)),
        "top": make_image(folder / "top.png", (300, 300)),
        "coarse": make_image(folder / "coarse.png", coarse_size),
    }
    if bottom:
        files["bottom"] = make_image(folder / "bottom.jpg", (300, 300))
    return files


def test_folder_of_looks_uses_the_role_rules_and_gender_files(tmp_path):
    look_files(tmp_path / "b-look", bottom=True)
    (tmp_path / "b-look" / "gender.txt").write_text("man\n")
    look_files(tmp_path / "a-look")
    (tmp_path / "c-look").mkdir()
    make_image(tmp_path / "c-look" / "model_front.jpg", (320, 480))
    make_image(tmp_path / "c-look" / "IMG_0001.jpg", (300, 300))
    (tmp_path / ".hidden").mkdir()

    looks = read_source(tmp_path, default_gender="woman")

    assert [x.name for x in looks] == ["a-look", "b-look", "c-look"]
    a, b, c = looks
    assert a.ok and a.gender == "woman" and set(a.files) == {PERSON, TOP, COARSE}
    assert b.ok and b.gender == "man" and b.files[BOTTOM].name == "bottom.jpg"
    assert not c.ok
    text = " | ".join(c.problems)
    assert "IMG_0001.jpg: its name does not say one role" in text
    assert "no top image" in text
    assert "no coarse image" not in text and c.makes_coarse  # made by the batch


def test_folder_look_without_gender_says_where_to_give_it(tmp_path):
    look_files(tmp_path / "one")
    (look,) = read_source(tmp_path)
    assert look.problems == (
        "no gender: give woman or man (in gender.txt in the look's folder, or as the default)",
    )


def test_csv_manifest_rows_each_get_their_own_problem(tmp_path):
    files = look_files(tmp_path / "imgs")
    rel = {k: f"imgs/{v.name}" for k, v in files.items()}
    row = f"{rel['person']},{rel['top']},{rel['coarse']},"
    manifest = tmp_path / "looks.csv"
    manifest.write_text(
        HEADER
        + f"{row},woman,first\n"
        + f"imgs/missing.jpg,{rel['top']},{rel['coarse']},,woman,missing-file\n"
        + f"{row},female,bad-gender\n"
        + f"{row},man,first\n"
        + f"{row},woman,extra,surplus\n"
        + "\n"
        + f"{rel['person']},{rel['top']},,,woman,no-coarse\n"
        + f"{row},WOMAN,\n"
    )

    looks = read_source(manifest)

    by_name = {x.name: x for x in looks}
    assert len(looks) == 7  # the blank line is skipped
    assert looks[0].ok and looks[0].files[PERSON] == files["person"]
    assert by_name["missing-file"].problems == ("person: file not found: imgs/missing.jpg",)
    assert by_name["bad-gender"].problems == ("unknown gender 'female': give woman or man",)
    dup = looks[3]
    assert dup.name == "first" and "duplicate name 'first' (also used by row 2)" in dup.problems[0]
    assert (
        "line 6 has 7 values but the header names 6 columns (extra: 'surplus')"
        in (by_name["extra"].problems[0])
    )
    assert by_name["no-coarse"].ok and by_name["no-coarse"].makes_coarse
    last = looks[-1]
    assert last.ok and last.name == "line-9" and last.gender == "woman"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "is empty"),
        ("person,top,coarse,gender,colour\n", "unknown: colour"),
        ("person,coarse,gender\n", "missing: top"),
        ("person,top,coarse,gender,gender\n", "a column is named twice"),
    ],
)
def test_a_bad_header_is_refused_as_a_whole(tmp_path, text, needle):
    manifest = tmp_path / "m.csv"
    manifest.write_text(text)
    with pytest.raises(ManifestError, match=needle):
        read_source(manifest)


def test_sources_that_are_neither_say_so(tmp_path):
    with pytest.raises(ManifestError, match="does not exist"):
        read_source(tmp_path / "nope")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(ManifestError, match="neither a folder"):
        read_source(tmp_path / "x.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ManifestError, match="no look folders"):
        read_source(tmp_path / "empty")


def test_names_that_differ_only_in_unsafe_characters_are_duplicates(tmp_path):
    files = look_files(tmp_path / "imgs")
    row = f"{files['person']},{files['top']},{files['coarse']},,woman"
    manifest = tmp_path / "m.csv"
    manifest.write_text(HEADER + f"{row},a/b\n{row},a_b\n{row},A_B\n")
    looks = read_source(manifest)
    assert looks[0].ok
    assert not looks[1].ok and not looks[2].ok
    assert safe_name("../x") == "_x"


def test_dry_run_lists_preflight_failures_with_the_fix_offer_and_the_cost(tmp_path):
    good = look_files(tmp_path / "good")
    mismatch = look_files(tmp_path / "mismatch", coarse_size=(640, 960))
    tiny = look_files(tmp_path / "tiny")
    make_image(tiny["top"], (100, 100))
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        HEADER
        + "".join(
            f"{f['person']},{f['top']},{f['coarse']},,woman,{n}\n"
            for n, f in (("good", good), ("mismatch", mismatch), ("tiny", tiny))
        )
        + f"{good['person']},,,,woman,row-problem\n"
    )
    plan = make_plan(read_source(manifest))

    rows = {p.look.name: p for p in plan.looks}
    assert rows["good"].sendable
    assert not rows["mismatch"].sendable and rows["mismatch"].fixable
    assert "coarse try-on result" in rows["mismatch"].problems[0]
    assert not rows["tiny"].sendable and not rows["tiny"].fixable
    assert not rows["row-problem"].sendable
    assert plan.cost == COST_PER_LOOK  # only the good one is sent

    fixed = make_plan(read_source(manifest), fix=True, fixed_dir=tmp_path / "fixed")
    rows = {p.look.name: p for p in fixed.looks}
    assert rows["mismatch"].sendable  # a conforming copy is sent; the original is untouched
    assert rows["mismatch"].look.files[COARSE].parent == tmp_path / "fixed"
    assert mismatch["coarse"].exists()
    assert fixed.cost == 2 * COST_PER_LOOK


def test_balance_check_decides_whether_the_batch_may_start(tmp_path):
    files = look_files(tmp_path / "l")
    manifest = tmp_path / "m.csv"
    rows = "".join(
        f"{files['person']},{files['top']},{files['coarse']},,woman,l{i}\n" for i in range(3)
    )
    manifest.write_text(HEADER + rows)
    plan = make_plan(read_source(manifest))
    assert plan.cost == 75

    check_balance(plan, lambda: [("other", 10.0), ("common", 80.0)])
    assert plan.balance == 80 and plan.affordable
    check_balance(plan, lambda: [("common", 50.0)])
    assert not plan.affordable and "NOT enough" in plan.balance_line()

    def refused():
        raise AuthError("The API key is not valid.")

    check_balance(plan, refused)
    assert plan.balance is None and not plan.affordable
    assert "balance unknown" in plan.balance_line()
