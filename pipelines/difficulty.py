"""Difficulty from pass rates (#14): per problem, the share of a run's unhinted samples that
passed, put in a band and tagged `all_solved` / `none_solved`; exported for curricula
(`difficulty.parquet`) and as a verl RL set of the problems inside a pass-rate band
(`verl.parquet`). Problems every sample solves teach RL nothing (no advantage), and so do
problems none solves; the band keeps the ones in between.

Any run works as input: a `factory run` over synthesized problems (pass rates of the model to be
trained), or a synthesis run itself (whose samples measure agreement with the majority label).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from factory import atomic
from factory.errors import FactoryError
from pipelines.export import MESSAGE, _prompt

PER_PROBLEM_SQL = """
SELECT problem_id, any_value(domain) AS domain, any_value(prompt) AS prompt, any_value(reference) AS reference,
       any_value(source) AS source, count(*) AS n, sum(passed::INT) AS passed
FROM samples WHERE NOT hinted GROUP BY problem_id ORDER BY problem_id
"""

DIFFICULTY_SCHEMA = pa.schema([
    ("problem_id", pa.string()), ("domain", pa.string()), ("prompt", pa.string()), ("reference", pa.string()),
    ("n", pa.int64()), ("passed", pa.int64()), ("pass_rate", pa.float64()), ("band", pa.string()), ("tag", pa.string()),
])
VERL_BAND_SCHEMA = pa.schema([
    ("data_source", pa.string()), ("prompt", pa.list_(MESSAGE)), ("ability", pa.string()),
    ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
    ("extra_info", pa.struct([("problem_id", pa.string()), ("index", pa.int64()), ("pass_rate", pa.float64()),
                              ("band", pa.string())])),
])


@dataclass
class Bands:
    edges: list[float] = field(default_factory=lambda: [0.25, 0.5, 0.75])  # band i: edges[i-1] <= rate < edges[i]

    def __post_init__(self) -> None:
        if sorted(self.edges) != self.edges or not all(0 < e < 1 for e in self.edges):
            raise FactoryError("difficulty bands: edges must be increasing, inside (0, 1)")

    def name(self, rate: float) -> str:
        bounds = [0.0, *self.edges, 1.0]
        for lo, hi in zip(bounds, bounds[1:]):
            if rate < hi or hi == 1.0:
                return f"[{lo:g},{hi:g}{']' if hi == 1.0 else ')'}"
        raise AssertionError("unreachable")


def tag(passed: int, n: int) -> str:
    return "all_solved" if passed == n else "none_solved" if passed == 0 else "mixed"


def difficulty_rows(run_dir: str | Path, bands: Bands) -> list[dict]:
    from factory.query import run_query

    columns, rows = run_query(run_dir, PER_PROBLEM_SQL)
    out = []
    for row in rows:
        r = dict(zip(columns, row))
        rate = r["passed"] / r["n"]
        out.append({**r, "pass_rate": rate, "band": bands.name(rate), "tag": tag(r["passed"], r["n"])})
    return out


def export_difficulty(run_dir: str | Path, out_dir: str | Path, band: tuple[float, float] = (0.0, 1.0),
                      bands: Bands | None = None, system_prompt: str = "", keep_solved: bool = False) -> dict:
    """difficulty.parquet (every problem) and verl.parquet (pass rate in [lo, hi]; all-solved and
    none-solved problems left out unless `keep_solved`). Returns the paths and counts."""
    lo, hi = band
    if not 0 <= lo <= hi <= 1:
        raise FactoryError(f"pass-rate band {lo}:{hi}: need 0 <= lo <= hi <= 1")
    rows = difficulty_rows(run_dir, bands or Bands())
    if not rows:
        raise FactoryError(f"{run_dir}: no verdicts to compute pass rates from")
    chosen = [r for r in rows if lo <= r["pass_rate"] <= hi and (keep_solved or r["tag"] == "mixed")]
    verl = [{"data_source": r["source"], "prompt": _prompt(system_prompt, r["prompt"]), "ability": r["domain"],
             "reward_model": {"style": "rule", "ground_truth": r["reference"]},
             "extra_info": {"problem_id": r["problem_id"], "index": i, "pass_rate": r["pass_rate"], "band": r["band"]}}
            for i, r in enumerate(chosen)]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"difficulty": out / "difficulty.parquet", "verl": out / "verl.parquet"}
    for key, data, schema in (("difficulty", rows, DIFFICULTY_SCHEMA), ("verl", verl, VERL_BAND_SCHEMA)):
        with atomic.atomic_write(paths[key]) as fh:  # a crash leaves the old export or the new one, never half
            pq.write_table(pa.Table.from_pylist([{k: d[k] for k in schema.names} for d in data], schema=schema), fh)
    tags = {t: sum(r["tag"] == t for r in rows) for t in ("all_solved", "mixed", "none_solved")}
    by_band: dict[str, int] = {}
    for r in rows:
        by_band[r["band"]] = by_band.get(r["band"], 0) + 1
    return {"paths": {k: str(v) for k, v in paths.items()}, "problems": len(rows), "exported": len(chosen),
            "tags": tags, "bands": dict(sorted(by_band.items()))}
