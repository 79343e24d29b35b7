"""PyInstaller entry script for the ``refiner-gui`` window app.

A launcher rather than ``refiner_gui/app.py`` itself: frozen, the entry script runs as
``__main__``, and pointing PyInstaller at app.py would load that module twice (as
``__main__`` and as ``refiner_gui.app``). This mirrors the ``[project.gui-scripts]`` wrapper
that pip writes for the installed app.
"""

import sys

from refiner_gui.app import main

if __name__ == "__main__":
    sys.exit(main())
