"""The STaR loop: sample → verify → rationalize → select → export → train → next iteration.

    for k in 0..K-1:  eval(M_k on held-out) · sample(M_k) · rationalize(M_k, hint) ·
                      select+export(k) · train(M_k, export_k) → M_{k+1}
    eval(M_K)

Every stage is resumable: sampling stages commit chunk by chunk (a rerun continues inside a
stage), the others are recorded in `star.json` once done, so a crash in iteration 2's verify
reruns only what iteration 2's verify had not committed. Held-out problems live in their own
run (`<run_id>-heldout`) and are removed from training by n-gram decontamination."""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from factory.config import Config
from factory.errors import FactoryError
from factory.query import connect
from factory.sources import load_problems
from factory import atomic
from factory.store import RunStore
from pipelines.export import write_exports
from pipelines.sample import ChunkProcessor, open_store, sample_into
from pipelines.select import DEFAULT_LEAKS, SelectionRules, select
from schemas import Problem

STATE = "star.json"


@dataclass
class StarState:
    path: Path
    models: dict[str, str] = field(default_factory=dict)  # iteration → model that samples it
    done: list[str] = field(default_factory=list)  # "k:stage" markers
    stats: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path, base_model: str) -> "StarState":
        if path.exists():
            data = json.loads(path.read_text())
            return cls(path, data["models"], data["done"], data["stats"])
        return cls(path, {"0": base_model})

    def mark(self, iteration: int, stage: str, stats: dict | None = None) -> None:
        self.done.append(f"{iteration}:{stage}")
        if stats is not None:
            self.stats.setdefault(str(iteration), {})[stage] = stats
        atomic.write_text(self.path, json.dumps({"models": self.models, "done": self.done, "stats": self.stats},
                                                indent=2))

    def is_done(self, iteration: int, stage: str) -> bool:
        return f"{iteration}:{stage}" in self.done


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i:i + n]) for i in range(max(1, len(words) - n + 1))} if words else set()


def decontaminate(train: list[Problem], evals: list[Problem], n: int, threshold: float) -> tuple[list[Problem], int]:
    """Drop training problems whose word n-grams overlap the eval set's by more than `threshold`
    (share of the problem's own n-grams; prompts shorter than n count as one n-gram)."""
    eval_grams = set().union(*(ngrams(p.prompt, n) for p in evals)) if evals else set()
    eval_ids = {p.problem_id for p in evals}
    kept = []
    for p in train:
        grams = ngrams(p.prompt, n)
        overlap = len(grams & eval_grams) / len(grams) if grams else 0.0
        if p.problem_id not in eval_ids and overlap <= threshold:
            kept.append(p)
    return kept, len(train) - len(kept)


def unsolved(store_dir: Path, iteration: int, problems: list[Problem]) -> list[Problem]:
    rows = connect(store_dir).execute(
        "SELECT c.problem_id FROM candidates c JOIN verdicts v USING (candidate_id) "
        "WHERE c.iteration = ? AND NOT c.hinted GROUP BY 1 HAVING NOT bool_or(v.passed)", [iteration]).fetchall()
    ids = {r[0] for r in rows}
    return [p for p in problems if p.problem_id in ids]


def train_argv(cfg: Config, data: Path, model: str, output: Path, iteration: int) -> list[str]:
    star = cfg.star
    if star.train_command == "builtin":
        from factory.generation.models import resolve_model

        argv = [sys.executable, "-m", "factory.train", "--data", str(data), "--model",
                resolve_model(model, cfg.base_dir), "--output", str(output), "--seed", str(cfg.run.seed + iteration)]
        for key, value in star.train_options.items():
            argv += [f"--{key.replace('_', '-')}", str(value)]
        return argv
    return [a.format(data=data, model=model, output=output, iteration=iteration) for a in shlex.split(star.train_command)]


def run_train(cfg: Config, data: Path, model: str, output: Path, iteration: int) -> str:
    """Run the train hook; its contract: write the next model to {output} and exit 0."""
    argv = train_argv(cfg, data, model, output, iteration)
    done = subprocess.run(argv, capture_output=True, text=True, cwd=cfg.base_dir)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise FactoryError(f"train command failed (exit {done.returncode}) in iteration {iteration}: {' | '.join(tail)}")
    if not output.exists():
        raise FactoryError(f"train command exited 0 but wrote no model to {output}")
    return str(output)


@dataclass
class Star:
    cfg: Config
    log: Callable[[str], None] = print
    processor_for: Callable[[Config, str | None], ChunkProcessor] = lambda cfg, hint: ChunkProcessor(cfg, hint=hint)

    def run(self) -> StarState:
        cfg = self.cfg
        heldout_cfg = dataclasses.replace(cfg, run=dataclasses.replace(cfg.run, run_id=f"{cfg.run.run_id}-heldout"))
        store = RunStore(cfg.run_dir, cfg.run.run_id)
        heldout_store = RunStore(heldout_cfg.run_dir, heldout_cfg.run.run_id)
        # One writer per run dir, taken before open_store's clean-up (as `factory run` does); the
        # commits and compactions of the loop reuse these locks.
        with store.writer_lock(), heldout_store.writer_lock():
            return self._run(open_store(cfg, store), open_store(heldout_cfg, heldout_store), heldout_cfg)

    def _run(self, store: RunStore, heldout_store: RunStore, heldout_cfg: Config) -> StarState:
        cfg, star = self.cfg, self.cfg.star
        state = StarState.load(cfg.run_dir / STATE, cfg.generation.model)
        heldout = load_problems(star.heldout, cfg.base_dir, cfg.run.seed + 1) if star.heldout else []
        train, dropped = decontaminate(load_problems(cfg.sources, cfg.base_dir, cfg.run.seed), heldout,
                                       star.decontam_ngram, star.decontam_threshold)
        if not train:
            raise FactoryError("no training problems left after decontamination")
        self.log(f"{len(train)} training problems ({dropped} dropped by decontamination), {len(heldout)} held out")
        for k in range(star.iterations):
            model = state.models[str(k)]
            self._evaluate(heldout_cfg, heldout_store, heldout, k, model, state)
            self._stage(state, k, "sample", lambda: self._sample(store, train, k, model, None))
            if star.rationalize:
                self._stage(state, k, "rationalize", lambda: self._sample(
                    store, unsolved(cfg.run_dir, k, train), k, model, star.hint_template, tag="rat-"))
            export_dir = cfg.run_dir / "exports" / f"iter-{k}"
            self._stage(state, k, "export", lambda: self._export(export_dir, train, k, dropped))
            if not state.is_done(k, "train"):
                output = cfg.run_dir / "models" / f"iter-{k + 1}"
                start = time.perf_counter()
                state.models[str(k + 1)] = run_train(cfg, export_dir, model, output, k)
                state.mark(k, "train", {"model": state.models[str(k + 1)], "train_s": round(time.perf_counter() - start, 1)})
                self.log(f"iteration {k}: trained {state.models[str(k + 1)]}")
        self._evaluate(heldout_cfg, heldout_store, heldout, star.iterations, state.models[str(star.iterations)], state)
        return state

    def _stage(self, state: StarState, k: int, stage: str, work: Callable[[], dict]) -> None:
        if state.is_done(k, stage):
            return
        stats = work()
        state.mark(k, stage, stats)
        self.log(f"iteration {k}: {stage} {json.dumps(stats)}")

    def _evaluate(self, heldout_cfg: Config, heldout_store: RunStore, heldout: list[Problem], k: int, model: str,
                  state: StarState) -> None:
        if heldout:
            self._stage(state, k, "eval", lambda: self._sample(heldout_store, heldout, k, model, None,
                                                             cfg=heldout_cfg))

    def _sample(self, store: RunStore, problems: list[Problem], k: int, model: str, hint: str | None,
                tag: str = "", cfg: Config | None = None) -> dict:
        cfg = cfg or self.cfg
        if not problems:
            return {"problems": 0, "candidates": 0, "passed": 0}
        model_cfg = dataclasses.replace(cfg, generation=dataclasses.replace(cfg.generation, model=model))
        totals = sample_into(model_cfg, store, problems, k, tag, processor=self.processor_for(model_cfg, hint))
        return {"problems": len(problems), "candidates": totals.candidates, "passed": totals.passed,
                "tokens": totals.tokens, "generation_s": round(totals.generation_s, 1)}

    def _export(self, export_dir: Path, train: list[Problem], k: int, decontaminated: int) -> dict:
        star = self.cfg.star
        rules = SelectionRules(star.per_problem, star.max_jaccard, star.drop_solved_by_all,
                               star.leak_patterns or list(DEFAULT_LEAKS), use_judge=star.use_judge)
        selection = select(self.cfg.run_dir, k, rules)
        if not selection.rows:
            raise FactoryError(f"iteration {k}: no verified candidates to train on")
        problems = [{"problem_id": p.problem_id, "prompt": p.prompt, "reference": p.reference, "domain": p.domain,
                     "source": p.source} for p in train]
        paths = write_exports(selection.rows, problems, export_dir, self.cfg.generation.system_prompt)
        return {**selection.counts, "decontaminated_problems": decontaminated,
                "hinted_selected": sum(bool(r["hinted"]) for r in selection.rows), **paths}
