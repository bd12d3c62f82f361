"""Adaptive sampling budget: sample in rounds and spend samples where they still buy verified,
distinct solutions.

Each round every active problem gets `round_size` samples; a problem stops when it has
`target_distinct` distinct verified solutions ("enough"), when its samples so far say more are
wasted (no pass in `min_samples` or more and a credible upper bound on its pass rate below
`hopeless_below`: "hopeless"; or `duplicate_patience` verified samples that only repeat earlier
ones: "duplicates"), or at `max_per_problem` ("cap"). A round keeps the pace of fixed-n
sampling (`round_size` x all problems): the shares of stopped problems go first to problems
whose observed pass rate is in the uncertain band [band_low, band_high], then to other active
problems with a pass; problems with no pass yet keep their base share (their samples rarely pay). The run stops when its budget (`budget` samples, default n x problems: the same
as fixed n) is spent or no problem is active.

Exactly once and resumable: a round's plan (problem → first sample index, count) is written to
`adaptive.json` before its chunks run, and its chunks (`it{k}-ad{round}-{domain}-{i}`) commit
through the manifest; a rerun replays the saved plans, runs their uncommitted chunks, and plans
later rounds from the committed samples. Note: pass@k over adaptively stopped samples is biased
(stopping depends on the outcomes); use fixed-n runs for pass@k."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from cluster.protocol import WorkSpec
from factory.config import Config
from factory.errors import ConfigError, FactoryError
from factory.generation import Backend, SamplingParams
from factory.sources import load_problems
from factory.store import RunStore, compact
from pipelines.sample import make_backend, make_executor, open_store, work_spec
from pipelines.steps import GenerateStep, VerifyStep
from schemas import Problem, to_table

PLANS = "adaptive.json"


@dataclass
class AdaptiveSettings:
    round_size: int = 4
    target_distinct: int = 4  # m
    min_samples: int = 8  # a problem is never called hopeless before this many samples
    hopeless_below: float = 0.1  # ... and only when its pass rate's upper bound is below this
    confidence: float = 0.8  # the upper bound's level (Beta posterior with no pass: 1 - (1-conf)^(1/(n+1)))
    duplicate_patience: int = 8  # verified samples that repeated earlier ones before a problem stops
    band_low: float = 0.05
    band_high: float = 0.8
    max_per_problem: int = 64
    max_per_round: int = 16  # samples one problem may get in one round (freed budget included)
    budget: int = 0  # samples for the whole run; 0: generation.n x problems (fixed-n's budget)

    def __post_init__(self) -> None:
        if min(self.round_size, self.target_distinct, self.max_per_problem, self.max_per_round) < 1:
            raise ConfigError("adaptive: round_size, target_distinct, max_per_problem, max_per_round must be ≥ 1")
        if not (0 <= self.band_low <= self.band_high <= 1 and 0 < self.confidence < 1):
            raise ConfigError("adaptive: need 0 ≤ band_low ≤ band_high ≤ 1 and 0 < confidence < 1")


@dataclass
class ProblemState:
    samples: int = 0
    passed: int = 0
    distinct: int = 0
    tokens: int = 0

    @property
    def rate(self) -> float:
        return self.passed / self.samples if self.samples else 0.0


def upper_bound_no_pass(samples: int, confidence: float) -> float:
    """Upper `confidence` bound on the pass rate after `samples` failures (uniform prior)."""
    return 1 - (1 - confidence) ** (1 / (samples + 1))


def stop_reason(st: ProblemState, s: AdaptiveSettings) -> str | None:
    if st.distinct >= s.target_distinct:
        return "enough"
    if st.samples >= s.max_per_problem:
        return "cap"
    if st.passed == 0 and st.samples >= s.min_samples and upper_bound_no_pass(st.samples, s.confidence) < s.hopeless_below:
        return "hopeless"
    if st.passed - st.distinct >= s.duplicate_patience:
        return "duplicates"
    return None


def plan_round(states: dict[str, ProblemState], s: AdaptiveSettings, remaining: int) -> dict[str, int]:
    """Samples per active problem this round: round_size each, then the stopped problems' shares
    to the uncertain band first, then to the rest, within the caps and the remaining budget."""
    active = sorted(pid for pid, st in states.items() if stop_reason(st, s) is None)
    if not active or remaining <= 0:
        return {}
    room = {pid: min(s.max_per_round, s.max_per_problem - states[pid].samples) for pid in active}
    plan = {pid: 0 for pid in active}
    left = min(remaining, s.round_size * len(states))

    def give(pids: list[str], upto: int) -> None:
        nonlocal left
        while left > 0:
            takers = [p for p in pids if plan[p] < min(upto, room[p])]
            if not takers:
                return
            for pid in takers[:left]:
                plan[pid] += 1
                left -= 1

    give(active, s.round_size)
    band = [p for p in active if states[p].passed and s.band_low <= states[p].rate <= s.band_high]
    band.sort(key=lambda p: -states[p].rate * (1 - states[p].rate))  # most uncertain first
    give(band, s.max_per_round)
    give([p for p in active if states[p].passed], s.max_per_round)  # no pass yet: base share only (rarely pays)
    return {pid: n for pid, n in plan.items() if n}


@dataclass
class RoundChunk:
    chunk_id: str
    domain: str
    iteration: int
    round: int
    items: list[tuple[Problem, int, int]]  # (problem, first sample index, samples)


@dataclass
class RoundResult:
    tables: dict
    candidates: int
    passed: int
    completion_tokens: int


@dataclass
class RoundProcessor:
    cfg: Config
    backend: Backend | None = None
    _verifiers: dict = field(default_factory=dict, repr=False)

    @property
    def spec(self) -> WorkSpec:
        return work_spec(self.cfg)  # the Ray executor places tensor-parallel engines by it

    def __call__(self, chunk: RoundChunk) -> RoundResult:
        from verifiers import VERIFIERS

        if self.backend is None:
            self.backend = make_backend(self.cfg)
        gen = self.cfg.generation
        groups: dict[tuple[int, int], list[Problem]] = {}
        for problem, offset, n in chunk.items:
            groups.setdefault((offset, n), []).append(problem)
        sampled = []
        for (offset, n), problems in sorted(groups.items()):
            params = SamplingParams(n=n, temperature=gen.temperature, top_p=gen.top_p, max_tokens=gen.max_tokens)
            # a seed per round: later rounds are fresh draws, not repeats of round 0's samples
            step = GenerateStep(self.backend, params, gen.system_prompt, gen.few_shot, self.cfg.run.run_id,
                                chunk.iteration, self.cfg.run.seed + 7919 * chunk.round, gen.batch_size,
                                sample_offset=offset)
            sampled.extend(step.run(problems))
        if chunk.domain not in self._verifiers:
            self._verifiers[chunk.domain] = VERIFIERS.get(chunk.domain)(timeout_s=self.cfg.verification.timeout_s)
        problems, candidates, verdicts = [], [], []
        for problem, cands, verds in VerifyStep(self._verifiers).run(sampled):
            problems.append(problem)
            candidates.extend(cands)
            verdicts.extend(verds)
        tables = {"candidates": to_table(candidates, "candidates"), "verdicts": to_table(verdicts, "verdicts")}
        if chunk.round == 0:  # a problem's row is written once, with its first samples
            tables["problems"] = to_table(problems, "problems")
        return RoundResult(tables, len(candidates), sum(v.passed for v in verdicts),
                           sum(c.completion_tokens for c in candidates))

    def close(self) -> None:
        for verifier in self._verifiers.values():
            getattr(verifier, "close", lambda: None)()
        self._verifiers.clear()


STATE_SQL = """
SELECT problem_id, count(*) AS samples, coalesce(sum(passed::INT), 0) AS passed,
       count(DISTINCT CASE WHEN passed THEN lower(regexp_replace(trim(text), '\\s+', ' ', 'g')) END) AS distinct_ok,
       coalesce(sum(completion_tokens), 0) AS tokens
FROM samples WHERE iteration = {iteration} AND NOT hinted GROUP BY problem_id
"""


def read_states(run_dir: Path, problems: list[Problem], iteration: int) -> dict[str, ProblemState]:
    from factory.query import run_query

    states = {p.problem_id: ProblemState() for p in problems}
    if RunStore(run_dir).committed():
        for pid, samples, passed, distinct, tokens in run_query(run_dir, STATE_SQL.format(iteration=iteration))[1]:
            if pid in states:
                states[pid] = ProblemState(samples, passed, distinct, tokens)
    return states


@dataclass
class AdaptiveReport:
    rounds: int = 0
    samples: int = 0
    budget: int = 0
    wall_s: float = 0.0
    stopped: dict[str, int] = field(default_factory=dict)
    states: dict[str, ProblemState] = field(default_factory=dict)


def round_chunks(plan: dict[str, list[int]], by_id: dict[str, Problem], size: int, iteration: int,
                 rnd: int) -> list[RoundChunk]:
    chunks = []
    for domain in sorted({by_id[pid].domain for pid in plan}):
        items = [(by_id[pid], *plan[pid]) for pid in sorted(plan) if by_id[pid].domain == domain]
        for start in range(0, len(items), size):
            chunks.append(RoundChunk(f"it{iteration}-ad{rnd:03d}-{domain}-{start // size:05d}", domain, iteration, rnd,
                                     items[start:start + size]))
    return chunks


def run_adaptive(cfg: Config, settings: AdaptiveSettings, backend: Backend | None = None,
                 on_round: Callable[[int, int, dict[str, int]], None] | None = None) -> AdaptiveReport:
    """Run (or resume) adaptive sampling of the configured problems into cfg.run_dir."""
    problems = load_problems(cfg.sources, cfg.base_dir, cfg.run.seed)
    if not problems:
        raise FactoryError("the configured sources yielded no problems; nothing was written")
    by_id = {p.problem_id: p for p in problems}
    store = RunStore(cfg.run_dir, cfg.run.run_id)
    it = cfg.run.iteration
    report = AdaptiveReport(budget=settings.budget or cfg.generation.n * len(by_id))
    start = time.perf_counter()
    processor = RoundProcessor(cfg, backend)
    with store.writer_lock():
        open_store(cfg, store)
        plans_path = cfg.run_dir / PLANS
        plans: list[dict[str, list[int]]] = json.loads(plans_path.read_text()) if plans_path.exists() else []
        try:
            for rnd in range(1_000_000):
                states = read_states(cfg.run_dir, problems, it)
                spent = sum(st.samples for st in states.values())
                if rnd == len(plans):  # a new round: plan it from the committed samples and save the plan first
                    sizes = plan_round(states, settings, report.budget - spent)
                    if not sizes:
                        break
                    plans.append({pid: [states[pid].samples, n] for pid, n in sizes.items()})
                    tmp = plans_path.with_suffix(".tmp")
                    tmp.write_text(json.dumps(plans))
                    tmp.replace(plans_path)
                chunks = round_chunks(plans[rnd], by_id, cfg.run.chunk_size, it, rnd)
                done = store.committed()
                todo = [c for c in chunks if c.chunk_id not in done]
                if todo:
                    make_executor(cfg).run(todo, processor, lambda c, r: store.commit(c.chunk_id, c.iteration,
                                                                                       c.domain, r.tables))
                report.rounds = rnd + 1
                if on_round:
                    on_round(rnd, sum(n for _, n in plans[rnd].values()), {})
        finally:
            processor.close()
        compact(store)
    report.states = read_states(cfg.run_dir, problems, it)
    report.samples = sum(st.samples for st in report.states.values())
    for st in report.states.values():
        reason = stop_reason(st, settings) or "budget"
        report.stopped[reason] = report.stopped.get(reason, 0) + 1
    report.wall_s = time.perf_counter() - start
    return report
