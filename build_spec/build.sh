#!/usr/bin/env bash
# Build the refiner-gui bundle with PyInstaller into the current Python environment.
#
#   build_spec/build.sh                       one folder: dist/refiner-gui/refiner-gui
#   REFINER_ONEFILE=1 build_spec/build.sh     one file:   dist/refiner-gui
#
# REFINER_DIST_DIR / REFINER_WORK_DIR move the output and PyInstaller's work folder
# (default dist/ and build/pyinstaller/, both git-ignored; relative paths are taken from
# the repository root). PYTHON picks the interpreter (default: python).
set -euo pipefail
cd "$(dirname "$0")/.."

py="${PYTHON:-python}"
dist="${REFINER_DIST_DIR:-dist}"
work="${REFINER_WORK_DIR:-build/pyinstaller}"

start=$SECONDS
# The project itself is installed, not just PyInstaller: the spec bundles the installed
# package (where resources/ is the package refiner_gui.resources) and its dist-info, from
# which the frozen app reads its version.
"$py" -m pip install ".[build]"
installed=$SECONDS
# --clean: no stale cache from an earlier build can leak into this one.
"$py" -m PyInstaller --noconfirm --clean --distpath "$dist" --workpath "$work" \
    build_spec/refiner-gui.spec
done_at=$SECONDS

echo "bundle: $dist/refiner-gui ($(du -sh "$dist/refiner-gui" | cut -f1))"
echo "time: install $((installed - start)) s, PyInstaller $((done_at - installed)) s," \
     "total $((done_at - start)) s"
