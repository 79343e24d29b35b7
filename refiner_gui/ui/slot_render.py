"""How one input slot's state looks in its :class:`~refiner_gui.ui.drop_slot.DropSlot`.

The panel keeps the state (:class:`~refiner_gui.ui.slot_state.SlotState`); this draws it.
GUI thread only.
"""

from __future__ import annotations

from refiner_gui.ui.drop_slot import BUSY, ERROR, OK, PROBLEM, DropSlot
from refiner_gui.ui.slot_state import CHECK, DOWNLOAD, FIX, SAVE, SlotState, facts, shown_problem


def render_slot(view: DropSlot, state: SlotState) -> None:
    """Show ``state`` in ``view``: file name, facts and verdict (not the thumbnail, which
    is set when it arrives). While a download or a paste is being saved the view keeps
    the busy look it was given when that work started."""
    if state.original is None:
        if state.busy in (DOWNLOAD, SAVE):
            return  # the busy look was set when the work started
        view.show_empty(state.error)
        return
    tooltip = str(state.original)
    if state.fixed is not None:
        tooltip = f"Original: {state.original}\nSent: fixed copy {state.fixed.name}"
    view.show_file(state.original.name, tooltip)
    report = state.report
    if report is not None and state.busy != FIX:
        known = " · ".join(facts(report))
        view.set_details(f"Fixed copy · {known}" if state.fixed is not None else known)
    else:
        view.set_details("")
    if state.busy == CHECK:
        view.set_verdict(BUSY, "Checking…")
    elif state.busy == FIX:
        view.set_verdict(BUSY, "Fixing… (the original stays as it is)")
    elif state.error:
        view.set_verdict(ERROR, state.error)
    elif report is None:
        view.set_verdict(BUSY, "Checking…")
    elif report.ok:
        view.set_verdict(OK, "✓ OK")
    else:
        problem = shown_problem(report)
        everything = "\n".join(f"• {p.message}" for p in report.problems)
        view.set_verdict(
            PROBLEM if report.fixable else ERROR,
            problem.message,
            fixable=report.fixable,
            tooltip=everything if len(report.problems) > 1 else "",
        )
