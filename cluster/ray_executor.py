"""The Ray executor: the local executor's contract (chunks in, `commit(chunk, result)` out) on a
Ray cluster, built on Ray Data.

    chunks ─ from_items ─> GenerateStage actors ─> VerifyStage actors ─> driver: commit per chunk
             (1 chunk/block)  (GPU or TP group each)   (CPU, sized to the cluster)   (streaming)

Why Ray Data rather than hand-rolled actor queues: its streaming executor already pipelines the
two stages (generation never waits for verification while the object-store budget between them
has room), backpressures on bytes, restarts dead actors and retries their tasks
(max_restarts/max_task_retries = -1 for actor pools), autoscales pools on a real cluster and
shows per-stage progress in the dashboard's Data view. Why not `ray.data.llm`'s vLLM processor:
it renders prompts and builds sampling params itself and returns text rows, so it would fork
our generation path (chat rendering, per-problem seeds, candidate ids, hinted STaR prompts, the
scripted/openai backends) and the Ray outputs would no longer be the local outputs. Each
generation actor instead owns one `ChunkProcessor`, whose vllm backend is the same code as local.

Exactly once: the driver is the only writer and commits whole chunks through `RunStore`, whose
manifest keys chunk ids. A chunk Ray delivers twice is dropped; a failure that Ray Data gives
up on (an actor killed for good, a node lost) ends the attempt, and the executor reruns only
the chunks not yet committed (`max_retries` times), so a crash loses at most what was in flight.

Bounded: generation takes a ticket from an `InFlightGate` actor before each chunk and the driver
returns it on commit, so at most `max_chunks_in_flight` chunks are between the two (Ray Data
alone bounds only object-store bytes)."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

from cluster.protocol import is_staged, spec_of
from cluster.ray_stages import (GenerateStage, InFlightGate, TensorParallelPlacement, VerifyStage, WholeChunkStage,
                                dumps, loads)
from factory.errors import ConfigError, FactoryError, require

log = logging.getLogger(__name__)


@dataclass
class RayRunStats:
    """What one `run` did, for benchmarks and tests (GPU-side idle time, in-flight bound)."""

    attempts: int = 0
    committed: int = 0
    duplicates_dropped: int = 0
    failures: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    started_at: float = field(default_factory=time.time)
    first_commit_s: float | None = None
    busy_s: dict[str, float] = field(default_factory=dict)  # generation worker → seconds generating
    span: dict[str, list[float]] = field(default_factory=dict)  # worker → [first start, last end]
    gpu_ids: dict[str, str] = field(default_factory=dict)
    events: list[tuple[float, int]] = field(default_factory=list, repr=False)  # (time, +1 gen start / -1 commit)
    gate_peak: int = 0  # most chunks holding a generation ticket at once (≤ max_chunks_in_flight)

    def record(self, row: dict[str, Any], committed_at: float) -> None:
        worker, start, end = row["worker"], float(row["gen_start"]), float(row["gen_end"])
        self.busy_s[worker] = self.busy_s.get(worker, 0.0) + (end - start)
        first, last = self.span.get(worker, [start, end])
        self.span[worker] = [min(first, start), max(last, end)]
        self.gpu_ids[worker] = row.get("gpu_ids") or ""
        self.events += [(start, 1), (committed_at, -1)]

    @property
    def gen_idle_fraction(self) -> float:
        """Share of each generation worker's active span (first batch start → last batch end,
        so engine loading is excluded) it spent not generating, pooled over workers."""
        span = sum(last - first for first, last in self.span.values())
        return 1.0 - sum(self.busy_s.values()) / span if span > 0 else 0.0

    @property
    def startup_s(self) -> float | None:
        """From `run` to the first chunk starting to generate: connecting, actor start, engine load."""
        firsts = [first for first, _ in self.span.values()]
        return min(firsts) - self.started_at if firsts else None

    @property
    def max_in_flight(self) -> int:
        """Most chunks between the start of their generation and their commit at one time."""
        level = peak = 0
        for _, delta in sorted(self.events, key=lambda e: (e[0], e[1])):  # commits before starts at ties
            level += delta
            peak = max(peak, level)
        return peak


RETRYABLE_NAMES = ("RayActorError", "WorkerCrashedError", "ObjectLostError", "NodeDiedError", "OwnerDiedError",
                   "ActorUnavailableError", "RaySystemError", "LocalRayletDiedError")


def is_retryable(exc: BaseException) -> bool:
    """Infrastructure failures (a dead actor, worker, node or object) are retried; errors raised by
    our own code (a bad model path, a bug) are not: a rerun would fail the same way."""
    import ray.exceptions as rex

    kinds = tuple(getattr(rex, name) for name in RETRYABLE_NAMES if hasattr(rex, name))
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, kinds):
            return True
        if isinstance(exc, FactoryError):
            return False
        exc = exc.__cause__ or exc.__context__
    return False


def user_error(exc: BaseException) -> FactoryError | None:
    """The FactoryError a worker raised, if that is what failed (so the CLI prints one line)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, FactoryError):
            return FactoryError(str(exc).splitlines()[-1] if "\n" in str(exc) else str(exc))
        exc = getattr(exc, "cause", None) or exc.__cause__ or exc.__context__
    return None


@dataclass
class RayExecutor:
    """Options come from `[run.executor_options]` (validated by name and type)."""

    address: str | None = None  # None: the Ray this process is already in, else RAY_ADDRESS, else start one
    generation_replicas: int = 1  # engines (actors) running generation
    num_gpus: float = 0.0  # GPUs per replica; 0 on a CPU-only cluster
    num_cpus_per_replica: float = 1.0
    tensor_parallel_size: int | None = None  # None: generation.options.tensor_parallel_size (default 1)
    verify_workers: int | None = None  # None: the cluster's CPUs not taken by generation (≥ 1)
    max_tasks_in_flight_per_actor: int = 2  # 2: the next chunk is queued while one runs, so a GPU never waits for input
    # chunks between starting generation and their commit; None: 8 per actor; 0: no count bound
    # (object-store bytes only; saves a ticket round trip per chunk, which shows with a fast generator)
    max_chunks_in_flight: int | None = None
    memory_budget_gib: float | None = None  # object-store bytes Ray Data may hold for this run (and the local object store)
    num_cpus: int | None = None  # CPUs of a Ray this executor starts itself
    max_retries: int = 3  # reruns of the uncommitted chunks after infrastructure failures
    runtime_env: dict[str, Any] = field(default_factory=dict)  # for ray.init when connecting to a remote cluster
    metrics: bool = True  # ray.util.metrics for the dashboard
    stats: RayRunStats = field(default_factory=RayRunStats, init=False, repr=False)
    name: ClassVar[str] = "ray"

    def __post_init__(self) -> None:
        for key in ("generation_replicas", "max_tasks_in_flight_per_actor"):
            if getattr(self, key) < 1:
                raise ConfigError(f"run.executor_options.{key}: must be ≥ 1")
        if self.num_gpus < 0 or self.num_cpus_per_replica < 0 or self.max_retries < 0:
            raise ConfigError("run.executor_options: num_gpus, num_cpus_per_replica and max_retries must be ≥ 0")
        if self.max_chunks_in_flight is not None and self.max_chunks_in_flight < 0:
            raise ConfigError("run.executor_options.max_chunks_in_flight: must be ≥ 0 (0: no count bound)")
        if self.verify_workers is not None and self.verify_workers < 1:
            raise ConfigError("run.executor_options.verify_workers: must be ≥ 1")
        if self.memory_budget_gib is not None and self.memory_budget_gib <= 0:
            raise ConfigError("run.executor_options.memory_budget_gib: must be > 0")

    # ---- public contract ------------------------------------------------------------------
    def run(self, chunks: list[Any], process: Callable[[Any], Any], commit: Callable[[Any, Any], None],
            on_progress: Callable[[Any, Any], None] | None = None) -> None:
        ray = require("ray", "ray")
        self.stats = RayRunStats()
        started = time.perf_counter()
        owns = self._connect(ray)
        metrics = _make_metrics(process) if self.metrics else None
        placement = self._placement(process)
        cap = self._chunk_cap(ray)
        gate = ray.remote(num_cpus=0)(InFlightGate).remote(cap) if cap else None
        try:
            done: set[str] = set()
            for attempt in range(self.max_retries + 1):
                todo = [c for c in chunks if c.chunk_id not in done]
                if not todo:
                    break
                self.stats.attempts += 1
                if gate is not None:
                    ray.get(gate.reset.remote())  # tickets of chunks lost with a dead actor
                try:
                    self._run_once(ray, todo, process, placement, gate, done, commit, on_progress, metrics, started)
                except Exception as exc:  # noqa: BLE001  (sorted into retry / user error / re-raise below)
                    if (err := user_error(exc)) is not None:
                        raise err from None
                    if not is_retryable(exc) or attempt == self.max_retries:
                        raise
                    self.stats.failures.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
                    log.warning("Ray attempt %d failed (%s); rerunning the %d uncommitted chunks", attempt + 1,
                                type(exc).__name__, len(chunks) - len(done))
                    if metrics:
                        metrics.retries.inc()
            missing = [c.chunk_id for c in chunks if c.chunk_id not in done]
            if missing:
                raise FactoryError(f"Ray run ended with {len(missing)} chunks uncommitted (first: {missing[0]})")
        finally:
            self.stats.wall_s = time.perf_counter() - started
            if gate is not None:
                self.stats.gate_peak = _gate_peak(ray, gate)
                ray.kill(gate)
            if placement is not None:
                placement.remove_all()
            if owns:
                ray.shutdown()

    # ---- one attempt ----------------------------------------------------------------------
    def _run_once(self, ray: Any, todo: list[Any], process: Any, placement: TensorParallelPlacement | None,
                  gate: Any, done: set[str], commit: Callable, on_progress: Callable | None, metrics: Any,
                  started: float) -> None:
        by_id = {c.chunk_id: c for c in todo}
        with _quiet_data_context(ray, self.memory_budget_gib):
            ds = self._pipeline(ray, todo, process, placement, gate)
            for row in _rows(ds):
                chunk_id = row["chunk_id"]
                if chunk_id in done:  # a retried task delivered a chunk again: never commit twice
                    self.stats.duplicates_dropped += 1
                    if gate is not None:
                        gate.release.remote(chunk_id)
                    continue
                chunk, result = by_id[chunk_id], loads(row["payload"])
                commit(chunk, result)
                if gate is not None:
                    gate.release.remote(chunk_id)
                done.add(chunk_id)
                now = time.time()
                self.stats.committed += 1
                self.stats.record(row, now)
                if self.stats.first_commit_s is None:
                    self.stats.first_commit_s = time.perf_counter() - started
                if metrics:
                    metrics.record(chunk, result, float(row.get("verify_s") or 0.0))
                if on_progress:
                    on_progress(chunk, result)

    def _pipeline(self, ray: Any, todo: list[Any], process: Any, placement: TensorParallelPlacement | None,
                  gate: Any) -> Any:
        # One chunk per block: Ray Data hands a map task whole blocks, so this is what makes a
        # chunk reach the driver (and its shard) as soon as it is verified.
        rows = [{"chunk_id": c.chunk_id, "payload": dumps(c)} for c in todo]
        ds = ray.data.from_items(rows, override_num_blocks=len(rows))
        blob = dumps(process)
        pool = dict(batch_size=1, zero_copy_batch=False)
        if not is_staged(process):
            return ds.map_batches(WholeChunkStage, fn_constructor_args=(blob, gate), num_cpus=self.num_cpus_per_replica,
                                  num_gpus=self.num_gpus, compute=self._actors(self.generation_replicas), **pool)
        gen_args: dict[str, Any] = dict(num_cpus=self.num_cpus_per_replica, num_gpus=self.num_gpus)
        if placement is not None:  # the actor holds no GPU itself: its vLLM workers take the group's
            gen_args = dict(num_cpus=0, num_gpus=0, ray_remote_args_fn=placement)
        ds = ds.map_batches(GenerateStage, fn_constructor_args=(blob, gate), compute=self._actors(self.generation_replicas),
                            **gen_args, **pool)
        return ds.map_batches(VerifyStage, fn_constructor_args=(blob,), num_cpus=1,
                              compute=self._actors(self._verify_workers(ray)), **pool)

    def _chunk_cap(self, ray: Any) -> int:
        if self.max_chunks_in_flight is not None:
            return self.max_chunks_in_flight
        return 8 * (self.generation_replicas + self._verify_workers(ray))

    def _actors(self, size: int) -> Any:
        from ray.data import ActorPoolStrategy

        return ActorPoolStrategy(size=size, max_tasks_in_flight_per_actor=self.max_tasks_in_flight_per_actor)

    def _verify_workers(self, ray: Any) -> int:
        if self.verify_workers is not None:
            return self.verify_workers
        cpus = ray.cluster_resources().get("CPU", 1.0)
        gen = 0.0 if self.tensor_parallel_size and self.tensor_parallel_size > 1 else self.num_cpus_per_replica
        return max(1, int(cpus - self.generation_replicas * gen))

    def _placement(self, process: Any) -> TensorParallelPlacement | None:
        configured = spec_of(process).tensor_parallel_size
        tp = self.tensor_parallel_size or configured
        if self.tensor_parallel_size and self.tensor_parallel_size != configured:
            raise ConfigError(f"run.executor_options.tensor_parallel_size = {tp} but the engine is configured with "
                              f"generation.options.tensor_parallel_size = {configured}; set them equal")
        if tp > 1 and self.num_gpus not in (0, tp):
            raise ConfigError(f"run.executor_options.num_gpus = {self.num_gpus}: a tensor-parallel replica takes "
                              f"{tp} GPUs (one per placement-group bundle); leave num_gpus at 0 or {tp}")
        return TensorParallelPlacement(tp, self.num_cpus_per_replica) if tp > 1 else None

    def _connect(self, ray: Any) -> bool:
        """Returns True when this executor called ray.init (and so must shut it down)."""
        if ray.is_initialized():
            return False
        kwargs: dict[str, Any] = dict(log_to_driver=False, runtime_env=self.runtime_env or None)
        if self.address or os.environ.get("RAY_ADDRESS"):
            ray.init(address=self.address, **kwargs)
            return True
        budget = int(self.memory_budget_gib * 2**30) if self.memory_budget_gib else None
        # A private local Ray on loopback only (Ray listens on every interface otherwise).
        ray.init(num_cpus=self.num_cpus, include_dashboard=False, _node_ip_address="127.0.0.1",
                 object_store_memory=budget, **kwargs)
        return True


class _quiet_data_context:
    """Per-run Ray Data settings, restored afterwards: no Ray progress bars (the CLI draws one
    from commits), no per-dataset INFO lines, and the object-store budget."""

    def __init__(self, ray: Any, budget_gib: float | None) -> None:
        self.ctx = ray.data.DataContext.get_current()
        self.budget = int(budget_gib * 2**30) if budget_gib else None
        self.saved: dict[str, Any] = {}

    def __enter__(self) -> None:
        self.saved = {"enable_progress_bars": self.ctx.enable_progress_bars,
                      "limits": self.ctx.execution_options.resource_limits,
                      "level": logging.getLogger("ray.data").level}
        self.ctx.enable_progress_bars = False
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        if self.budget:
            limits = self.ctx.execution_options.resource_limits
            self.ctx.execution_options.resource_limits = limits.copy(object_store_memory=self.budget)

    def __exit__(self, *exc: Any) -> None:
        self.ctx.enable_progress_bars = self.saved["enable_progress_bars"]
        self.ctx.execution_options.resource_limits = self.saved["limits"]
        logging.getLogger("ray.data").setLevel(self.saved["level"])


def _rows(ds: Any) -> Any:
    """Rows as each block arrives. No prefetching: `iter_rows` holds a block back until the next
    one is ready, which would deadlock a pipeline allowed a single chunk in flight."""
    for batch in ds.iter_batches(batch_size=None, prefetch_batches=0, batch_format="pyarrow"):
        yield from batch.to_pylist()


def _gate_peak(ray: Any, gate: Any) -> int:
    try:
        return ray.get(gate.peak.remote(), timeout=10)
    except Exception:  # noqa: BLE001  (statistics only; the run's outcome is decided above)
        return 0


def _make_metrics(process: Any) -> Any:
    from cluster.metrics import RunMetrics

    return RunMetrics(spec_of(process).run_id)


def make_ray_executor(**options: Any) -> RayExecutor:
    """Registered as executor "ray": validates `[run.executor_options]` by key and type."""
    from factory.config import build

    return build(RayExecutor, options, "run.executor_options")
