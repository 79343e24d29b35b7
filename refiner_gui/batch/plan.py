"""The dry run of a batch: what will be sent, what fails pre-flight and why, the cost, and
whether the balance covers it. No Qt; reads the images' headers, sends nothing but the
credits query.

:func:`make_plan` runs pre-flight (:func:`refiner_gui.images.check_inputs`) on every look
whose row is fine, and offers Fix where it can cure the problems (:func:`fix_look` makes
conforming copies in the data folder, never touching the originals). :func:`check_balance`
asks ``query-credits``; :attr:`Plan.affordable` says whether the batch may start without
the user's say.

A look without a coarse image makes it first with the batch's try-on model (Try on
Clothes Pro or Premium, :attr:`Plan.tryon_model`): its pre-flight checks the person photo
and the garments only, and it costs the try-on plus the refinement (Pro 30 + 25 = 55,
Premium 50 + 25 = 75) where a look with its coarse image costs 25.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from refiner_gui.api.errors import RefinerError
from refiner_gui.batch.manifest import Look
from refiner_gui.images import ImageFixError, ImageReport, check_inputs, fix_image
from refiner_gui.images.formats import open_untrusted
from refiner_gui.jobs.two_stage import MODEL_NAMES, job_cost
from refiner_gui.slots import BOTTOM, COARSE, PERSON, SLOT_LABELS, TOP

__all__ = [
    "COST_PER_LOOK",
    "Plan",
    "PlannedLook",
    "check_balance",
    "fix_look",
    "look_cost",
    "make_plan",
]

COST_PER_LOOK = 25  # credits per successful refinement (contract, billing)


def look_cost(makes_coarse: bool, tryon_model: str) -> int:
    """Credits one look bills when it succeeds: 25 for a refinement; the try-on's price
    on top when the look makes its coarse image first (``tryon_model`` "pro" or
    "premium")."""
    return job_cost("tryon_refine", tryon_model) if makes_coarse else COST_PER_LOOK


@dataclass(frozen=True)
class PlannedLook:
    """One look after the dry run: sent when ``problems`` is empty."""

    look: Look
    problems: tuple[str, ...] = ()
    fixable: bool = False  # every pre-flight problem can be cured by Fix

    @property
    def sendable(self) -> bool:
        """True when the look will be sent."""
        return not self.problems


@dataclass
class Plan:
    """The dry run of a whole batch, in the source's order."""

    looks: list[PlannedLook] = field(default_factory=list)
    balance: float | None = None  # universal credits, once checked
    balance_error: str | None = None  # why the balance is unknown
    tryon_model: str = "pro"  # makes the coarse image of looks without one

    @property
    def sendable(self) -> list[PlannedLook]:
        """The looks that will be sent."""
        return [p for p in self.looks if p.sendable]

    @property
    def cost(self) -> int:
        """Credits the batch bills if every sent look succeeds (see :func:`look_cost`)."""
        return sum(self.cost_of(p) for p in self.sendable)

    def cost_of(self, planned: PlannedLook) -> int:
        """Credits one look bills when it succeeds."""
        return look_cost(planned.look.makes_coarse, self.tryon_model)

    def coarse_note(self, planned: PlannedLook) -> str:
        """How the look's coarse image comes: "" when it has one, else "coarse image:
        generated with Try on Clothes Pro" (or Premium)."""
        if not planned.look.makes_coarse:
            return ""
        return f"coarse image: generated with {MODEL_NAMES[self.tryon_model]}"

    @property
    def affordable(self) -> bool:
        """True when the balance is known and covers :attr:`cost`."""
        return self.balance is not None and self.balance >= self.cost

    def balance_line(self) -> str:
        """The cost against the balance, in words."""
        sent = len(self.sendable)
        line = f"{sent} look{'s' * (sent != 1)} to send, cost up to {self.cost} credits"
        if self.balance is None:
            return f"{line}; balance unknown ({self.balance_error or 'not checked'})"
        verdict = "enough" if self.affordable else "NOT enough"
        return f"{line}; balance {self.balance:g} credits ({verdict})"


def make_plan(
    looks: Sequence[Look],
    *,
    fix: bool = False,
    fixed_dir: Path | None = None,
    tryon_model: str = "pro",
) -> Plan:
    """Pre-flight every look whose row is fine; with ``fix`` (and ``fixed_dir``), cure what
    Fix can first. ``tryon_model`` ("pro" or "premium") makes the coarse image of the
    looks without one (and prices them). Runs on the calling thread (a worker: it reads
    every image header)."""
    if tryon_model not in MODEL_NAMES:
        raise ValueError(f"unknown try-on model {tryon_model!r}")
    plan = Plan(tryon_model=tryon_model)
    for look in looks:
        if not look.ok:
            plan.looks.append(PlannedLook(look, look.problems))
            continue
        planned = preflight(look)
        if fix and planned.problems and planned.fixable and fixed_dir is not None:
            try:
                planned = preflight(fix_look(look, fixed_dir))
            except (ImageFixError, OSError) as exc:
                planned = replace(planned, problems=(*planned.problems, f"Fix failed: {exc}"))
        plan.looks.append(planned)
    return plan


def preflight(look: Look) -> PlannedLook:
    """The look judged by the service's image rules (reads the files); a look that makes
    its coarse image is judged on the person photo and the garments only (the try-on's
    rules are the same, and the coarse image it makes is checked when it comes)."""
    reports = _reports(look.files)
    problems = tuple(
        f"{SLOT_LABELS.get(slot, slot)}: {p.message}"
        for slot, r in reports.items()
        for p in r.problems
    )
    fixable = bool(problems) and all(r.fixable for r in reports.values())
    return PlannedLook(look, problems, fixable)


def fix_look(look: Look, fixed_dir: Path) -> Look:
    """The look with conforming copies (in ``fixed_dir``) of the files Fix can cure; the
    coarse image is resized to the (fixed) person photo's size. Originals untouched.

    Raises:
        ImageFixError: a file could not be fixed.
    """
    fixed_dir.mkdir(parents=True, exist_ok=True)
    files = dict(look.files)
    reports = _reports(files)
    for slot, r in reports.items():
        if slot != COARSE and not r.ok and r.fixable:
            files[slot] = fix_image(r.path, fixed_dir, slot=slot)
    coarse = reports.get(COARSE)
    if coarse is not None and not coarse.ok and coarse.fixable:
        with open_untrusted(files[PERSON]) as im:
            target = im.size
        files[COARSE] = fix_image(coarse.path, fixed_dir, slot=COARSE, target_size=target)
    return replace(look, files=files)


def _reports(files: dict[str, Path]) -> dict[str, ImageReport]:
    """Pre-flight reports by slot; no coarse report when there is no coarse file."""
    f = files
    reports = check_inputs(f.get(PERSON), f.get(TOP), f.get(COARSE), f.get(BOTTOM))
    if COARSE not in f:
        reports.pop(COARSE, None)
    return reports


def check_balance(plan: Plan, credits: Callable[[], list[tuple[str, float]]]) -> Plan:
    """Fill in the plan's balance from ``credits()`` (``(unique_sign, balance)`` pairs, e.g.
    from :meth:`RefinerClient.credits`): the universal (``common``) credits, else the sum.
    A failure is kept as :attr:`Plan.balance_error`; nothing raises."""
    try:
        entries = credits()
    except RefinerError as err:
        plan.balance, plan.balance_error = None, err.user_message
        return plan
    common = [b for sign, b in entries if sign == "common"]
    plan.balance = common[0] if common else sum(b for _, b in entries)
    plan.balance_error = None
    return plan
