"""The run engine: chunk → generate → verify → commit, with each step in one place.

- **chunk**: the caller cuts the work into chunks with stable ids (`make_chunks`); the engine
  keeps the ones the run has not committed yet, so a rerun resumes;
- **generate, verify**: the executor (cluster/protocol.py) runs each chunk's two stages of the
  work (`ChunkProcessor`) wherever it likes: in this process, or on Ray's GPU and CPU actors;
- **commit**: here, in the driver, one manifest line per chunk, exactly once, as results come;
- **finish**: the work is closed (engines, verifier pools) and the run's small files compacted.

A result is anything with `tables: dict[str, pyarrow.Table]` (the chunk's problems, candidates,
verdicts). Executors never see the store, the config or the commit rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

from cluster.protocol import Executor
from factory.store import RunStore, compact


class ChunkLike(Protocol):
    chunk_id: str
    iteration: int
    domain: str


@dataclass
class RunEngine:
    store: RunStore
    executor: Executor

    def pending(self, chunks: list[ChunkLike]) -> list[ChunkLike]:
        committed = self.store.committed()
        return [c for c in chunks if c.chunk_id not in committed]

    def run(self, chunks: list[ChunkLike], work: Any,
            on_commit: Callable[[ChunkLike, Any], None] | None = None) -> None:
        """Run and commit `chunks` (already filtered by `pending`), then close and compact."""

        def commit(chunk: ChunkLike, result: Any) -> None:
            self.store.commit(chunk.chunk_id, chunk.iteration, chunk.domain, result.tables)
            if on_commit:
                on_commit(chunk, result)

        try:
            self.executor.run(chunks, work, commit)
        finally:
            close = getattr(work, "close", None)
            if close:
                close()
        compact(self.store)  # the run's small chunk files → a few large ones (readers stay fast)
