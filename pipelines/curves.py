"""Test-time compute curves: accuracy against k samples per problem and against the tokens
those k samples cost, for three ways of spending them:

- oracle pass@k: some sample of the k passes the verifier (the unbiased estimator, eval.py);
- majority vote maj@k over extracted answers (eval.py);
- weighted vote: answers weighted by a score of each candidate — the minimum Monte-Carlo value
  of its rolled-out step prefixes from the `steps` table (a process-verifier score, Math-Shepherd's
  min aggregation); best-of-n is the special case of one sample per answer. Estimated over
  random k-subsets (seeded); only drawn when the run has step labels.

Tokens: k x the mean completion tokens of a sample, summed over the problems (the compute the
set of problems costs at that k). Per domain and iteration; `factory report` plots them."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from factory.errors import FactoryError
from pipelines.eval import maj_at_k, pass_at_k

SAMPLES_SQL = """
SELECT domain, iteration, problem_id, candidate_id, extracted_answer, passed, completion_tokens
FROM samples WHERE NOT hinted ORDER BY domain, iteration, problem_id, sample_idx
"""
WEIGHTS_SQL = """
SELECT candidate_id, min(mc_value) FROM steps
WHERE mc_value IS NOT NULL AND labeler = ? GROUP BY candidate_id
"""
SUBSETS = 300

Sample = tuple[str | None, bool, float]  # (answer, passed, weight)


def weighted_vote_at_k(samples: list[Sample], k: int, subsets: int = SUBSETS, seed: int = 0) -> float:
    """Expected accuracy of a weighted vote of k samples drawn without replacement: the answer
    with the largest total weight wins (ties split); samples without an answer do not vote."""
    if not 1 <= k <= len(samples):
        raise ValueError(f"k={k} outside 1..{len(samples)}")
    rng = random.Random(seed * 1_000_003 + k)
    score = 0.0
    for _ in range(subsets):
        totals: dict[str, float] = defaultdict(float)
        right: dict[str, bool] = {}
        for answer, ok, weight in rng.sample(samples, k):
            key = (answer or "").strip()
            if key:
                totals[key] += weight
                right[key] = right.get(key, False) or ok
        if totals:
            best = max(totals.values())
            winners = [a for a, w in totals.items() if w == best]
            score += sum(right[a] for a in winners) / len(winners)
    return score / subsets


@dataclass
class ComputeCurve:
    domain: str
    iteration: int
    problems: int
    n: int
    tokens_per_sample: float  # mean completion tokens of one sample over the set
    ks: list[int]
    accuracy: dict[str, dict[int, float]] = field(default_factory=dict)  # method → k → accuracy

    def tokens(self, k: int) -> float:
        return k * self.tokens_per_sample * self.problems


def curve_ks(n: int) -> list[int]:
    return sorted({1, n} | {2 ** i for i in range(1, n.bit_length()) if 2 ** i <= n})


def compute_curves(run_dir: str | Path, labeler: str | None = None) -> list[ComputeCurve]:
    from factory.query import run_query

    _, rows = run_query(run_dir, SAMPLES_SQL)
    weights = _step_weights(run_dir, labeler)
    grouped: dict[tuple[str, int], dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for domain, iteration, pid, cid, answer, passed, tokens in rows:
        grouped[(domain, iteration)][pid].append((answer, bool(passed), weights.get(cid), tokens))
    return [_curve(d, it, problems, bool(weights)) for (d, it), problems in sorted(grouped.items())]


def _curve(domain: str, iteration: int, problems: dict[str, list], weighted: bool) -> ComputeCurve:
    n = min(len(s) for s in problems.values())
    all_tokens = [t for s in problems.values() for *_, t in s]
    curve = ComputeCurve(domain, iteration, len(problems), n, sum(all_tokens) / len(all_tokens), curve_ks(n))
    sets = list(problems.values())
    curve.accuracy["pass@k"] = {k: _mean(pass_at_k(len(s), sum(ok for _, ok, _, _ in s), k) for s in sets)
                                for k in curve.ks}
    curve.accuracy["maj@k"] = {k: _mean(maj_at_k([(a, ok) for a, ok, _, _ in s], k) for s in sets) for k in curve.ks}
    if weighted:  # candidates without labels weigh 1: their vote still counts
        curve.accuracy["weighted@k"] = {
            k: _mean(weighted_vote_at_k([(a, ok, 1.0 if w is None else w) for a, ok, w, _ in s], k, seed=i)
                     for i, s in enumerate(sets)) for k in curve.ks}
    return curve


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def _step_weights(run_dir: str | Path, labeler: str | None) -> dict[str, float]:
    from factory.store import RunStore
    from pipelines.prm_export import connect_with_steps

    if not Path(run_dir, "manifest.jsonl").exists() or not RunStore(run_dir).committed_files("steps"):
        return {}  # a folder of runs, or no step labels: no weighted curve
    con = connect_with_steps(run_dir)
    known = [r[0] for r in con.execute("SELECT DISTINCT labeler FROM steps ORDER BY 1").fetchall()]
    if labeler is None:
        labeler = next((name for name in known if name.endswith("/all")), known[0])  # every prefix measured
    if labeler not in known:
        raise FactoryError(f"no steps labelled by {labeler!r} (have: {', '.join(known)})")
    return dict(con.execute(WEIGHTS_SQL, [labeler]).fetchall())


STYLES = {"pass@k": ("o", "-"), "maj@k": ("s", "--"), "weighted@k": ("^", ":")}


def plot_compute(curves: list[ComputeCurve], out_dir: str | Path) -> list[Path]:
    """Per domain: accuracy vs k (log2) and vs total tokens (log10), one colour per iteration,
    one line style per method; n and the problem count in the title. Needs matplotlib."""
    from pipelines.eval import pyplot

    if (found := pyplot(out_dir)) is None:
        return []
    plt, out_dir = found
    paths = []
    for domain in sorted({c.domain for c in curves}):
        mine = [c for c in curves if c.domain == domain]
        fig, (by_k, by_tokens) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
        colours = plt.get_cmap("tab10")
        for i, c in enumerate(mine):
            for method, acc in c.accuracy.items():
                marker, style = STYLES[method]
                label = f"{method} it{c.iteration}"
                by_k.plot(c.ks, [acc[k] for k in c.ks], marker=marker, linestyle=style, color=colours(i), label=label)
                by_tokens.plot([c.tokens(k) for k in c.ks], [acc[k] for k in c.ks], marker=marker, linestyle=style,
                               color=colours(i), label=label)
        by_k.set_xscale("log", base=2)
        by_tokens.set_xscale("log")
        by_k.set_xlabel("k (samples per problem)")
        by_tokens.set_xlabel("generated tokens over the problem set")
        by_k.set_ylabel("accuracy")
        by_k.set_ylim(0, 1)
        for ax in (by_k, by_tokens):
            ax.grid(True, which="both", alpha=0.3)
        by_tokens.legend(fontsize=8)
        sizes = ", ".join(f"it{c.iteration}: n={c.n}, {c.problems} problems" for c in mine)
        fig.suptitle(f"{domain}: test-time compute ({sizes})", fontsize=10)
        path = out_dir / f"compute_{domain}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        paths.append(path)
    return paths


def compute_rows(curves: list[ComputeCurve]) -> list[dict]:
    return [{"domain": c.domain, "iteration": c.iteration, "k": k, "tokens": round(c.tokens(k)),
             **{m: round(acc[k], 4) for m, acc in c.accuracy.items()}} for c in curves for k in c.ks]
