"""The two Ray Data stages of a sampling run: generation actors (one engine each) and
verification actors (CPU). Each row of the dataset is one chunk, carried as a pickled payload,
so a stage calls exactly the per-chunk functions the local executor calls
(`ChunkProcessor.generate` / `.verify`) and the outputs are the same rows.

This module imports ray only inside functions: the stage classes themselves are plain Python,
so they are picklable and testable without a cluster."""

from __future__ import annotations

import os
import pickle
import socket
import time
from typing import Any

PROTOCOL = 5  # out-of-band buffers: Arrow tables in a result pickle without an extra copy


def dumps(obj: Any) -> bytes:
    return pickle.dumps(obj, protocol=PROTOCOL)


def loads(blob: Any) -> Any:
    return pickle.loads(bytes(blob))


def worker_info() -> dict[str, Any]:
    """Who ran a batch: the key for per-actor GPU-side idle time, and the GPUs Ray assigned."""
    import ray

    ctx = ray.get_runtime_context()
    return {"worker": f"{socket.gethostname()}:{os.getpid()}", "actor_id": ctx.get_actor_id() or "",
            "gpu_ids": [str(g) for g in ray.get_gpu_ids()]}


def assigned_cpus() -> int:
    import ray

    return max(1, int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1)))


def _column(batch: dict[str, Any], name: str) -> list[Any]:
    return list(batch[name])


class InFlightGate:
    """A Ray actor handing out one ticket per chunk: generation takes a ticket before it starts
    a chunk, the driver returns it when the chunk is committed, so at most `cap` chunks are ever
    between the two. (Ray Data backpressures by object-store bytes only: with small chunks and a
    fast generator, hundreds piled up before the driver. Its backpressure-policy hook is internal
    and its liveness rule dispatches past a policy whenever the pipeline looks idle, so the bound
    is enforced here, where generation starts.) Async, so waiting acquirers never block release."""

    def __init__(self, cap: int) -> None:
        self.cap, self.held, self.most = cap, set(), 0
        self._cond: Any = None

    def _condition(self) -> Any:
        import asyncio

        if self._cond is None:  # made inside the actor's event loop
            self._cond = asyncio.Condition()
        return self._cond

    async def acquire(self, chunk_id: str) -> None:
        cond = self._condition()
        async with cond:
            await cond.wait_for(lambda: chunk_id in self.held or len(self.held) < self.cap)
            self.held.add(chunk_id)
            self.most = max(self.most, len(self.held))

    async def release(self, chunk_id: str) -> None:
        cond = self._condition()
        async with cond:
            self.held.discard(chunk_id)
            cond.notify_all()

    async def reset(self) -> None:
        cond = self._condition()
        async with cond:
            self.held.clear()
            cond.notify_all()

    async def peak(self) -> int:
        return self.most


def _take_ticket(gate: Any, chunk_id: str) -> None:
    if gate is not None:
        import ray

        ray.get(gate.acquire.remote(chunk_id))


class GenerateStage:
    """Owns one generation engine for the actor's lifetime (built lazily by the processor on its
    first chunk, in this process, so the GPU the actor was given is the one it uses)."""

    def __init__(self, processor_blob: bytes, gate: Any = None) -> None:
        self.processor = loads(processor_blob)
        self.gate = gate
        self.info: dict[str, Any] | None = None

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        if self.info is None:
            self.info = worker_info()
        out: dict[str, list[Any]] = {k: [] for k in ("chunk_id", "payload", "gen_start", "gen_end", "worker",
                                                     "gpu_ids")}
        for chunk_id, payload in zip(_column(batch, "chunk_id"), _column(batch, "payload")):
            chunk = loads(payload)
            _take_ticket(self.gate, chunk_id)
            start = time.time()
            generated = self.processor.generate(chunk)
            out["gen_end"].append(time.time())
            out["gen_start"].append(start)
            out["chunk_id"].append(chunk_id)
            out["payload"].append(dumps(generated))
            out["worker"].append(self.info["worker"])
            out["gpu_ids"].append(",".join(self.info["gpu_ids"]))
        return out

    def __del__(self) -> None:  # Ray Data drops the UDF on graceful actor exit: free the engine
        processor = getattr(self, "processor", None)
        if processor is not None:
            processor.close()


class VerifyStage:
    """Verifies generated chunks on a CPU actor; verifier pools live as long as the actor."""

    def __init__(self, processor_blob: bytes) -> None:
        self.processor = loads(processor_blob)
        # Verifier pools (the code sandbox) size themselves to this actor's CPUs, not the node's,
        # so N verification actors on a node run N x their share and never oversubscribe it.
        os.environ.setdefault("FACTORY_VERIFY_CPUS", str(assigned_cpus()))

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        payloads = []
        verify_s = []
        for payload in _column(batch, "payload"):
            generated = loads(payload)
            start = time.perf_counter()
            result = self.processor.verify(generated)
            verify_s.append(time.perf_counter() - start)
            payloads.append(dumps(result))
        passthrough = ("chunk_id", "gen_start", "gen_end", "worker", "gpu_ids")
        return {**{k: _column(batch, k) for k in passthrough}, "payload": payloads, "verify_s": verify_s}

    def __del__(self) -> None:
        processor = getattr(self, "processor", None)
        if processor is not None:
            processor.close()


class WholeChunkStage:
    """For a plain `process(chunk)` callable that has no separate generate/verify stages."""

    def __init__(self, process_blob: bytes, gate: Any = None) -> None:
        self.process = loads(process_blob)
        self.gate = gate

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        info = worker_info()
        out: dict[str, list[Any]] = {k: [] for k in ("chunk_id", "payload", "gen_start", "gen_end", "worker",
                                                     "gpu_ids", "verify_s")}
        for chunk_id, payload in zip(_column(batch, "chunk_id"), _column(batch, "payload")):
            _take_ticket(self.gate, chunk_id)
            start = time.time()
            result = self.process(loads(payload))
            end = time.time()
            for key, value in (("chunk_id", chunk_id), ("payload", dumps(result)), ("gen_start", start),
                               ("gen_end", end), ("worker", info["worker"]),
                               ("gpu_ids", ",".join(info["gpu_ids"])), ("verify_s", 0.0)):
                out[key].append(value)
        return out


class TensorParallelPlacement:
    """`ray_remote_args_fn` for tensor-parallel replicas: a placement group per generation actor,
    `tp` GPU bundles packed on one node. The actor sits in bundle 0 without a GPU of its own;
    vLLM sees it runs inside a placement group and starts its `tp` Ray workers there, one GPU
    each (the group captures child tasks). Ray Data calls this once per actor it creates, in
    the driver; the executor removes the groups when the run ends."""

    def __init__(self, tp: int, num_cpus: float) -> None:
        self.bundles = [{"GPU": 1.0, "CPU": float(num_cpus)}] + [{"GPU": 1.0} for _ in range(tp - 1)]
        self.groups: list[Any] = []

    def __call__(self) -> dict[str, Any]:
        from ray.util.placement_group import placement_group
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        group = placement_group(self.bundles, strategy="STRICT_PACK")
        self.groups.append(group)
        return {"scheduling_strategy": PlacementGroupSchedulingStrategy(
            group, placement_group_bundle_index=0, placement_group_capture_child_tasks=True)}

    def remove_all(self) -> None:
        from ray.util.placement_group import remove_placement_group

        for group in self.groups:
            remove_placement_group(group)
        self.groups.clear()
