"""``refiner-gui --self-test`` passes in a clean child process (what CI runs on the bundle)."""

from __future__ import annotations

import os
import subprocess
import sys


def test_self_test_passes(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "REFINER_GUI_HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "refiner_gui", "--self-test"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "self-test passed" in proc.stdout
    assert "window + demo job" in proc.stdout
