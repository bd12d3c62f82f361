"""The local executor: runs uncommitted chunks in order, in this process.

An executor knows nothing about steps: it gets a list of chunk ids, a function that turns a
chunk id into tables, and a commit callback. The Ray executor will call the same function."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Generic, TypeVar

C = TypeVar("C")
R = TypeVar("R")


@dataclass
class LocalExecutor(Generic[C, R]):
    name: str = "local"

    def run(self, chunks: list[C], process: Callable[[C], R], commit: Callable[[C, R], None],
            on_progress: Callable[[C, R], None] | None = None) -> None:
        for chunk in chunks:
            result = process(chunk)
            commit(chunk, result)
            if on_progress:
                on_progress(chunk, result)
