"""Shared test setup: makes ``tests/support`` importable as the ``support`` package.

Tests run with ``--import-mode=importlib``, which does not put test directories on
``sys.path``; this lets any test file write ``from support.ooxml import ...``.
"""

from __future__ import annotations

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
