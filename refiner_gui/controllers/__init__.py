"""Controllers: QObjects without widgets that decide what runs and when.

Views draw and emit what the user asked for; controllers start and watch the work and
emit typed signals that any number of views (the window today, a batch queue next)
follow. See :mod:`refiner_gui.controllers.job_controller`.
"""

from refiner_gui.controllers.job_controller import JobController, JobRun, rerun_request

__all__ = ["JobController", "JobRun", "rerun_request"]
