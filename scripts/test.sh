#!/usr/bin/env bash
# Set up everything the tests need (.venv, Python packages, LibreOffice when root) and run
# lint, type checks and the whole test suite. Arguments go to pytest.
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
cd "$ROOT"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "$ROOT[test,tryton]"
rm -rf "$ROOT/build"  # setuptools' in-tree build folder: not ours to lint

# LibreOffice (a second spreadsheet program) checks what sheetloop writes.
if ! command -v soffice >/dev/null && [ ! -x /usr/lib/libreoffice/program/soffice ]; then
    apt_install libreoffice-calc-nogui poppler-utils || true
fi

echo "== ruff"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .

echo "== mypy"
# The repository root is the `sheetloop` package: give mypy that name through a link.
MYPY_ROOT="$(mktemp -d)"
trap 'rm -rf "$MYPY_ROOT"' EXIT
ln -s "$ROOT" "$MYPY_ROOT/sheetloop"
(cd "$MYPY_ROOT" && "$VENV/bin/mypy" --config-file "$ROOT/pyproject.toml" -p sheetloop)

echo "== pytest"
"$VENV/bin/python" -m pytest "$@"
