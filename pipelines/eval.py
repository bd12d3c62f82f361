"""Evaluation over a run's shards: the unbiased pass@k estimator (Chen et al. 2021,
1 - C(n-c, k) / C(n, k)) for k = 1..n, and majority-vote accuracy maj@k over extracted answers
(the expectation over k-subsets, so maj@1 = pass@1), per domain and iteration. Samples are read with DuckDB; the estimators are exact integers."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from math import comb
from pathlib import Path
from typing import Any

from factory.query import run_query

SAMPLES_SQL = """
SELECT domain, iteration, problem_id, sample_idx, extracted_answer, passed
FROM samples WHERE NOT hinted ORDER BY domain, iteration, problem_id, sample_idx
"""


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn without replacement from n is correct."""
    if k > n:
        raise ValueError(f"k={k} > n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


EXACT_MAJ_MAX_N = 64  # above this, maj@k is estimated from random subsets
SAMPLED_SUBSETS = 4000


def maj_at_k(samples: list[tuple[str | None, bool]], k: int) -> float:
    """Majority-vote accuracy of k samples: the expectation over all k-subsets of the n samples
    (so maj@1 = pass@1), not the first k. A subset's vote is over extracted answers; samples
    without an answer do not vote (a subset with no vote is wrong); a tie between answers is
    split evenly. Exact by counting for n <= EXACT_MAJ_MAX_N, else a seeded estimate."""
    n = len(samples)
    if not 1 <= k <= n:
        raise ValueError(f"k={k} outside 1..{n}")
    classes: dict[str, list] = {}
    for answer, ok in samples:
        key = answer.strip() if answer else ""
        if key:
            entry = classes.setdefault(key, [0, False])
            entry[0] += 1
            entry[1] = entry[1] or ok
    counts = [(m, ok) for m, ok in classes.values()]
    silent = n - sum(m for m, _ in counts)
    if n > EXACT_MAJ_MAX_N:
        return _maj_sampled(counts, silent, k)
    total = 0.0
    for c, (m_c, ok_c) in enumerate(counts):
        if not ok_c:
            continue
        others = [m for i, (m, _) in enumerate(counts) if i != c]
        for j in range(1, min(m_c, k) + 1):
            total += comb(m_c, j) * _ways_below(others, silent, k - j, j)
    return total / comb(n, k)


def _ways_below(others: list[int], silent: int, picks: int, j: int) -> float:
    """Subsets of `picks` items from the other classes (each with at most j votes) and the
    silent samples, each weighted 1/(1 + number of classes tied at j)."""
    ways = {(x, 0): comb(silent, x) for x in range(min(silent, picks) + 1)}  # (picked, ties) -> count
    for m in others:
        step: dict[tuple[int, int], int] = defaultdict(int)
        for (picked, ties), w in ways.items():
            for x in range(min(m, j, picks - picked) + 1):
                step[(picked + x, ties + (x == j))] += w * comb(m, x)
        ways = step
    return sum(w / (ties + 1) for (picked, ties), w in ways.items() if picked == picks)


def _maj_sampled(counts: list[tuple[int, bool]], silent: int, k: int) -> float:
    import random

    rng = random.Random(k)
    pool = [i for i, (m, _) in enumerate(counts) for _ in range(m)] + [-1] * silent
    score = 0.0
    for _ in range(SAMPLED_SUBSETS):
        votes = Counter(i for i in rng.sample(pool, k) if i >= 0)
        if votes:
            best = max(votes.values())
            winners = [i for i, v in votes.items() if v == best]
            score += sum(counts[i][1] for i in winners) / len(winners)
    return score / SAMPLED_SUBSETS


@dataclass
class Curve:
    domain: str
    iteration: int
    problems: int
    n: int
    pass_at: dict[int, float]
    maj_at: dict[int, float]


def evaluate(run_dir: str | Path) -> list[Curve]:
    _, rows = run_query(run_dir, SAMPLES_SQL)
    grouped: dict[tuple[str, int], dict[str, list[tuple[str | None, bool]]]] = defaultdict(lambda: defaultdict(list))
    for domain, iteration, problem_id, _, answer, passed in rows:
        grouped[(domain, iteration)][problem_id].append((answer, bool(passed)))
    curves = []
    for (domain, iteration), problems in sorted(grouped.items()):
        n = min(len(s) for s in problems.values())  # problems with fewer samples bound k
        pass_at = {k: sum(pass_at_k(len(s), sum(ok for _, ok in s), k) for s in problems.values()) / len(problems)
                   for k in range(1, n + 1)}
        maj_at = {k: sum(maj_at_k(s, k) for s in problems.values()) / len(problems) for k in range(1, n + 1)}
        curves.append(Curve(domain, iteration, len(problems), n, pass_at, maj_at))
    return curves


def pyplot(out_dir: str | Path) -> tuple[Any, Path] | None:
    """matplotlib's pyplot on the file backend and the created output folder; None without
    matplotlib (the `report` extra), so reports still print their tables."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return plt, out_dir


def plot(curves: list[Curve], out_dir: str | Path) -> list[Path]:
    """pass@k and maj@k against k on a log axis, one PNG per domain (needs matplotlib)."""
    if (found := pyplot(out_dir)) is None:
        return []
    plt, out_dir = found
    paths = []
    for domain in sorted({c.domain for c in curves}):
        fig, ax = plt.subplots(figsize=(6, 4))
        for c in (c for c in curves if c.domain == domain):
            ks = sorted(c.pass_at)
            ax.plot(ks, [c.pass_at[k] for k in ks], marker="o", label=f"pass@k it{c.iteration}")
            ax.plot(ks, [c.maj_at[k] for k in ks], marker="s", linestyle="--", label=f"maj@k it{c.iteration}")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("k (samples per problem)")
        ax.set_ylabel("accuracy")
        ax.set_ylim(0, 1)
        ax.set_title(f"{domain}: test-time compute curve")
        ax.grid(True, alpha=0.3)
        ax.legend()
        path = out_dir / f"pass_at_k_{domain}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        paths.append(path)
        if len({c.iteration for c in curves if c.domain == domain}) > 1:
            paths.append(_plot_iterations([c for c in curves if c.domain == domain], out_dir, plt))
    return paths


def _plot_iterations(curves: list[Curve], out_dir: Path, plt) -> Path:
    """pass@1, maj@n and pass@n per STaR iteration: the gain from training on verified rationales."""
    curves = sorted(curves, key=lambda c: c.iteration)
    its = [c.iteration for c in curves]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(its, [c.pass_at[1] for c in curves], marker="o", label="pass@1")
    ax.plot(its, [c.maj_at[c.n] for c in curves], marker="s", linestyle="--", label="maj@n")
    ax.plot(its, [c.pass_at[c.n] for c in curves], marker="^", linestyle=":", label="pass@n")
    ax.set_xticks(its)
    ax.set_xlabel("STaR iteration (model M_k)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1)
    ax.set_title(f"{curves[0].domain}: accuracy per iteration")
    ax.grid(True, alpha=0.3)
    ax.legend()
    path = out_dir / f"per_iteration_{curves[0].domain}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def report_rows(curves: list[Curve]) -> list[dict[str, Any]]:
    rows = []
    for c in curves:
        ks = sorted({1, c.n} | {k for k in (2, 4, 8, 16, 32, 64) if k <= c.n})
        for k in ks:
            rows.append({"domain": c.domain, "iteration": c.iteration, "problems": c.problems, "k": k,
                         "pass@k": round(c.pass_at[k], 4), "maj@k": round(c.maj_at[k], 4)})
    return rows
