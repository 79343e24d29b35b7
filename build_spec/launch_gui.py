"""PyInstaller entry script for the ``refiner-gui`` window app.

A launcher rather than ``refiner_gui/app.py`` itself: frozen, the entry script runs as
``__main__``, and pointing PyInstaller at app.py would load that module twice (as
``__main__`` and as ``refiner_gui.app``). This mirrors the ``[project.gui-scripts]`` wrapper
that pip writes for the installed app.

Started with ``--batch-process``, the bundle is a window's batch process
(``refiner_gui/batch/child.py``): dispatched here, before the window's modules load.
"""

import sys

from refiner_gui.processes import BATCH_PROCESS_FLAG

if __name__ == "__main__":
    if sys.argv[1:2] == [BATCH_PROCESS_FLAG]:
        from refiner_gui.batch.child import main as run_batch_process

        sys.exit(run_batch_process())
    from refiner_gui.app import main

    sys.exit(main())
