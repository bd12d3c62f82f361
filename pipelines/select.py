"""Selection of verified rationales for training, in DuckDB SQL over the run's shards.

Rule (documented in the README): per problem of iteration k, take passed candidates; drop
exact duplicates by a normalised-text hash (lower case, whitespace collapsed); rank unhinted
before hinted, then shorter before longer, then candidate id; walk that order and keep a
candidate only if its word-trigram Jaccard similarity to every kept one is ≤ `max_jaccard`
(near-duplicates out, diverse paths in); stop at `per_problem` (the cap that keeps easy
problems from dominating). Optionally drop problems every unhinted sample solved (too easy).
Hinted candidates that mention the hint are dropped so no exported rationale leaks it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from factory.query import connect

# Over `samples`: one verdict per candidate, the newest rule verdict (or the version asked for);
# the LLM judge's verdict counts only when the rules say so (use_judge).
PASSED_SQL = """
WITH graded AS (
  SELECT * FROM samples WHERE iteration = $iteration
), passed AS (
  SELECT candidate_id, problem_id, text, hinted, completion_tokens, sample_idx,
         md5(regexp_replace(lower(trim(text)), '\\s+', ' ', 'g')) AS norm_hash
  FROM graded WHERE passed OR ($use_judge AND coalesce(judge_passed, false))
), solved_all AS (
  SELECT problem_id FROM graded WHERE NOT hinted
  GROUP BY problem_id HAVING bool_and(passed)
), unique_text AS (
  SELECT *, row_number() OVER (PARTITION BY problem_id, norm_hash
                               ORDER BY hinted, completion_tokens, candidate_id) AS copy
  FROM passed
)
SELECT u.candidate_id, u.problem_id, u.text, u.hinted, u.completion_tokens,
       p.prompt, p.reference, p.domain, p.source, s.problem_id IS NOT NULL AS solved_by_all,
       (SELECT count(*) FROM passed q WHERE q.problem_id = u.problem_id) - count(*) OVER (PARTITION BY u.problem_id)
         AS exact_duplicates
FROM unique_text u
JOIN (SELECT DISTINCT ON (problem_id) * FROM problems) p USING (problem_id)
LEFT JOIN solved_all s USING (problem_id)
WHERE u.copy = 1
ORDER BY u.problem_id, u.hinted, u.completion_tokens, u.candidate_id
"""

DEFAULT_LEAKS = [r"\bhint\b", r"\bwe (are|were) told\b", r"\bgiven answer\b", r"\bthe answer is given\b"]


@dataclass
class SelectionRules:
    per_problem: int = 4
    max_jaccard: float = 0.8
    drop_solved_by_all: bool = False
    leak_patterns: list[str] = field(default_factory=lambda: list(DEFAULT_LEAKS))
    verdict_version: int | None = None  # None: the newest verdict of each candidate
    use_judge: bool = False  # also keep candidates the rule verifier failed and the LLM judge passed


@dataclass
class Selection:
    rows: list[dict]
    counts: dict[str, int]


def trigrams(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+|[^\w\s]", text.lower())
    return {tuple(words[i:i + 3]) for i in range(max(1, len(words) - 2))}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def select(run_dir: str | Path, iteration: int, rules: SelectionRules, exclude: set[str] = frozenset()) -> Selection:
    con = connect(run_dir, rules.verdict_version)
    cols = ["candidate_id", "problem_id", "text", "hinted", "completion_tokens", "prompt", "reference", "domain",
            "source", "solved_by_all", "exact_duplicates"]
    rows = [dict(zip(cols, r)) for r in con.execute(PASSED_SQL, {"iteration": iteration, "use_judge": rules.use_judge}).fetchall()]
    leaks = [re.compile(p, re.IGNORECASE) for p in rules.leak_patterns]
    counts = {"passed_unique": len(rows), "exact_duplicates": 0, "near_duplicates": 0, "over_cap": 0,
              "hint_leaks": 0, "too_easy": 0, "contaminated": 0}
    kept: list[dict] = []
    by_problem: dict[str, list[tuple[dict, set]]] = {}
    seen_problems: set[str] = set()
    for row in rows:
        if row["problem_id"] not in seen_problems:
            seen_problems.add(row["problem_id"])
            counts["exact_duplicates"] += row["exact_duplicates"]
        reason = _rejection(row, rules, leaks, exclude, by_problem.get(row["problem_id"], []))
        if reason:
            counts[reason] += 1
            continue
        by_problem.setdefault(row["problem_id"], []).append((row, trigrams(row["text"])))
        kept.append(row)
    counts["selected"] = len(kept)
    counts["problems"] = len(by_problem)
    return Selection(kept, counts)


def _rejection(row: dict, rules: SelectionRules, leaks: list, exclude: set, kept: list) -> str | None:
    if row["problem_id"] in exclude:
        return "contaminated"
    if rules.drop_solved_by_all and row["solved_by_all"]:
        return "too_easy"
    if row["hinted"] and any(p.search(row["text"]) for p in leaks):
        return "hint_leaks"
    if len(kept) >= rules.per_problem:
        return "over_cap"
    grams = trigrams(row["text"])
    if any(jaccard(grams, other) > rules.max_jaccard for _, other in kept):
        return "near_duplicates"
    return None
