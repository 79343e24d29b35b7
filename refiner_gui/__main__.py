"""``python -m refiner_gui`` opens the window."""

import sys

from refiner_gui.app import main

sys.exit(main())
