"""The `label-steps` pipeline: process labels for a run's candidates by Monte-Carlo rollouts
(Math-Shepherd), written as the run's `steps` table (schemas/steps.py).

    candidates (+ verdicts) ─ split into steps ─ StepSearch picks prefixes ─ k rollouts per prefix
    (same backend, continuing the prefix) ─ domain verifier ─ labels ─ committed chunk of steps rows

Candidates are cut into chunks of `chunk_size`, labelled and committed through the run's manifest
(chunk ids `steps-<settings hash>-it{k}-{domain}-{i}`), so a rerun skips labelled chunks and never
writes a step twice; the chunk is a plain `process(chunk)` callable, so the Ray executor runs it
too. Within a chunk every round of probes (one per candidate still searching) goes to the
backend as one batch."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from factory.config import Config, GenerationSection, build
from factory.errors import ConfigError, FactoryError
from factory.generation import Backend, Request, SamplingParams
from factory.store import RunStore
from pipelines.splitters import SPLITTERS, split_steps
from pipelines.step_search import STRATEGIES, StepSearch
from pipelines.steps import GenerateStep, request_seed
from schemas import Problem, now_ms
from schemas.steps import StepLabel, step_id_for


@dataclass
class RolloutSettings:
    splitter: str = "paragraphs"  # a name in pipelines.splitters.SPLITTERS
    k: int = 8  # rollouts per probed prefix
    strategy: str = "binary"  # binary: search the first bad step; all: roll out every prefix (Math-Shepherd)
    per_problem: int = 4  # candidates labelled per problem (lowest sample indices); 0: all
    which: str = "all"  # all, passed, failed
    max_steps: int = 32  # candidates split into more steps are skipped (counted), not labelled
    chunk_size: int = 16  # candidates per committed chunk
    iteration: int | None = None  # None: every iteration of the run

    def __post_init__(self) -> None:
        SPLITTERS.get(self.splitter)  # unknown name → ConfigError listing the known ones
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"steps.strategy: {self.strategy!r} is not one of {', '.join(STRATEGIES)}")
        if self.which not in ("all", "passed", "failed"):
            raise ConfigError(f"steps.which: {self.which!r} is not one of all, passed, failed")
        if self.k < 1 or self.chunk_size < 1 or self.max_steps < 1 or self.per_problem < 0:
            raise ConfigError("steps: k, chunk_size and max_steps must be ≥ 1, per_problem ≥ 0")

    @property
    def labeler(self) -> str:
        return f"{self.splitter}/k={self.k}/{self.strategy}"

    def tag(self) -> str:
        """Chunk ids of different settings never collide (each set of labels is its own table slice)."""
        key = json.dumps([self.labeler, self.per_problem, self.which, self.max_steps, self.chunk_size])
        return hashlib.sha256(key.encode()).hexdigest()[:8]


@dataclass
class Target:
    """One candidate to label."""
    problem: Problem
    candidate_id: str
    iteration: int
    text: str
    passed: bool


@dataclass
class StepChunk:
    chunk_id: str
    domain: str
    iteration: int
    targets: list[Target]


@dataclass
class StepResult:
    tables: dict[str, Any]
    candidates: int
    steps: int
    rollouts: int
    rollouts_all: int  # what labelling every prefix would have cost (the saving's baseline)
    tokens: int
    first_bad: list[int] = field(default_factory=list)


@dataclass
class RolloutProcessor:
    """Labels one chunk: rounds of probes, each round one batch through the backend."""

    cfg: Config
    settings: RolloutSettings
    backend: Backend | None = None
    _verifiers: dict = field(default_factory=dict, repr=False)

    @property
    def spec(self) -> Any:
        from pipelines.sample import work_spec

        return work_spec(self.cfg)  # the Ray executor places tensor-parallel engines by it

    def __call__(self, chunk: StepChunk) -> StepResult:
        if self.backend is None:
            from pipelines.sample import make_backend

            self.backend = make_backend(self.cfg)
        steps = [split_steps(t.text, self.settings.splitter) for t in chunk.targets]
        searches = [StepSearch(len(s), t.passed, self.settings.strategy) for s, t in zip(steps, chunk.targets)]
        while probes := [(i, j) for i, search in enumerate(searches) for j in search.probes()]:
            for (i, j), (n, ok, tokens) in zip(probes, self._roll(chunk.targets, steps, probes)):
                searches[i].observe(j, n, ok, tokens)
        rows = [row for t, s, search in zip(chunk.targets, steps, searches) for row in self._rows(t, s, search)]
        from schemas import to_table

        k = self.settings.k
        return StepResult({"steps": to_table(rows, "steps")}, len(chunk.targets), len(rows),
                          sum(s.rollouts_used() for s in searches), sum((len(s) - 1) * k for s in steps),
                          sum(r.rollout_tokens for r in rows), [s.first_bad() for s in searches])

    def _roll(self, targets: list[Target], steps: list[list[str]],
              probes: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
        """(rollouts, verified, tokens) for each probed prefix."""
        gen = self.cfg.generation
        shaper = GenerateStep(self.backend, SamplingParams(), gen.system_prompt, gen.few_shot, "", 0, 0)
        params = SamplingParams(n=self.settings.k, temperature=gen.temperature, top_p=gen.top_p,
                                max_tokens=gen.max_tokens)
        prefixes = {(i, j): "".join(steps[i][:j + 1]) for i, j in probes}
        requests = [Request(shaper.messages(targets[i].problem) + [{"role": "assistant", "content": prefixes[(i, j)]}],
                            request_seed(self.cfg.run.seed, f"{targets[i].candidate_id}:{j}")) for i, j in probes]
        out = []
        for start in range(0, len(requests), gen.batch_size):
            batch = probes[start:start + gen.batch_size]
            for (i, j), generation in zip(batch, self.backend.generate(requests[start:start + gen.batch_size], params)):
                texts = [prefixes[(i, j)] + c.text for c in generation.completions]
                passed = self._verify(targets[i].problem, texts)
                out.append((len(texts), passed, sum(c.completion_tokens for c in generation.completions)))
        return out

    def _verify(self, problem: Problem, texts: list[str]) -> int:
        from verifiers import VERIFIERS

        if problem.domain not in self._verifiers:
            self._verifiers[problem.domain] = VERIFIERS.get(problem.domain)(timeout_s=self.cfg.verification.timeout_s)
        verifier = self._verifiers[problem.domain]
        if hasattr(verifier, "verify_batch"):
            return sum(o.passed for o in verifier.verify_batch([(problem, t) for t in texts]))
        return sum(verifier.verify(problem, t).passed for t in texts)

    def _rows(self, target: Target, steps: list[str], search: StepSearch) -> list[StepLabel]:
        s, labeler, first_bad, offset = self.settings, self.settings.labeler, search.first_bad(), 0
        rows = []
        for j, ((good, source), text) in enumerate(zip(search.labels(), steps)):
            offset += len(text)
            m = search.measured.get(j)
            rows.append(StepLabel(
                step_id=step_id_for(target.candidate_id, labeler, j), candidate_id=target.candidate_id,
                problem_id=target.problem.problem_id, run_id=self.cfg.run.run_id, iteration=target.iteration,
                domain=target.problem.domain, labeler=labeler, splitter=s.splitter, strategy=s.strategy,
                step_idx=j, num_steps=len(steps), step_text=text, prefix_chars=offset,
                rollouts=m.rollouts if m else 0, rollouts_passed=m.passed if m else 0,
                mc_value=m.passed / m.rollouts if m else None, label=good, label_source=source,
                first_bad_step=first_bad, rollout_tokens=m.tokens if m else 0,
                model=self.backend.model_id, created_at_ms=now_ms()))
        return rows

    def close(self) -> None:
        for verifier in self._verifiers.values():
            getattr(verifier, "close", lambda: None)()
        self._verifiers.clear()

    def __getstate__(self) -> dict:  # verifier pools hold processes: rebuilt where unpickled
        return {**self.__dict__, "_verifiers": {}}


TARGETS_SQL = """
SELECT s.candidate_id, s.iteration, s.sample_idx, s.text, s.passed,
       p.problem_id, p.domain, p.prompt, p.reference, p.source, p.tests, p.metadata
FROM samples s JOIN (SELECT * FROM problems QUALIFY row_number() OVER (PARTITION BY problem_id) = 1) p
     ON s.problem_id = p.problem_id
WHERE NOT s.hinted {where} {per_problem}
ORDER BY s.iteration, p.domain, p.problem_id, s.sample_idx
"""


def select_targets(run_dir: Path, s: RolloutSettings) -> list[Target]:
    from factory.query import run_query

    where = {"all": "", "passed": "AND s.passed", "failed": "AND NOT s.passed"}[s.which]
    if s.iteration is not None:
        where += f" AND s.iteration = {int(s.iteration)}"
    rank = "row_number() OVER (PARTITION BY s.iteration, s.problem_id ORDER BY s.sample_idx)"
    per_problem = f"QUALIFY {rank} <= {s.per_problem}" if s.per_problem else ""
    _, rows = run_query(run_dir, TARGETS_SQL.format(where=where, per_problem=per_problem))
    return [Target(Problem(domain=r[6], prompt=r[7], reference=r[8], source=r[9], tests=r[10], metadata=r[11],
                           problem_id=r[5]), r[0], r[1], r[3], bool(r[4])) for r in rows]


def make_step_chunks(targets: list[Target], s: RolloutSettings) -> tuple[list[StepChunk], int]:
    """Chunks keyed by position in the (ordered) target list; candidates with too many steps are
    left out and counted."""
    keep = [t for t in targets if len(split_steps(t.text, s.splitter)) <= s.max_steps]
    chunks = []
    groups: dict[tuple[int, str], list[Target]] = {}
    for t in keep:
        groups.setdefault((t.iteration, t.problem.domain), []).append(t)
    for (iteration, domain), items in sorted(groups.items()):
        for start in range(0, len(items), s.chunk_size):
            chunk_id = f"steps-{s.tag()}-it{iteration}-{domain}-{start // s.chunk_size:05d}"
            chunks.append(StepChunk(chunk_id, domain, iteration, items[start:start + s.chunk_size]))
    return chunks, len(targets) - len(keep)


@dataclass
class LabelReport:
    chunks_total: int = 0
    chunks_skipped: int = 0
    skipped_long: int = 0
    candidates: int = 0
    steps: int = 0
    rollouts: int = 0
    rollouts_all: int = 0
    tokens: int = 0
    wall_s: float = 0.0

    def add(self, r: StepResult) -> None:
        self.candidates += r.candidates
        self.steps += r.steps
        self.rollouts += r.rollouts
        self.rollouts_all += r.rollouts_all
        self.tokens += r.tokens

    @property
    def saving(self) -> float:
        """Share of the every-prefix rollouts the search did not need."""
        return 1 - self.rollouts / self.rollouts_all if self.rollouts_all else 0.0


def run_config(run_dir: Path, generation: dict[str, Any] | None = None) -> Config:
    """The run's own config (from run.json), with generation keys optionally overridden (a
    different completer model for the rollouts, say)."""
    info = RunStore(run_dir).info()
    if not info.get("config"):
        raise FactoryError(f"{run_dir}: no run.json with a config; is it a factory run?")
    data = dict(info["config"])
    base_dir = data.pop("base_dir", ".")
    if generation:
        data["generation"] = {**data["generation"], **generation}
        build(GenerationSection, data["generation"], "generation")  # name a bad override early
    cfg = build(Config, data, f"{run_dir}/run.json")
    cfg.base_dir = base_dir
    return cfg


def label_steps(run_dir: str | Path, settings: RolloutSettings, backend: Backend | None = None,
                generation: dict[str, Any] | None = None,
                on_start: Callable[[int, int, int], None] | None = None,
                on_chunk: Callable[[StepResult], None] | None = None) -> LabelReport:
    """Label (or resume labelling) the steps of a run's candidates; rows go to its `steps` table."""
    from pipelines.sample import make_executor

    run_dir = Path(run_dir)
    cfg = run_config(run_dir, generation)
    store = RunStore(run_dir, cfg.run.run_id)
    start = time.perf_counter()
    report = LabelReport()
    with store.writer_lock():
        chunks, report.skipped_long = make_step_chunks(select_targets(run_dir, settings), settings)
        committed = store.committed()
        todo = [c for c in chunks if c.chunk_id not in committed]
        report.chunks_total, report.chunks_skipped = len(chunks), len(chunks) - len(todo)
        if on_start:
            on_start(len(chunks), report.chunks_skipped, sum(len(c.targets) for c in todo))

        def commit(chunk: StepChunk, result: StepResult) -> None:
            store.commit(chunk.chunk_id, chunk.iteration, chunk.domain, result.tables)
            report.add(result)
            if on_chunk:
                on_chunk(result)

        processor = RolloutProcessor(cfg, settings, backend)
        try:
            if todo:
                make_executor(cfg).run(todo, processor, commit)
        finally:
            processor.close()
    report.wall_s = time.perf_counter() - start
    return report
