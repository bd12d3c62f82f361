"""`factory reverify RUN`: grade stored candidates again with the current verifier (or the LLM
judge) into a new verdict version, without regenerating anything.

A pass is exactly-once and resumable like a sampling run:
- it holds the run's writer lock, so nothing else writes the run meanwhile;
- it starts by writing its plan atomically (`reverify/v{N}.json`: the version, what grades, and
  the candidate ids it covers, in a fixed order), so a rerun after a crash resumes the same pass
  over the same candidates even if the run grew in between;
- verdicts are committed in chunks named `reverify-v{N}-…` (or `judge-v{N}-…`) through the
  manifest; a rerun skips committed chunks, so no verdict is lost or written twice;
- the flip report (what changed against each candidate's previous verdict) is computed from the
  stored verdicts at the end, so it is the same whether or not the pass was interrupted.

Readers (`samples`, STaR selection, `factory report`) use the newest version by default. The
judge's verdicts are stored apart (verifier = "judge") and never replace a rule verdict.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from factory.errors import FactoryError
from factory.query import connect, is_regrading_chunk
from factory.store import RunStore
from schemas import Problem, Verdict, now_ms

CHUNK = 512
PLANS = "reverify"


@dataclass
class Plan:
    version: int
    kind: str  # "rules" or "judge"
    grader: str  # what graded: verifier name/version per domain, or the judge's version
    groups: list[dict]  # [{"iteration", "domain", "ids": [...]}] in commit order
    done: bool = False

    def chunks(self) -> Iterator[tuple[str, int, str, list[str]]]:
        prefix = "reverify" if self.kind == "rules" else "judge"
        for group in self.groups:
            ids = group["ids"]
            for start in range(0, len(ids), CHUNK):
                name = f"{prefix}-v{self.version}-it{group['iteration']}-{group['domain']}-{start // CHUNK:05d}"
                yield name, group["iteration"], group["domain"], ids[start:start + CHUNK]


@dataclass
class FlipReport:
    version: int
    kind: str
    graded: int
    passed_before: int
    passed_after: int
    flips: dict[str, int] = field(default_factory=dict)  # "old_reason -> new_reason": count
    examples: list[dict] = field(default_factory=list)
    resumed: bool = False


def reverify(run_dir: str | Path, timeout_s: float = 5.0, judge: Any = None,
             progress: Callable[[str], None] | None = None) -> FlipReport:
    """Grade every candidate of the run again (rule verifiers), or the rule verifier's inexact
    negatives with `judge`, into the next verdict version; resume an interrupted pass."""
    store = RunStore(run_dir)
    store.check_listing()
    say = progress or (lambda _msg: None)
    with store.writer_lock():
        from factory.store.compaction import clean_leftovers

        clean_leftovers(store)
        plan, resumed = _plan(store, judge, timeout_s)
        graders: dict[str, Any] = {}
        try:
            _grade_chunks(store, plan, graders, judge, _settings(store.info(), timeout_s), say)
        finally:
            for grader in graders.values():
                getattr(grader, "close", lambda: None)()
        plan.done = True
        _write_plan(store, plan)
    report = flip_report(run_dir, plan.version, plan.kind)
    report.resumed = resumed
    return report


# ---- the plan ---------------------------------------------------------------------------------

def _plan_path(store: RunStore, version: int) -> Path:
    return store.run_dir / PLANS / f"v{version}.json"


def _plans(store: RunStore) -> list[Plan]:
    folder = store.run_dir / PLANS
    plans = []
    for path in sorted(folder.glob("v*.json")) if folder.is_dir() else []:
        try:
            plans.append(Plan(**json.loads(path.read_text(encoding="utf-8"))))
        except (json.JSONDecodeError, TypeError) as exc:
            raise FactoryError(f"{path}: not a reverify plan ({exc}); remove it to start a new pass") from None
    return sorted(plans, key=lambda p: p.version)


def _write_plan(store: RunStore, plan: Plan) -> None:
    path = _plan_path(store, plan.version)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(plan.__dict__, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _plan(store: RunStore, judge: Any, timeout_s: float) -> tuple[Plan, bool]:
    kind = "judge" if judge is not None else "rules"
    plans = _plans(store)
    if plans and not plans[-1].done:
        unfinished = plans[-1]
        if unfinished.kind != kind:
            raise FactoryError(f"an interrupted {unfinished.kind} re-verification (version {unfinished.version}) "
                               f"must finish first: rerun `factory reverify` {'with' if unfinished.kind == 'judge' else 'without'} --judge")
        return unfinished, True
    version = max([_stored_max_version(store)] + [p.version for p in plans]) + 1
    plan = Plan(version, kind, _grader_name(judge, timeout_s), _groups(store, kind))
    if not any(g["ids"] for g in plan.groups):
        raise FactoryError(f"{store.run_dir}: no candidates to re-verify")
    _write_plan(store, plan)
    return plan, False


def _stored_max_version(store: RunStore) -> int:
    versions = [int(chunk.split("-")[1][1:]) for chunk in store.committed() if is_regrading_chunk(chunk)]
    return max(versions, default=1)


def _grader_name(judge: Any, timeout_s: float) -> str:
    return f"judge {judge.version}" if judge is not None else f"the current rule verifiers (timeout {timeout_s} s)"


def _groups(store: RunStore, kind: str) -> list[dict]:
    """The candidates this pass covers, grouped by partition, each group in id order. The judge
    covers only the rule verifier's inexact math negatives (never a pass, never an exact one)."""
    from verifiers.judge import decided_exactly

    con = connect(store.run_dir)
    where = "" if kind == "rules" else "WHERE domain = 'math' AND NOT passed AND reason = 'wrong_answer'"
    rows = con.execute(f"SELECT s.iteration, s.domain, s.candidate_id, s.reference, s.extracted_answer FROM samples s "
                       f"{where} ORDER BY iteration, domain, candidate_id").fetchall()
    groups: dict[tuple[int, str], list[str]] = {}
    for iteration, domain, cid, reference, extracted in rows:
        if kind == "judge" and decided_exactly(reference, extracted):
            continue
        groups.setdefault((iteration, domain), []).append(cid)
    return [{"iteration": it, "domain": d, "ids": ids} for (it, d), ids in groups.items()]


# ---- grading ----------------------------------------------------------------------------------

ROWS_SQL = """
SELECT s.candidate_id, s.problem_id, s.run_id, s.iteration, s.domain, s.text, s.extracted_answer,
       p.prompt, p.reference, p.source, p.tests, p.metadata
FROM samples s JOIN (SELECT DISTINCT ON (problem_id) * FROM problems) p USING (problem_id)
WHERE s.candidate_id IN (SELECT unnest($ids))
ORDER BY s.candidate_id
"""


def _grade_chunks(store: RunStore, plan: Plan, graders: dict, judge: Any, settings: Any,
                  say: Callable[[str], None]) -> None:
    from schemas import to_table

    con = connect(store.run_dir, verdict_version=plan.version - 1)
    committed = store.committed()
    chunks = list(plan.chunks())
    started, done = time.perf_counter(), 0
    for name, iteration, domain, ids in chunks:
        if name in committed:
            continue
        rows = con.execute(ROWS_SQL, {"ids": ids}).fetchall()
        if len(rows) != len(ids):
            raise FactoryError(f"reverify chunk {name}: {len(ids)} candidates planned, {len(rows)} found in the "
                               "store (was the run dir changed by hand?)")
        verdicts = _grade(rows, plan, graders, judge, settings, domain)
        store.commit(name, iteration, domain, {"verdicts": to_table(verdicts, "verdicts")})
        done += 1
        rate = done / max(1e-9, time.perf_counter() - started)
        say(f"reverify v{plan.version}: chunk {done}/{len(chunks)} ({len(ids)} candidates), "
            f"{rate:.2f} chunks/s, ETA {(len(chunks) - done) / max(rate, 1e-9):.0f} s")


def _grade(rows: list[tuple], plan: Plan, graders: dict, judge: Any, settings: Any, domain: str) -> list[Verdict]:
    problems = [Problem(domain=r[4], prompt=r[7], reference=r[8], source=r[9], tests=r[10], metadata=r[11],
                        problem_id=r[1]) for r in rows]
    start = time.perf_counter()
    if judge is not None:
        outcomes = [judge.verify(p, r[5], extracted=r[6]) for p, r in zip(problems, rows)]
        name, version = "judge", judge.version
    else:
        from factory.verification import grade, make_verifier

        grader = graders.get(domain)
        if grader is None:
            grader = graders[domain] = make_verifier(settings, domain)
        outcomes = [o for o, _ in grade(grader, [(p, r[5]) for p, r in zip(problems, rows)])]
        name, version = grader.name, grader.version
    if len(outcomes) != len(rows):
        raise FactoryError(f"the {name} verifier returned {len(outcomes)} verdicts for {len(rows)} candidates")
    per_ms = (time.perf_counter() - start) * 1000 / max(1, len(rows))
    return [Verdict(candidate_id=r[0], problem_id=r[1], run_id=r[2], iteration=r[3], domain=r[4], verifier=name,
                    verifier_version=version, passed=o.passed, score=o.score, reason=o.reason,
                    details=o.details[:2000], duration_ms=per_ms, created_at_ms=now_ms(),
                    extracted_answer=o.extracted, verdict_version=plan.version)
            for r, o in zip(rows, outcomes)]


def _settings(run_info: dict, timeout_s: float) -> Any:
    """The run's own [verification] settings (recorded in run.json), so a re-verification grades
    with the same per-domain limits and Lean backend as the run did; defaults if none were recorded."""
    from factory.config import VerificationSection, build
    from factory.errors import ConfigError

    recorded = run_info.get("config", {}).get("verification")
    try:
        return build(VerificationSection, recorded, "run.json verification") if recorded else VerificationSection(timeout_s=timeout_s)
    except (ConfigError, TypeError, ValueError):
        return VerificationSection(timeout_s=timeout_s)


# ---- what flipped -----------------------------------------------------------------------------

FLIPS_SQL = """
WITH new AS (
  SELECT * FROM verdicts WHERE verdict_version = $version AND (verifier = 'judge') = $judge
), old AS (
  SELECT * FROM verdicts WHERE verdict_version < $version AND verifier <> 'judge'
  QUALIFY row_number() OVER (PARTITION BY candidate_id ORDER BY verdict_version DESC, created_at_ms DESC) = 1
)
SELECT o.reason, n.reason, o.passed, n.passed, n.candidate_id, p.reference, n.extracted_answer, n.details
FROM new n JOIN old o USING (candidate_id)
JOIN (SELECT DISTINCT ON (problem_id) problem_id, reference FROM problems) p ON p.problem_id = n.problem_id
ORDER BY n.candidate_id
"""
EXAMPLES = 5


def flip_report(run_dir: str | Path, version: int, kind: str = "rules") -> FlipReport:
    con = connect(run_dir)
    rows = con.execute(FLIPS_SQL, {"version": version, "judge": kind == "judge"}).fetchall()
    report = FlipReport(version, kind, graded=len(rows), passed_before=sum(bool(r[2]) for r in rows),
                        passed_after=sum(bool(r[3]) for r in rows))
    flips: Counter[str] = Counter()
    for old_reason, new_reason, old_pass, new_pass, cid, reference, extracted, details in rows:
        if (old_reason, old_pass) == (new_reason, new_pass):
            continue
        key = f"{'pass' if old_pass else 'fail'}:{old_reason} -> {'pass' if new_pass else 'fail'}:{new_reason}"
        flips[key] += 1
        if sum(1 for e in report.examples if e["flip"] == key) < EXAMPLES:
            report.examples.append({"flip": key, "candidate_id": cid, "reference": reference,
                                    "extracted": extracted, "details": (details or "")[:160]})
    report.flips = dict(flips.most_common())
    return report


def stored_versions(run_dir: str | Path) -> list[dict[str, Any]]:
    """Each verdict version of the run: what graded it and how many candidates passed."""
    con = connect(run_dir)
    rows = con.execute("SELECT verdict_version, verifier, any_value(verifier_version), count(*), sum(passed::INT) "
                       "FROM verdicts GROUP BY ALL ORDER BY ALL").fetchall()
    return [{"version": v, "verifier": name, "verifier_version": ver, "verdicts": n, "passed": p}
            for v, name, ver, n, p in rows]
