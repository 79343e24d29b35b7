"""The key tables: the menu table builds the menus the window had, every key is listed in
the shortcuts dialog, and no two bindings share a key where they would both fire."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QMainWindow, QMenu

from refiner_gui.ui.actions import (
    CONDITIONS,
    MENU_ACTIONS,
    MENUS,
    ActionSpec,
    build_actions,
    key_sequences,
    update_enabled,
)
from refiner_gui.ui.review import ReviewBar
from refiner_gui.ui.review_keys import REVIEW_KEYS, TAG_KEYS, review_key_strings
from refiner_gui.ui.shortcuts_dialog import ShortcutsDialog, all_key_help
from refiner_gui.ui.viewer.compare_view import CompareViewer
from refiner_gui.ui.viewer.keys import VIEWER_KEY_HELP, VIEWER_KEYS

NATIVE = QKeySequence.SequenceFormat.NativeText
PORTABLE = QKeySequence.SequenceFormat.PortableText


@pytest.fixture
def window(qtbot):
    win = QMainWindow()
    qtbot.addWidget(win)
    menus = {name: win.menuBar().addMenu(title) for name, title in MENUS}
    calls: list[str] = []
    handlers = {spec.name: (lambda name=spec.name: calls.append(name)) for spec in MENU_ACTIONS}
    actions = build_actions(win, menus, handlers)
    return win, menus, actions, calls


def _menu_layout(menu: QMenu) -> list[str | None]:
    return [None if a.isSeparator() else a.text() for a in menu.actions()]


def test_menus_are_the_windows_menus(window):
    _win, menus, actions, _calls = window
    assert _menu_layout(menus["file"]) == [
        "&Open images…",
        "New &batch…",
        None,
        "&Save refined…",
        "Save &comparison…",
        "&Copy refined image",
        "Open output &folder",
        None,
        "&Export review…",
        None,
        "&Quit",
    ]
    assert _menu_layout(menus["edit"]) == ["&Undo review change", None, "&Settings…"]
    assert _menu_layout(menus["job"]) == ["&Refine", "&Cancel"]
    assert _menu_layout(menus["view"]) == [
        "Side by side",
        "Swipe",
        "Flicker (A/B)",
        "Difference",
        None,
        "&Fit",
        "&Actual size",
    ]
    assert _menu_layout(menus["help"]) == [
        "&Photo rules",
        "&Keyboard shortcuts",
        "&About Refiner",
    ]

    def keys(name: str) -> list[str]:
        return [s.toString(PORTABLE) for s in actions[name].shortcuts()]

    def standard(key: QKeySequence.StandardKey) -> list[str]:
        # The platform's first binding, as the window's QKeySequence(StandardKey) had it;
        # none where the platform has none (e.g. Quit on some desktops).
        text = QKeySequence(key).toString(PORTABLE)
        return [text] if text else []

    std = QKeySequence.StandardKey
    assert keys("open") == standard(std.Open)
    assert keys("save") == standard(std.Save)
    assert keys("quit") == standard(std.Quit)
    assert keys("settings") == (standard(std.Preferences) or ["Ctrl+,"])
    assert keys("save_comparison") == ["Ctrl+Shift+S"]
    assert keys("copy_refined") == ["Ctrl+Shift+C"]
    assert keys("export_review") == ["Ctrl+E"]
    assert keys("open_output_folder") == []
    assert keys("refine") == ["Ctrl+Return", "Ctrl+Enter"]
    assert keys("cancel") == ["Esc"]
    for i, name in enumerate(
        ("view_side_by_side", "view_swipe", "view_flicker", "view_difference"), start=1
    ):
        assert keys(name) == [f"Ctrl+{i}"]
    assert keys("fit") == ["0"] and keys("actual_size") == ["1"]
    assert keys("photo_rules") == ["F1"]
    assert keys("keyboard_shortcuts") == ["Ctrl+/"]
    assert keys("undo_review") == ["Ctrl+Z"]
    assert actions["open"].statusTip() == "Choose images for the empty slots, in order"
    assert actions["refine"].toolTip() == "Submit the images to the refiner"
    assert actions["export_review"].statusTip().startswith("Export the jobs shown in History")


def test_actions_call_their_handlers(window):
    _win, _menus, actions, calls = window
    actions["fit"].trigger()
    actions["refine"].trigger()
    assert calls == ["fit", "refine"]


def test_build_actions_refuses_a_missing_or_unknown_handler(qtbot):
    win = QMainWindow()
    qtbot.addWidget(win)
    menus = {name: QMenu(win) for name, _title in MENUS}
    handlers = {spec.name: (lambda: None) for spec in MENU_ACTIONS}
    del handlers["quit"]
    with pytest.raises(KeyError, match="quit"):
        build_actions(win, menus, handlers)
    handlers["quit"] = lambda: None
    handlers["nonsense"] = lambda: None
    with pytest.raises(ValueError, match="nonsense"):
        build_actions(win, menus, handlers)
    assert all(not menu.actions() for menu in menus.values())  # nothing half-built


def test_update_enabled_follows_the_conditions(window):
    _win, _menus, actions, _calls = window
    assert {s.enabled_when for s in MENU_ACTIONS} - {None} <= set(CONDITIONS)
    update_enabled(
        actions, {"has_result": False, "can_refine": True, "running": False, "can_undo": False}
    )
    assert not actions["save"].isEnabled() and not actions["copy_refined"].isEnabled()
    assert not actions["undo_review"].isEnabled()
    assert actions["refine"].isEnabled() and not actions["cancel"].isEnabled()
    assert actions["open"].isEnabled() and actions["quit"].isEnabled()
    update_enabled(
        actions, {"has_result": True, "can_refine": False, "running": True, "can_undo": True}
    )
    assert actions["save_comparison"].isEnabled() and actions["cancel"].isEnabled()
    assert actions["undo_review"].isEnabled()
    assert not actions["refine"].isEnabled()
    with pytest.raises(KeyError):
        update_enabled(actions, {"has_result": True})


def test_plain_text_drops_the_mnemonic():
    assert ActionSpec("x", "file", "Save &comparison…").plain_text == "Save comparison…"
    assert ActionSpec("x", "file", "Fish && chips").plain_text == "Fish & chips"


def test_dialog_lists_every_key(qtbot):
    dialog = ShortcutsDialog()
    qtbot.addWidget(dialog)
    rows = dialog.rows()
    assert rows == all_key_help()
    listed = {(row.keys, row.what) for row in rows}
    for spec in MENU_ACTIONS:
        for sequence in key_sequences(spec):
            text = sequence.toString(NATIVE)
            assert any(
                text in keys.split(" or ") and what == spec.plain_text for keys, what in listed
            )
    shown_keys = [part for row in rows for part in row.keys.split(" or ")]
    for key in review_key_strings():
        assert key in shown_keys, key
    for binding in VIEWER_KEYS:
        assert any(row.keys == binding.label for row in rows)
    for row in (*REVIEW_KEYS, *VIEWER_KEY_HELP):
        assert row in rows
    # Undo and the blind answers are listed (one table each: menus, review keys).
    assert any(r.what == "Undo review change" and "Z" in r.keys for r in rows)
    assert any("Shift+A" in r.keys and "A better" in r.what for r in rows)
    assert len(dialog.visible_rows()) == len(rows)


def test_dialog_search_hides_other_rows(qtbot):
    dialog = ShortcutsDialog()
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.search_edit, "zoom")
    shown = dialog.visible_rows()
    assert shown and all("zoom" in f"{r.keys} {r.what} {r.where}".casefold() for r in shown)
    assert {r.what for r in shown} >= {"Zoom in", "Zoom out"}
    dialog.search_edit.clear()
    assert len(dialog.visible_rows()) == len(dialog.rows())
    dialog.set_filter("no such key anywhere")
    assert dialog.visible_rows() == []


def _normal(key: str) -> str:
    return QKeySequence(key).toString(PORTABLE)


def test_no_two_window_bindings_share_a_key():
    # Menu actions and the review bar's shortcuts are all window-wide: a shared key would
    # be ambiguous and neither would fire.
    window_keys = [s.toString(PORTABLE) for spec in MENU_ACTIONS for s in key_sequences(spec)]
    window_keys += [_normal(k) for k in review_key_strings()]
    duplicates = {k for k in window_keys if window_keys.count(k) > 1}
    assert not duplicates
    # The viewer's focus keys: each handled once, and none taken by a review shortcut
    # (a window shortcut would win over the viewer's key press).
    viewer_keys = [key for binding in VIEWER_KEYS for key in binding.keys]
    assert len(viewer_keys) == len(set(viewer_keys))
    review = {_normal(k) for k in review_key_strings()}
    assert not review & {QKeySequence(key).toString(PORTABLE) for key in viewer_keys}
    assert len(set(TAG_KEYS.values())) == len(TAG_KEYS)


def test_review_bar_binds_exactly_its_table(qtbot):
    bar = ReviewBar()
    qtbot.addWidget(bar)
    bound = sorted(s.key().toString(PORTABLE) for s in bar.findChildren(QShortcut))
    assert bound == sorted(_normal(k) for k in review_key_strings())


def test_viewer_keys_name_viewer_methods():
    for binding in VIEWER_KEYS:
        assert callable(getattr(CompareViewer, binding.command))
