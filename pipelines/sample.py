"""The `sample` pipeline: problems → n candidates each → verdicts → committed shards.

Work is cut into chunks of `run.chunk_size` problems per domain; each chunk is generated,
verified and committed as a unit, so a rerun of the same run id resumes after the last
committed chunk and never writes a candidate twice."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from cluster import EXECUTORS
from factory.config import Config
from factory.errors import FactoryError
from factory.generation import BACKENDS, Backend, SamplingParams
from factory.sources import load_problems
from factory.store import RunStore
from pipelines.steps import GenerateStep, VerifyStep
from schemas import SCHEMA_VERSION, Problem, now_ms, to_table
from verifiers import VERIFIERS


@dataclass
class Chunk:
    chunk_id: str
    domain: str
    problems: list[Problem]


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


def config_hash(cfg: Config) -> str:
    """Everything that changes the run's rows; not where it is written."""
    data = dataclasses.asdict(cfg)
    data["run"].pop("output_dir")
    data.pop("base_dir")
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def make_chunks(problems: list[Problem], size: int, iteration: int) -> list[Chunk]:
    chunks = []
    for domain in sorted({p.domain for p in problems}):
        items = [p for p in problems if p.domain == domain]
        for start in range(0, len(items), size):
            chunk_id = f"it{iteration}-{domain}-{start // size:05d}"
            chunks.append(Chunk(chunk_id, domain, items[start:start + size]))
    return chunks


def make_backend(cfg: Config) -> Backend:
    gen = cfg.generation
    return BACKENDS.get(gen.backend)(gen.model, gen.options, base_dir=cfg.base_dir)


def run_sampling(cfg: Config, backend: Backend | None = None,
                 on_chunk: Callable[[int, int], None] | None = None,
                 on_start: Callable[[int, int, int], None] | None = None) -> RunReport:
    """Run (or resume) the sampling pipeline described by `cfg`."""
    problems = load_problems(cfg.sources, cfg.base_dir, cfg.run.seed)
    if not problems:
        raise FactoryError("the configured sources yielded no problems; nothing was written")
    store = RunStore(cfg.run_dir, cfg.run.run_id)
    store.open_run({"run_id": cfg.run.run_id, "config": dataclasses.asdict(cfg), "config_hash": config_hash(cfg),
                    "schema_version": SCHEMA_VERSION, "created_at_ms": now_ms()})
    chunks = make_chunks(problems, cfg.run.chunk_size, cfg.run.iteration)
    todo = [c for c in chunks if c.chunk_id not in store.committed()]
    if on_start:
        on_start(len(chunks), len(chunks) - len(todo), sum(len(c.problems) for c in todo))
    start = time.perf_counter()
    totals = {"tokens": 0, "candidates": 0, "generation_s": 0.0}
    if todo:
        backend = backend or make_backend(cfg)
        verifiers = {d: VERIFIERS.get(d)(timeout_s=cfg.verification.timeout_s) for d in {c.domain for c in todo}}
        process = _chunk_processor(cfg, backend, verifiers)

        def commit(chunk: Chunk, result: ChunkResult) -> None:
            store.commit(chunk.chunk_id, cfg.run.iteration, chunk.domain, result.tables)
            totals["tokens"] += result.completion_tokens
            totals["candidates"] += result.candidates
            totals["generation_s"] += result.generation_s
            if on_chunk:
                on_chunk(len(chunk.problems), result.candidates)

        try:
            EXECUTORS.get("local")().run(todo, process, commit)
        finally:
            for v in verifiers.values():
                getattr(v, "close", lambda: None)()
    from factory.query import summary

    wall = time.perf_counter() - start
    return RunReport(str(cfg.run_dir.resolve()), len(chunks), len(chunks) - len(todo), wall,
                     totals["tokens"], totals["candidates"], totals["generation_s"], summary(cfg.run_dir))


def _chunk_processor(cfg: Config, backend: Backend, verifiers: dict) -> Callable[[Chunk], ChunkResult]:
    gen = cfg.generation
    params = SamplingParams(n=gen.n, temperature=gen.temperature, top_p=gen.top_p, max_tokens=gen.max_tokens)
    generate = GenerateStep(backend, params, gen.system_prompt, gen.few_shot, cfg.run.run_id, cfg.run.iteration,
                            cfg.run.seed, gen.batch_size)
    verify = VerifyStep(verifiers)

    def process(chunk: Chunk) -> ChunkResult:
        problems, candidates, verdicts = [], [], []
        for problem, cands, verds in verify.run(generate.run(chunk.problems)):
            problems.append(problem)
            candidates.extend(cands)
            verdicts.extend(verds)
        tables = {"problems": to_table(problems, "problems"), "candidates": to_table(candidates, "candidates"),
                  "verdicts": to_table(verdicts, "verdicts")}
        return ChunkResult(tables, len(candidates), sum(v.passed for v in verdicts),
                           sum(c.completion_tokens for c in candidates),
                           sum(c.latency_ms for c in candidates) / 1000)

    return process
