"""Time the steps of a command run in this process, for the benchmarks' breakdowns.

A step is a function named "module:attribute" (dotted attributes for methods). It is
wrapped where its callers look it up, so a function imported by name into another
module is wrapped there; steps the code no longer has are skipped.
"""

from __future__ import annotations

import functools
import importlib
import resource
import sys
import time
from collections.abc import Callable, Sequence
from typing import TextIO

#: (label, depth of indentation, places where the step is looked up)
Step = tuple[str, int, Sequence[str]]


class StepTimer:
    """Inclusive time per step, and the process's peak memory when each step ended."""

    def __init__(self, steps: Sequence[Step]) -> None:
        self.steps = steps
        self.spent: dict[str, float] = {}
        self.peak: dict[str, float] = {}

    def install(self) -> None:
        """Wrap every step that exists."""
        for label, _, places in self.steps:
            for place in places:
                module_name, dotted = place.split(":")
                owner: object = importlib.import_module(module_name)
                *path, name = dotted.split(".")
                for part in path:
                    owner = getattr(owner, part)
                if hasattr(owner, name):
                    setattr(owner, name, self._timed(label, getattr(owner, name)))

    def _timed(self, label: str, inner: Callable[..., object]) -> Callable[..., object]:
        @functools.wraps(inner)
        def timed_step(*args: object, **kwargs: object) -> object:
            started = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.spent[label] = self.spent.get(label, 0.0) + time.perf_counter() - started
                rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                self.peak[label] = rss / 1024**2  # kilobytes on Linux

        return timed_step

    def report(self, out: TextIO = sys.stdout, *, memory: bool = True) -> None:
        """One line per step that ran, nested steps indented."""
        for label, depth, _ in self.steps:
            if label in self.spent:
                name = "  " * depth + label
                line = f"{name:48} {self.spent[label]:8.2f} s"
                if memory:
                    line += f"   peak so far {self.peak[label]:5.2f} GB"
                print(line, file=out)
