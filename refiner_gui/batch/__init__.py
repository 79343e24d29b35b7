"""Batch refinement: a queue of many looks, from a folder or a CSV manifest. No Qt.

- :mod:`.manifest` reads the looks (one row per look, each with its own problems);
- :mod:`.plan` is the dry run: pre-flight, Fix, cost and the balance check;
- :mod:`.queue` runs a stored batch with bounded concurrency, each look a durable job;
- :mod:`.looks` derives each look's status; :mod:`.results` writes the output folder.

Rate limits shared by every client of the app live in :mod:`refiner_gui.api.limits`.
"""

from refiner_gui.batch.looks import Counts, LookStatus, LookView
from refiner_gui.batch.manifest import Look, ManifestError, read_source
from refiner_gui.batch.plan import (
    COST_PER_LOOK,
    Plan,
    PlannedLook,
    check_balance,
    look_cost,
    make_plan,
)
from refiner_gui.batch.queue import DEFAULT_CONCURRENCY, MAX_CONCURRENCY, BatchEvent, BatchQueue

__all__ = [
    "COST_PER_LOOK",
    "DEFAULT_CONCURRENCY",
    "MAX_CONCURRENCY",
    "BatchEvent",
    "BatchQueue",
    "Counts",
    "Look",
    "LookStatus",
    "LookView",
    "ManifestError",
    "Plan",
    "PlannedLook",
    "check_balance",
    "look_cost",
    "make_plan",
    "read_source",
]
