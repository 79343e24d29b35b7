"""Asking before a re-run spends credits: which inputs go again, the cost and the balance.

:class:`RerunDialog` is window-modal and opened with ``open()`` (never a nested event
loop): its ``accepted`` signal starts the re-run, so tests answer it by clicking its
buttons. The balance is asked of the service on the thread pool while the dialog shows
(a credits query costs nothing); until it answers the dialog says so. GUI thread only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPushButton, QVBoxLayout, QWidget

from refiner_gui.api.errors import RefinerError, redact
from refiner_gui.api.models import CreditBalance
from refiner_gui.clients import ClientFactory
from refiner_gui.controllers.job_controller import rerun_kind
from refiner_gui.jobs.models import Job
from refiner_gui.jobs.two_stage import MODEL_NAMES, job_cost
from refiner_gui.reports.summary import INPUT_SLOTS
from refiner_gui.threads import run_task
from refiner_gui.ui.key_test import format_credits, universal_balance

log = logging.getLogger(__name__)

REFINEMENT_COST = job_cost("refine", None)
"""Credits one successful refinement costs (CONTRACT.md, billing); failures are free."""

BalanceQuery = Callable[[], list[CreditBalance]]
"""Asks the service for the account's balances; runs on a pool thread."""


def balance_query(factory: ClientFactory) -> BalanceQuery:
    """A :data:`BalanceQuery` with a client from ``factory`` (built on the pool thread)."""

    def query() -> list[CreditBalance]:  # pool thread: no widgets
        client = factory()
        try:
            return client.credits()
        finally:
            client.close()

    return query


def _inputs_text(job: Job) -> str:
    names = [
        f"{label.lower()} “{job.inputs[slot].name}”"
        for slot, _short, label in INPUT_SLOTS
        if slot in job.inputs
    ]
    gender = {"woman": "Woman", "man": "Man"}.get(job.gender, job.gender or "no gender")
    return f"{', '.join(names) or 'no stored inputs'} · {gender}"


def rerun_text(job: Job) -> tuple[str, int]:
    """What a re-run of ``job`` sends where (:func:`rerun_kind`), and what it costs when
    every call succeeds."""
    kind, model = rerun_kind(job)
    cost = job_cost(kind, model)
    inputs = _inputs_text(job)
    if kind == "refine" and job.tryon is not None:
        return (
            f"A new job refines job {job.id}’s coarse image again (it is reused, not paid "
            f"for again): {inputs}.",
            cost,
        )
    if kind == "refine":
        return f"A new job sends job {job.id}’s inputs to the refiner again: {inputs}.", cost
    name = MODEL_NAMES.get(model or "", "the try-on")
    then = ", then refines it" if kind == "tryon_refine" else " (no refinement)"
    return (
        f"A new job makes a new coarse image with {name} from job {job.id}’s inputs{then}: "
        f"{inputs}.",
        cost,
    )


class RerunDialog(QDialog):
    """ "Re-run job N?" with the cost, the balance when known, and Re-run / Cancel.

    Args:
        job: the job to re-run.
        parent: the window (the dialog is modal to it).
        balance: asks for the balance off the GUI thread; None when no balance applies
            (demo mode, where nothing is billed).
    """

    def __init__(self, job: Job, parent: QWidget | None, balance: BalanceQuery | None) -> None:
        super().__init__(parent)
        self.job_id = job.id
        self.setWindowTitle(f"Re-run job {job.id}?")
        self.setAccessibleName("Confirm re-run")
        self.setWindowModality(Qt.WindowModality.WindowModal)
        layout = QVBoxLayout(self)
        text, self.cost = rerun_text(job)
        what = QLabel(text)
        self.cost_label = QLabel(
            f"Cost: {self.cost} credits if it succeeds; a failed call is not billed."
            if balance is not None
            else f"Demo mode: the local sandbox answers, no credits are spent (for real it "
            f"costs {self.cost} credits)."
        )
        self.balance_label = QLabel("Balance: asking the service…")
        for label in (what, self.cost_label, self.balance_label):
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.PlainText)  # file names are user text
            layout.addWidget(label)
        self.balance_label.setVisible(balance is not None)
        buttons = QDialogButtonBox()
        cost = f" for {self.cost} credits" if balance is not None else ""
        self.rerun_button = QPushButton(f"Re-run{cost}")
        self.rerun_button.setAccessibleName("Re-run")
        self.rerun_button.setAutoDefault(False)  # Enter must not spend credits by accident
        self.cancel_button = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button.setDefault(True)
        buttons.addButton(self.rerun_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        if balance is not None:
            run_task(balance, self._on_balance, self._on_balance_error, owner=self)

    def balance_text(self) -> str:
        """The balance line as shown ("" in demo mode)."""
        return self.balance_label.text() if self.balance_label.isVisibleTo(self) else ""

    def _on_balance(self, balances: list[CreditBalance]) -> None:
        best = universal_balance(balances)
        if best is None:
            self.balance_label.setText("Balance: the service reported none.")
            return
        text = f"Balance: {format_credits(best.balance)} credits."
        if best.balance < self.cost:
            text += " That is not enough for a re-run: the service will refuse it (unbilled)."
        self.balance_label.setText(text)

    def _on_balance_error(self, exc: Exception) -> None:
        reason = exc.user_message if isinstance(exc, RefinerError) else type(exc).__name__
        log.info("balance unknown for the re-run dialog: %s", redact(str(exc)))
        self.balance_label.setText(f"Balance: unknown ({redact(reason)}).")


__all__ = ["REFINEMENT_COST", "BalanceQuery", "RerunDialog", "balance_query", "rerun_text"]
