#!/usr/bin/env bash
# Set up sheetloop in .venv and write the demo company's workbook.
# Usage: scripts/demo.sh [DIR] [--items N] ...   (arguments go to `sheetloop demo`)
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "$ROOT"
rm -rf "$ROOT/build"
exec "$VENV/bin/sheetloop" demo "$@"
