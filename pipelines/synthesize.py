"""The `synthesize` pipeline (#14): an LLM writes new problems, labels them without a reference,
filters them, and the survivors are stored as ordinary problems.

    specs ─ write ─> drafts ─ well_formed, length, decontam ─> label (n answers, majority) ─> dedup ─> commit
    (seed, grid,     (parsed     (cheap filters first, so the      (GPU stage + the verifier's     (driver: the whole
     evol specs)      problems)   label step samples fewer)          equivalence, CPU)               problem store)

It runs on the sampling machinery: specs are cut into chunks with stable ids, each chunk is
generated (`SynthProcessor.generate`: writing and the n label samples), labelled
(`SynthProcessor.verify`) and committed as one unit through the run's manifest, so a rerun after
kill -9 resumes after the last committed chunk and writes nothing twice. Dedup needs state across
chunks, so it runs in the commit callback, which both executors call in the driver only; the
index is rebuilt at start from the store's committed problems (this run's included), so a resumed
run dedups exactly like an uninterrupted one.

Tables of a synthesis run: `problems` (kept, labelled; provenance and label in metadata),
`candidates` + `verdicts` (the label samples of kept problems, judged against the label),
`rejections` (every other written problem, with stage and reason)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any, Callable

from factory.errors import FactoryError
from factory.generation import Backend, Request, SamplingParams
from factory.minhash import DedupIndex
from factory.sources import item_rng, load_problems
from factory.store import RunStore, compact
from factory.verification import make_verifier
from pipelines.code_labels import code_label, tests_json
from pipelines.filters import Decontam, Dedup, Length, WellFormed, first_rejection
from pipelines.labels import majority_label
from pipelines.sample import make_backend, make_executor, work_spec
from pipelines.steps import GenerateStep, VerifyStep, request_seed
from pipelines.synth_config import SynthConfig
from schemas import SCHEMA_VERSION, Problem, candidate_id_for, now_ms, to_table
from schemas.synthesis import CodeLabel, Label, Provenance, Rejection, register_arrow, with_meta
from verifiers import VERIFIERS

SOURCE = "synthesize"  # Problem.source of every written problem
STAGES = ("well_formed", "length", "decontam", "label", "dedup")  # rejection stages, in pipeline order


@dataclass
class Spec:
    """One writing request: which template, filled with what, from which parents."""

    spec_id: str
    method: str
    template: str
    fields: dict[str, str]
    parents: list[str] = field(default_factory=list)
    mutation: str | None = None
    grid: dict[str, str] | None = None


@dataclass
class SynthChunk:
    chunk_id: str
    domain: str
    specs: list[Spec]
    iteration: int = 0


@dataclass
class Draft:
    """A written problem on its way through the stages; `rejection` set once a stage rejects it."""

    problem: Problem
    provenance: Provenance
    rejection: tuple[str, str, str] | None = None  # (stage, reason, details)
    candidates: list = field(default_factory=list)
    verdicts: list = field(default_factory=list)
    label: Label | CodeLabel | None = None
    test_texts: list[str] = field(default_factory=list)  # code: the test writer's completions


@dataclass
class GeneratedSynth:
    chunk: SynthChunk
    drafts: list[Draft]
    generation_s: float


@dataclass
class SynthResult:
    drafts: list[Draft]
    generation_s: float
    candidates: int = 0  # the Ray executor's progress reads these
    passed: int = 0
    completion_tokens: int = 0

    @property
    def tables(self) -> dict[str, Any]:
        """What the Ray executor's metrics count: the label samples' verdicts (the chunk's own
        tables are built at commit, after dedup)."""
        return {"verdicts": to_table([v for d in self.drafts for v in d.verdicts], "verdicts")}


def _spec_id(*parts: Any) -> str:
    return "s-" + hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def make_specs(scfg: SynthConfig, seeds: list[Problem]) -> list[Spec]:
    """Every writing request of the run, in a stable order (seed, grid, evol): the same config and
    seed give the same specs, so chunk ids key resume."""
    syn, domain, run_seed = scfg.synthesis, scfg.synthesis.domain, scfg.run.run.seed
    seeds = [p for p in seeds if p.domain == domain]
    specs: list[Spec] = []
    if "seed" in syn.methods:
        specs += [Spec(_spec_id("seed", p.problem_id), "seed", "seed", {"problem": p.prompt, "domain": domain},
                       [p.problem_id]) for p in seeds]
    if "grid" in syn.methods:
        g = syn.grid
        for topic, persona, difficulty in product(g.topics, g.personas, g.difficulties):
            cell = {"topic": topic, "persona": persona, "difficulty": difficulty}
            specs += [Spec(_spec_id("grid", cell, i), "grid", "grid", {**cell, "domain": domain}, [], None, cell)
                      for i in range(g.per_cell)]
    if "evol" in syn.methods:
        for p in seeds:
            rng = item_rng(run_seed, "evol", p.problem_id)
            mutations = syn.evol.mutations
            if syn.evol.per_seed:
                mutations = rng.sample(mutations, min(syn.evol.per_seed, len(mutations)))
            for mutation in mutations:
                fields, parents = {"problem": p.prompt, "domain": domain}, [p.problem_id]
                if "{other}" in syn.templates[mutation]:
                    other = _other(seeds, p, rng)
                    fields["other"], parents = other.prompt, [p.problem_id, other.problem_id]
                specs.append(Spec(_spec_id("evol", mutation, parents), "evol", mutation, fields, parents, mutation))
    return specs


def _other(seeds: list[Problem], p: Problem, rng: Any) -> Problem:
    others = [s for s in seeds if s.problem_id != p.problem_id]
    return rng.choice(others) if others else p


def make_chunks(specs: list[Spec], size: int, domain: str) -> list[SynthChunk]:
    return [SynthChunk(f"syn-{domain}-{i // size:05d}", domain, specs[i:i + size]) for i in range(0, len(specs), size)]


_ANSWER_LINE = re.compile(r"^\s*\**\s*(answer|solution|final answer)\b", re.IGNORECASE | re.MULTILINE)


def parse_problem(text: str, marker: str) -> str:
    """The problem the writer wrote: after the last `marker` when there is one, cut before an
    answer or solution it may have added (a leaked answer is not part of the problem)."""
    if marker:
        at = text.lower().rfind(marker.lower())
        if at >= 0:
            text = text[at + len(marker):]
    cut = _ANSWER_LINE.search(text)
    return (text[:cut.start()] if cut else text).strip()


@dataclass
class SynthProcessor:
    """Write-then-label for one chunk; the engine and the verifier are built on first use in the
    process that runs the stage (like `pipelines.sample.ChunkProcessor`)."""

    scfg: SynthConfig
    backend: Backend | None = None
    evals: list[Problem] = field(default_factory=list)
    _verifier: Any = field(default=None, repr=False)
    _owns_backend: bool = field(default=False, repr=False)

    def __call__(self, chunk: SynthChunk) -> SynthResult:
        return self.verify(self.generate(chunk))

    @property
    def spec(self) -> Any:  # what an executor may know (cluster.protocol.WorkSpec)
        return work_spec(self.scfg.run)

    def generate(self, chunk: SynthChunk) -> GeneratedSynth:
        if self.backend is None:
            self.backend, self._owns_backend = make_backend(self.scfg.run), True
        start = time.perf_counter()
        drafts = self._write(chunk)
        self._cheap_filters(drafts)
        self._sample_answers(chunk, [d for d in drafts if d.rejection is None])
        if chunk.domain == "code":
            self._write_tests([d for d in drafts if d.rejection is None])
        return GeneratedSynth(chunk, drafts, time.perf_counter() - start)

    def _write(self, chunk: SynthChunk) -> list[Draft]:
        syn, cfg = self.scfg.synthesis, self.scfg.run
        params = SamplingParams(n=syn.per_spec, temperature=syn.temperature, top_p=syn.top_p, max_tokens=syn.max_tokens)
        system = [{"role": "system", "content": syn.system_prompt}] if syn.system_prompt else []
        requests = [Request(system + [{"role": "user", "content": syn.templates[s.template].format_map(s.fields)}],
                            request_seed(cfg.run.seed, s.spec_id)) for s in chunk.specs]
        drafts = []
        for spec, gen in zip(chunk.specs, self.backend.generate(requests, params)):
            for idx, completion in enumerate(gen.completions):
                provenance = Provenance(spec.method, spec.spec_id, self.backend.model_id, spec.template,
                                        syn.prompt_version, cfg.run.run_id, spec.parents, spec.mutation, spec.grid, idx)
                problem = Problem(domain=chunk.domain, prompt=parse_problem(completion.text, syn.problem_marker),
                                  reference="", source=SOURCE)
                drafts.append(Draft(with_meta(problem, provenance=provenance), provenance))
        return drafts

    def _cheap_filters(self, drafts: list[Draft]) -> None:
        f = self.scfg.synthesis.filters
        filters = [WellFormed(f.max_questions), Length(f.min_chars, f.max_chars)]
        if self.evals:
            filters.append(Decontam(self.evals, f.decontam_ngram, f.decontam_threshold))
        for draft in drafts:
            draft.rejection = first_rejection(filters, draft.problem)

    def _sample_answers(self, chunk: SynthChunk, drafts: list[Draft]) -> None:
        gen, cfg = self.scfg.run.generation, self.scfg.run
        params = SamplingParams(n=gen.n, temperature=gen.temperature, top_p=gen.top_p, max_tokens=gen.max_tokens)
        step = GenerateStep(self.backend, params, gen.system_prompt, gen.few_shot, cfg.run.run_id, chunk.iteration,
                            cfg.run.seed, gen.batch_size)
        for draft, (_, candidates) in zip(drafts, step.run([d.problem for d in drafts])):
            draft.candidates = candidates

    def _write_tests(self, drafts: list[Draft]) -> None:
        """Code: `synthesis.code.test_samples` completions of the test-writing template per problem."""
        code, gen, cfg = self.scfg.synthesis.code, self.scfg.run.generation, self.scfg.run
        params = SamplingParams(n=code.test_samples, temperature=gen.temperature, top_p=gen.top_p,
                                max_tokens=gen.max_tokens)
        requests = [Request([{"role": "user", "content": code.tests_template.format_map(
            {"problem": d.problem.prompt, "domain": d.problem.domain})}],
            request_seed(cfg.run.seed, "tests:" + d.problem.problem_id)) for d in drafts]
        for draft, gen_out in zip(drafts, self.backend.generate(requests, params) if requests else []):
            draft.test_texts = [c.text for c in gen_out.completions]

    def verify(self, generated: GeneratedSynth) -> SynthResult:
        """Label each surviving draft (math: majority; code: dual agreement); judge its samples
        against the label."""
        if self._verifier is None:
            if generated.chunk.domain == "code":
                self._verifier = make_verifier(self.scfg.run.verification, "code", self.scfg.run.base_dir)
            else:
                self._verifier = VERIFIERS.get("math")(timeout_s=self.scfg.run.verification.timeout_s)
        result = SynthResult(generated.drafts, generated.generation_s)
        for draft in generated.drafts:
            if draft.rejection is None:
                self._label(draft)
            result.candidates += len(draft.candidates)
            result.passed += sum(v.passed for v in draft.verdicts)
            result.completion_tokens += sum(c.completion_tokens for c in draft.candidates)
        return result

    def _label(self, draft: Draft) -> None:
        if draft.problem.domain == "code":
            return self._label_code(draft)
        if draft.problem.domain != "math":
            draft.rejection = ("label", "no_label_method", f"no reference-free label for {draft.problem.domain}")
            return
        outcome = majority_label([c.text for c in draft.candidates], self._verifier, self.scfg.synthesis.label_threshold)
        draft.label = outcome.label
        if outcome.reference is None:
            draft.rejection = ("label", "unlabelled", outcome.why)
            draft.problem = with_meta(draft.problem, label=outcome.label)
            return
        self._relabel(draft, outcome.reference, None, outcome.label)
        ((_, _, verdicts),) = VerifyStep({"math": self._verifier}).run([(draft.problem, draft.candidates)])
        draft.verdicts = verdicts

    def _label_code(self, draft: Draft) -> None:
        """CodeT dual agreement; the samples' verdicts come from the same sandbox runs."""
        c = self.scfg.synthesis.code
        start = time.perf_counter()
        outcome = code_label([x.text for x in draft.candidates], draft.test_texts, self._verifier, c.max_tests,
                             c.min_score, c.min_share)
        draft.label = outcome.label
        if outcome.reference is None:
            draft.rejection = ("label", outcome.reason, outcome.why)
            draft.problem = with_meta(draft.problem, label=outcome.label)
            return
        self._relabel(draft, outcome.reference, tests_json(outcome.tests), outcome.label)
        ms = (time.perf_counter() - start) * 1000 / max(1, len(draft.candidates))
        draft.verdicts = [VerifyStep._verdict(self._verifier, draft.problem, cand, o, ms)  # noqa: SLF001
                          for cand, o in zip(draft.candidates, outcome.outcomes)]

    @staticmethod
    def _relabel(draft: Draft, reference: str, tests: str | None, label: Label | CodeLabel) -> None:
        p = draft.problem
        labelled = Problem(domain=p.domain, prompt=p.prompt, reference=reference, source=p.source, tests=tests)
        draft.problem = with_meta(labelled, provenance=draft.provenance, label=label)
        pid = draft.problem.problem_id  # the label is part of the content hash: samples are re-keyed to it
        draft.candidates = [dataclasses.replace(c, problem_id=pid, candidate_id=candidate_id_for(
            c.run_id, c.iteration, pid, c.sample_idx)) for c in draft.candidates]

    def close(self) -> None:
        if self._verifier is not None:
            self._verifier.close()
            self._verifier = None
        if self._owns_backend and self.backend is not None:
            self.backend.close()
            self.backend, self._owns_backend = None, False

    def __getstate__(self) -> dict:  # the verifier holds a worker process: rebuilt where unpickled
        return {**self.__dict__, "_verifier": None}


def store_roots(scfg: SynthConfig) -> list[Path]:
    base = Path(scfg.run.base_dir)
    paths = scfg.synthesis.filters.dedup_against or [scfg.run.run.output_dir]
    return [p if p.is_absolute() else base / p for p in map(Path, paths)]


def stored_problems(roots: list[Path]) -> list[tuple[str, str]]:
    """(problem_id, prompt) of every committed problem under `roots`: the whole problem store,
    read through each run's manifest (never a crashed chunk's orphan file)."""
    import duckdb

    from factory.query import find_runs

    files = []
    for root in roots:
        if root.exists():
            runs = find_runs(root) if (root / "manifest.jsonl").exists() or any(root.glob("*/manifest.jsonl")) else []
            files += [str(f) for run in runs for f in run.committed_files("problems")]
    if not files:
        return []
    return duckdb.connect().execute("SELECT problem_id, prompt FROM read_parquet($files)", {"files": files}).fetchall()


def build_index(scfg: SynthConfig, seeds: list[Problem]) -> DedupIndex:
    f = scfg.synthesis.filters
    index = DedupIndex(f.dedup_threshold, f.num_perm, f.shingle)
    index.add_many(stored_problems(store_roots(scfg)))
    if f.dedup_seeds:
        index.add_many((p.problem_id, p.prompt) for p in seeds)
    return index


def chunk_tables(run_id: str, drafts: list[Draft], dedup: Dedup) -> dict[str, Any]:
    """Dedup (in commit order) and the four tables of one chunk."""
    kept, candidates, verdicts, rejections = [], [], [], []
    for draft in drafts:
        if draft.rejection is None and (rejected := dedup.check(draft.problem)) is not None:
            draft.rejection = ("dedup", *rejected)
        if draft.rejection is None:
            dedup.keep(draft.problem)
            kept.append(draft.problem)
            candidates += draft.candidates
            verdicts += draft.verdicts
            continue
        stage, reason, details = draft.rejection
        p = draft.problem
        rejections.append(Rejection(p.problem_id, run_id, p.domain, p.prompt, p.reference, stage, reason,
                                    details[:2000], p.metadata, now_ms()))
    return {"problems": to_table(kept, "problems"), "candidates": to_table(candidates, "candidates"),
            "verdicts": to_table(verdicts, "verdicts"), "rejections": to_table(rejections, "rejections")}


@dataclass
class SynthReport:
    run_dir: str
    chunks_total: int
    chunks_skipped: int
    wall_s: float
    written: int  # problems written by this invocation (resumed chunks excluded)
    yields: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)


def open_synth_store(scfg: SynthConfig, store: RunStore) -> None:
    store.open_run({"run_id": scfg.run.run.run_id, "kind": "synthesis", "config_hash": scfg.hash(),
                    "config": {"run": dataclasses.asdict(scfg.run), "synthesis": dataclasses.asdict(scfg.synthesis)},
                    "schema_version": SCHEMA_VERSION, "created_at_ms": now_ms()})


def run_synthesis(scfg: SynthConfig, backend: Backend | None = None,
                  on_chunk: Callable[[int, int], None] | None = None,
                  on_start: Callable[[int, int], None] | None = None) -> SynthReport:
    """Run (or resume) a synthesis run."""
    register_arrow()
    cfg, syn = scfg.run, scfg.synthesis
    seeds = load_problems(cfg.sources, cfg.base_dir, cfg.run.seed) if cfg.sources else []
    specs = make_specs(scfg, seeds)
    if not specs:
        raise FactoryError("synthesis has nothing to write: no seeds of the domain and no grid cells")
    evals = load_problems(syn.filters.eval_sets, cfg.base_dir, cfg.run.seed) if syn.filters.eval_sets else []
    store = RunStore(cfg.run_dir, cfg.run.run_id)
    start = time.perf_counter()
    with store.writer_lock():
        open_synth_store(scfg, store)
        chunks = make_chunks(specs, cfg.run.chunk_size, syn.domain)
        todo = [c for c in chunks if c.chunk_id not in store.committed()]
        if on_start:
            on_start(sum(len(c.specs) for c in todo), len(chunks) - len(todo))  # (requests to do, chunks done)
        dedup = Dedup(build_index(scfg, seeds)) if todo else None
        written, next_up, position, arrived = 0, 0, {c.chunk_id: i for i, c in enumerate(todo)}, {}

        def commit(chunk: SynthChunk, result: SynthResult) -> None:
            """In chunk order, whatever order an executor delivers them in (Ray: as they finish):
            dedup keeps the first of two near duplicates, so the order decides which one; the
            committed chunks stay a prefix, and a resumed run equals an uninterrupted one."""
            nonlocal written, next_up
            arrived[position[chunk.chunk_id]] = (chunk, result)
            while next_up in arrived:
                chunk, result = arrived.pop(next_up)
                store.commit(chunk.chunk_id, chunk.iteration, chunk.domain,
                             chunk_tables(cfg.run.run_id, result.drafts, dedup))
                next_up += 1
                written += len(result.drafts)
                if on_chunk:
                    on_chunk(len(chunk.specs), len(result.drafts))

        if todo:
            processor = SynthProcessor(scfg, backend, evals)
            try:
                make_executor(cfg).run(todo, processor, commit)
            finally:
                processor.close()
            compact(store)
    yields, reasons = synthesis_yield(cfg.run_dir)
    return SynthReport(str(cfg.run_dir.resolve()), len(chunks), len(chunks) - len(todo), time.perf_counter() - start,
                       written, yields, reasons)


def synthesis_yield(run_dir: str | Path) -> tuple[dict[str, int], dict[str, int]]:
    """The yield table (generated → well-formed → clean → labelled → deduplicated = kept) and the
    rejections per stage:reason, from the committed tables (DuckDB)."""
    import duckdb

    register_arrow()
    store = RunStore(run_dir)
    kept_files = [str(p) for p in store.committed_files("problems")]
    rej_files = [str(p) for p in store.committed_files("rejections")]
    con = duckdb.connect()
    kept = con.execute("SELECT count(*) FROM read_parquet($f)", {"f": kept_files}).fetchone()[0] if kept_files else 0
    rows = con.execute("SELECT stage, reason, count(*) FROM read_parquet($f) GROUP BY ALL ORDER BY ALL",
                       {"f": rej_files}).fetchall() if rej_files else []
    by_stage = {s: sum(n for st, _, n in rows if st == s) for s in STAGES}
    generated = kept + sum(by_stage.values())
    yields = {"generated": generated}
    remaining = generated
    for name, stages in (("well_formed", ("well_formed", "length")), ("clean", ("decontam",)),
                         ("labelled", ("label",)), ("deduplicated", ("dedup",))):
        remaining -= sum(by_stage[s] for s in stages)
        yields[name] = remaining
    yields["kept"] = kept
    return yields, {f"{st}:{reason}": n for st, reason, n in rows}
