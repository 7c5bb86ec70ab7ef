"""Calling sheetloop's worksheet functions the way xlwings' Excel add-in does, without Excel.

xlwings decides at import time what ``@xw.func`` does: on Linux it is a no-op unless
``XLWINGS_ON_SERVER=true`` and ``XLWINGS_LICENSE_KEY`` are set *before* the first
``import xlwings``; then the decorators attach ``__xlfunc__`` metadata and
``xlwings.server.custom_functions_call`` runs a function from the JSON payload an Excel
client sends. A module imported once stays imported, so the test process never switches
modes: :class:`UdfWorker` starts one fresh Python process with those variables set, imports
the module there and answers requests over a pipe (one JSON line each way). The
non-commercial key is for these tests only; sheetloop itself never needs it.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

MODULE = "sheetloop.addin.udfs"
SERVER_ENV = {"XLWINGS_ON_SERVER": "true", "XLWINGS_LICENSE_KEY": "noncommercial"}
TESTS = Path(__file__).resolve().parents[1]


def as_range(value: Any) -> list[list[Any]] | None:
    """An argument as Excel's client sends it: every argument a 2-D list of cell values
    (one cell is ``[[v]]``, a row ``[[a, b]]``); ``None`` for an omitted argument."""
    if value is None:
        return None
    if not isinstance(value, list):
        return [[value]]
    if value and not isinstance(value[0], list):
        return [value]
    return value


class UdfWorker:
    """A Python process with xlwings in server mode and the UDF module imported."""

    def __init__(self, module: str = MODULE, timeout: float = 120.0) -> None:
        env = {**os.environ, **SERVER_ENV}
        self.timeout = timeout
        # The worker's standard error, kept for the lifetime of the worker (see close()).
        self._log = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"import sys; sys.path.insert(0, {str(TESTS)!r}); "
                "from support.xlwings_udfs import serve; serve()",
                module,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            text=True,
            encoding="utf-8",
        )
        self.ready = self._request({"op": "ping"})

    def call(self, func_name: str, *args: Any) -> Any:
        """The cell values ``custom_functions_call`` returns for this call; each argument
        is given as Python values and sent through :func:`as_range`."""
        return self._request({"op": "call", "func": func_name, "args": [as_range(a) for a in args]})

    def metadata(self) -> dict[str, Any]:
        """``__xlfunc__`` of every decorated function, by name (types by their names)."""
        result: dict[str, Any] = self._request({"op": "metadata"})
        return result

    def manifest(self) -> dict[str, Any]:
        """What ``custom_functions_meta`` makes of the module (the Office.js manifest)."""
        result: dict[str, Any] = self._request({"op": "manifest"})
        return result

    def close(self) -> None:
        if self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._log.close()

    def __enter__(self) -> UdfWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, message: dict[str, Any]) -> Any:
        proc = self._proc
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(json.dumps(message) + "\n")
            proc.stdin.flush()
        except BrokenPipeError as exc:
            raise RuntimeError(f"the UDF worker died:\n{self._stderr()}") from exc
        readable, _, _ = select.select([proc.stdout], [], [], self.timeout)
        if not readable:
            raise TimeoutError(f"the UDF worker gave no answer in {self.timeout} s")
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the UDF worker died:\n{self._stderr()}")
        answer = json.loads(line)
        if not answer["ok"]:
            raise RuntimeError(f"the UDF worker failed:\n{answer['error']}")
        return answer["result"]

    def _stderr(self) -> str:
        self._log.seek(0)
        return self._log.read()[-5000:]


def _name(value: object) -> str:
    return str(getattr(value, "__name__", None) or repr(value))


def serve() -> None:
    """The worker's loop (runs in the child process)."""
    import asyncio
    import importlib

    # Answers go to the real standard output; anything else printing there (a solver's
    # banner) goes to standard error instead.
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    import xlwings
    from xlwings.server import custom_functions_call, custom_functions_meta

    module = importlib.import_module(sys.argv[1])

    def handle(message: dict[str, Any]) -> Any:
        op = message["op"]
        if op == "ping":
            return {"on_server": bool(xlwings.on_server)}
        if op == "metadata":
            found = {}
            for name in dir(module):
                info = getattr(getattr(module, name), "__xlfunc__", None)
                if info is not None:
                    found[name] = {k: v for k, v in info.items() if k != "argmap"}
            return json.loads(json.dumps(found, default=_name))
        if op == "manifest":
            return json.loads(json.dumps(custom_functions_meta(module), default=_name))
        payload = {
            "func_name": message["func"],
            "args": message["args"],
            "caller_address": "Sheet1!A1",
            "formula_name": message["func"].upper(),
            "version": xlwings.__version__,
            "client": "Office.js",
            "runtime": "1.4",
            "culture_info_name": "en-US",
            "date_format": "M/d/yyyy",
        }
        return asyncio.run(custom_functions_call(payload, module))

    for line in sys.stdin:
        try:
            answer = {"ok": True, "result": handle(json.loads(line))}
        except Exception:
            answer = {"ok": False, "error": traceback.format_exc()}
        answers.write(json.dumps(answer, default=_name) + "\n")
