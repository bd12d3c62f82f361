"""The local executor: runs the chunks in order, in this process (see cluster/protocol.py for
what an executor gets and may know)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Generic, TypeVar

from cluster.protocol import StagedWork, run_stages

C = TypeVar("C")
R = TypeVar("R")


@dataclass
class LocalExecutor(Generic[C, R]):
    name: str = "local"

    def run(self, chunks: list[C], work: StagedWork | Callable[[C], R], commit: Callable[[C, R], None],
            on_progress: Callable[[C, R], None] | None = None) -> None:
        for chunk in chunks:
            result: Any = run_stages(work, chunk)
            commit(chunk, result)
            if on_progress:
                on_progress(chunk, result)
