"""Progress lines for long stages: done/total, rate, ETA and stage counters, at most one line
every `every_s` seconds (plus the first and the last), so a log never goes silent for minutes
and never floods. Plain lines, not a live bar: they survive redirection to files and Ray logs."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


@dataclass
class Progress:
    stage: str
    unit: str = "items"
    log: Callable[[str], None] = print
    every_s: float = 5.0
    clock: Callable[[], float] = time.monotonic
    total: int = 0
    done: int = 0
    counters: dict[str, int] = field(default_factory=dict)
    _start: float = 0.0
    _last: float = float("-inf")

    def start(self, total: int, note: str = "") -> None:
        self.total, self._start = total, self.clock()
        self.log(f"{self.stage}: {total} {self.unit} to do" + (f" ({note})" if note else ""))

    def advance(self, n: int = 1, **counters: int) -> None:
        self.done += n
        for key, value in counters.items():
            self.counters[key] = self.counters.get(key, 0) + value
        now = self.clock()
        if now - self._last >= self.every_s or self.done >= self.total:
            self._last = now
            self.log(self.line(now))

    def line(self, now: float | None = None) -> str:
        elapsed = max((now if now is not None else self.clock()) - self._start, 1e-9)
        rate = self.done / elapsed
        parts = [f"{self.stage}: {self.done}/{self.total} {self.unit}", f"{rate:.2f}/s"]
        parts += [f"{key} {value:,} ({value / elapsed:.1f}/s)" for key, value in self.counters.items()]
        parts.append(f"elapsed {_duration(elapsed)}")
        if self.done < self.total and rate > 0:
            parts.append(f"ETA {_duration((self.total - self.done) / rate)}")
        return " · ".join(parts)
