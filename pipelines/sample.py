"""The `sample` pipeline: problems → n candidates each → verdicts → committed shards.

Work is cut into chunks of `run.chunk_size` problems per domain; each chunk is generated,
verified and committed as a unit, so a rerun of the same run id resumes after the last
committed chunk and never writes a candidate twice.

A chunk goes through two stages, `ChunkProcessor.generate` and `ChunkProcessor.verify`, run by
the engine (pipelines/engine.py) through an executor (cluster/protocol.py): the local executor
runs both in this process; the Ray executor runs generation in GPU actors and verification in
CPU actors. The processor is built from the config alone (plus an optional
backend instance for tests), so it can be shipped to a worker and set itself up there."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from cluster import EXECUTORS
from cluster.protocol import WorkSpec
from factory.config import Config, VerificationSection
from factory.errors import FactoryError
from factory.generation import BACKENDS, Backend, SamplingParams
from factory.sources import load_problems
from factory.store import RunStore
from factory.verification import make_verifier
from pipelines.engine import RunEngine
from pipelines.steps import GenerateStep, Sampled, VerifyStep
from schemas import SCHEMA_VERSION, Problem, now_ms, to_table


@dataclass
class Chunk:
    chunk_id: str
    domain: str
    problems: list[Problem]
    iteration: int = 0


@dataclass
class GeneratedChunk:
    chunk: Chunk
    sampled: list[Sampled]
    generation_s: float


@dataclass
class ChunkResult:
    tables: dict[str, Any]
    candidates: int
    passed: int
    completion_tokens: int
    generation_s: float


@dataclass
class RunReport:
    run_dir: str
    chunks_total: int
    chunks_skipped: int
    wall_s: float
    generated_tokens: int
    generated_candidates: int
    generation_s: float
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def tokens_per_s(self) -> float:
        """Decoding throughput while generating (model loading excluded)."""
        return self.generated_tokens / self.generation_s if self.generation_s else 0.0


@dataclass
class Totals:
    chunks: int = 0
    skipped: int = 0
    tokens: int = 0
    candidates: int = 0
    passed: int = 0
    generation_s: float = 0.0

    def add(self, result: ChunkResult) -> None:
        self.tokens += result.completion_tokens
        self.candidates += result.candidates
        self.passed += result.passed
        self.generation_s += result.generation_s


def config_hash(cfg: Config) -> str:
    """Everything that changes the run's rows; not where it is written. A per-domain
    verification section left at its defaults is not hashed, so runs made before those sections
    existed keep their hash (and resume)."""
    data = dataclasses.asdict(cfg)
    data["run"].pop("output_dir")
    data.pop("base_dir")
    defaults = dataclasses.asdict(VerificationSection())
    defaults["lean"]["backend"] = "embedded"  # what an unset backend resolves to at load
    for domain in ("math", "code", "lean"):
        if data["verification"].get(domain) == defaults[domain]:
            del data["verification"][domain]
    if not data["star"].get("use_judge"):
        data["star"].pop("use_judge", None)  # added later: runs made before it keep their hash
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def make_chunks(problems: list[Problem], size: int, iteration: int, tag: str = "") -> list[Chunk]:
    """Chunk ids `it{k}-{tag}{domain}-{i}` are stable for a given problem list, so they key resume."""
    chunks = []
    for domain in sorted({p.domain for p in problems}):
        items = [p for p in problems if p.domain == domain]
        for start in range(0, len(items), size):
            chunk_id = f"it{iteration}-{tag}{domain}-{start // size:05d}"
            chunks.append(Chunk(chunk_id, domain, items[start:start + size], iteration))
    return chunks


def work_spec(cfg: Config) -> WorkSpec:
    """What an executor may know about a run's chunk function (sampling, adaptive rounds, step
    labels): its run id, for metrics, and the engine's tensor-parallel size, for GPU placement."""
    tp = int((cfg.generation.options or {}).get("tensor_parallel_size", 1))
    return WorkSpec(run_id=cfg.run.run_id, tensor_parallel_size=tp)


def make_backend(cfg: Config) -> Backend:
    gen = cfg.generation
    return BACKENDS.get(gen.backend)(gen.model, gen.options, base_dir=cfg.base_dir)


@dataclass
class ChunkProcessor:
    """Generate-then-verify for one chunk; heavy parts (engine, verifiers) are built on first use
    in whichever process runs the stage. `hint` set → rationalization: the reference answer is put
    into the prompt and candidates are stored with `hinted=True` and sample indices after the n
    unhinted ones (so their ids never collide)."""

    cfg: Config
    backend: Backend | None = None
    hint: str | None = None
    _verifiers: dict = field(default_factory=dict, repr=False)
    _owns_backend: bool = field(default=False, repr=False)

    def __call__(self, chunk: Chunk) -> ChunkResult:
        return self.verify(self.generate(chunk))

    @property
    def spec(self) -> WorkSpec:
        """All an executor learns about this work (it never reads the config)."""
        return work_spec(self.cfg)

    def generate(self, chunk: Chunk) -> GeneratedChunk:
        if self.backend is None:
            self.backend, self._owns_backend = make_backend(self.cfg), True
        gen = self.cfg.generation
        params = SamplingParams(n=gen.n, temperature=gen.temperature, top_p=gen.top_p, max_tokens=gen.max_tokens)
        step = GenerateStep(self.backend, params, gen.system_prompt, gen.few_shot, self.cfg.run.run_id,
                            chunk.iteration, self.cfg.run.seed, gen.batch_size, hint=self.hint,
                            sample_offset=gen.n if self.hint else 0)
        start = time.perf_counter()
        sampled = list(step.run(chunk.problems))
        return GeneratedChunk(chunk, sampled, time.perf_counter() - start)

    def verify(self, generated: GeneratedChunk) -> ChunkResult:
        domain = generated.chunk.domain
        if domain not in self._verifiers:
            self._verifiers[domain] = make_verifier(self.cfg.verification, domain, self.cfg.base_dir)
        problems, candidates, verdicts = [], [], []
        for problem, cands, verds in VerifyStep(self._verifiers).run(generated.sampled):
            problems.append(problem)
            candidates.extend(cands)
            verdicts.extend(verds)
        tables = {"problems": to_table(problems, "problems"), "candidates": to_table(candidates, "candidates"),
                  "verdicts": to_table(verdicts, "verdicts")}
        return ChunkResult(tables, len(candidates), sum(v.passed for v in verdicts),
                           sum(c.completion_tokens for c in candidates), generated.generation_s)

    def close(self) -> None:
        for verifier in self._verifiers.values():
            getattr(verifier, "close", lambda: None)()
        self._verifiers.clear()
        if self._owns_backend and self.backend is not None:  # frees the engine's memory (e.g. before training)
            self.backend.close()
            self.backend, self._owns_backend = None, False

    def __getstate__(self) -> dict:  # verifier pools hold processes and locks: rebuilt where unpickled
        return {**self.__dict__, "_verifiers": {}}


def make_executor(cfg: Config):
    return EXECUTORS.get(cfg.run.executor)(**cfg.run.executor_options)


def sample_into(cfg: Config, store: RunStore, problems: list[Problem], iteration: int, tag: str = "",
                processor: ChunkProcessor | None = None,
                on_chunk: Callable[[int, int], None] | None = None,
                on_start: Callable[[int, int, int], None] | None = None) -> Totals:
    """Generate, verify and commit every uncommitted chunk of `problems` into an open store."""
    chunks = make_chunks(problems, cfg.run.chunk_size, iteration, tag)
    engine = RunEngine(store, make_executor(cfg))
    todo = engine.pending(chunks)
    totals = Totals(chunks=len(chunks), skipped=len(chunks) - len(todo))
    if on_start:
        on_start(len(chunks), totals.skipped, sum(len(c.problems) for c in todo))
    if not todo:
        return totals

    def committed(chunk: Chunk, result: ChunkResult) -> None:
        totals.add(result)
        if on_chunk:
            on_chunk(len(chunk.problems), result.candidates)

    engine.run(todo, processor or ChunkProcessor(cfg), committed)
    return totals


def open_store(cfg: Config, store: RunStore | None = None) -> RunStore:
    store = store or RunStore(cfg.run_dir, cfg.run.run_id)
    store.open_run({"run_id": cfg.run.run_id, "config": dataclasses.asdict(cfg), "config_hash": config_hash(cfg),
                    "schema_version": SCHEMA_VERSION, "created_at_ms": now_ms()})
    return store


def run_sampling(cfg: Config, backend: Backend | None = None,
                 on_chunk: Callable[[int, int], None] | None = None,
                 on_start: Callable[[int, int, int], None] | None = None) -> RunReport:
    """Run (or resume) the sampling pipeline described by `cfg`."""
    problems = load_problems(cfg.sources, cfg.base_dir, cfg.run.seed)
    if not problems:
        raise FactoryError("the configured sources yielded no problems; nothing was written")
    store = RunStore(cfg.run_dir, cfg.run.run_id)
    start = time.perf_counter()
    with store.writer_lock():  # before open_run, whose clean-up must not touch another writer's files
        open_store(cfg, store)
        totals = sample_into(cfg, store, problems, cfg.run.iteration, processor=ChunkProcessor(cfg, backend),
                             on_chunk=on_chunk, on_start=on_start)
    from factory.query import summary

    return RunReport(str(cfg.run_dir.resolve()), totals.chunks, totals.skipped, time.perf_counter() - start,
                     totals.tokens, totals.candidates, totals.generation_s, summary(cfg.run_dir))
