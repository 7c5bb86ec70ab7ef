#!/usr/bin/env bash
# Shared set-up for scripts/demo.sh and scripts/test.sh: a virtual environment in .venv
# with sheetloop installed from this checkout (a real wheel install, not an editable one,
# so what runs is what users get). Sourced, not run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SHEETLOOP_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"

as_root() { [ "$(id -u)" = 0 ]; }

apt_install() {
    # Debian packages, only when we may install them; otherwise say what is missing.
    if as_root && command -v apt-get >/dev/null; then
        if [ -z "${_APT_UPDATED:-}" ]; then
            apt-get update -qq >/dev/null 2>&1 || true
            _APT_UPDATED=1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
    else
        echo "note: please install the packages $* (not root, so not installed here)" >&2
        return 1
    fi
}

"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "sheetloop needs Python 3.11 or newer ($PY is $("$PY" --version 2>&1))" >&2; exit 2; }

if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV" 2>/dev/null || { apt_install python3-venv && "$PY" -m venv "$VENV"; }
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
