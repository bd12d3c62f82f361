"""The executor protocol: what the run engine hands an executor, and all an executor may know.

The engine (pipelines/engine.py) cuts a run into chunks and owns committing them; an executor
only decides where and when each chunk's two stages run. It gets:

- `chunks`: objects with a `chunk_id` (picklable: they travel to workers);
- `work`: the chunk's stages, `generate(chunk) -> generated` and `verify(generated) -> result`
  (two stages, so generation can stay on GPU actors while CPUs verify), `close()`, and a
  `spec` (`WorkSpec`, defaults when absent) with what placement needs. A plain
  `process(chunk) -> result` callable is accepted too and runs as one stage;
- `commit(chunk, result)`: called in the driver, once per chunk, in whatever order chunks
  finish; an executor never commits a chunk twice, even when a retried task delivers it again.

Executors never read the run's config: what they need is in `WorkSpec`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol


@dataclass(frozen=True)
class WorkSpec:
    run_id: str = "run"  # labels metrics and logs
    tensor_parallel_size: int = 1  # GPUs one generation engine spans (a placement group when > 1)


class StagedWork(Protocol):
    spec: WorkSpec

    def generate(self, chunk: Any) -> Any: ...

    def verify(self, generated: Any) -> Any: ...

    def close(self) -> None: ...


class Executor(Protocol):
    name: str

    def run(self, chunks: list[Any], work: StagedWork | Callable[[Any], Any], commit: Callable[[Any, Any], None],
            on_progress: Callable[[Any, Any], None] | None = None) -> None: ...


def is_staged(work: Any) -> bool:
    return callable(getattr(work, "generate", None)) and callable(getattr(work, "verify", None))


def spec_of(work: Any) -> WorkSpec:
    """The work's spec; a plain callable has the defaults."""
    spec = getattr(work, "spec", None)
    return spec if isinstance(spec, WorkSpec) else WorkSpec()


def run_stages(work: Any, chunk: Any) -> Any:
    """One chunk through its stages, in this process."""
    return work.verify(work.generate(chunk)) if is_staged(work) else work(chunk)
