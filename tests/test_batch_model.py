"""The batch queue view's rows: what each cell shows, and that the cells are Qt items, so a
repaint never calls back into Python (each such call would wait for the GIL while the
batch's workers hold it; ``bench/table_gil.py`` measures the difference)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QStandardItemModel
from PySide6.QtWidgets import QTableView

from refiner_gui.batch import LookStatus, LookView
from refiner_gui.ui.batch_model import BatchModel

DISPLAY = Qt.ItemDataRole.DisplayRole


def cell(model: BatchModel, row: int, col: int, role: int = DISPLAY) -> object:
    return model.data(model.index(row, col), role)


def test_rows_show_name_status_and_stage_then_the_reason_or_the_file(qtbot) -> None:
    model = BatchModel()
    views = [LookView(i, f"look-{i}", LookStatus.WAITING) for i in range(3)]
    model.set_views(views)
    assert model.rowCount() == 3 and model.columnCount() == 3
    assert [cell(model, r, 0) for r in range(3)] == ["look-0", "look-1", "look-2"]
    assert cell(model, 1, 1) == "waiting"

    model.update(replace(views[1], status=LookStatus.RUNNING, stage="uploading"))
    assert (cell(model, 1, 1), cell(model, 1, 2)) == ("running", "uploading")
    assert cell(model, 1, 1, Qt.ItemDataRole.ForegroundRole) == QColor(30, 100, 200)

    model.update(
        replace(views[1], status=LookStatus.FAILED, error="The person photo is too small.")
    )
    assert cell(model, 1, 2) == "The person photo is too small."
    assert cell(model, 1, 0, Qt.ItemDataRole.ToolTipRole) == "The person photo is too small."

    out = Path("out") / "look-2.png"
    model.update(replace(views[2], status=LookStatus.DONE, output=out))
    assert (cell(model, 2, 1), cell(model, 2, 2)) == ("done", "look-2.png")
    assert cell(model, 0, 1) == "waiting"  # the other rows are untouched

    model.update(LookView(99, "not in this batch", LookStatus.DONE))  # ignored
    assert model.rowCount() == 3


def test_a_new_batch_replaces_the_rows(qtbot) -> None:
    model = BatchModel()
    model.set_views([LookView(i, f"a-{i}", LookStatus.WAITING) for i in range(5)])
    model.set_views([LookView(0, "b-0", LookStatus.DONE)])
    assert model.rowCount() == 1
    assert (cell(model, 0, 0), cell(model, 0, 1)) == ("b-0", "done")
    assert model.view_at(0) == LookView(0, "b-0", LookStatus.DONE)
    assert model.view_at(1) is None


def test_cells_are_qt_items_never_edited_and_not_python_callbacks(qtbot) -> None:
    model = BatchModel()
    model.set_views([LookView(0, "look-0", LookStatus.WAITING)])
    # No Python data() behind the table: painting reads the items in C++.
    assert type(model).data is QStandardItemModel.data
    assert type(model).rowCount is QStandardItemModel.rowCount
    flags = model.flags(model.index(0, 0))
    assert flags & Qt.ItemFlag.ItemIsSelectable
    assert not flags & Qt.ItemFlag.ItemIsEditable
    table = QTableView()
    qtbot.addWidget(table)
    table.setModel(model)
    assert model.headerData(2, Qt.Orientation.Horizontal) == "Stage / reason"
