"""DuckDB over a run's committed shards: views problems, candidates, verdicts and samples.

The views read the files the manifest lists with Hive partitioning on, so a filter on
`iteration` or `domain` skips whole files; each view selects exactly its schema's columns (the
path's `run=` key is not one, and `problems` has no `iteration` column). Footers are read once
per connection (DuckDB's Parquet metadata cache), not once per query."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from factory.errors import FactoryError
from factory.store import MANIFEST, TABLES, RunStore
from schemas import SCHEMAS

SAMPLES_VIEW = """
CREATE VIEW samples AS
SELECT c.*, v.verifier, v.verifier_version, v.passed, v.score, v.reason, v.details,
       v.duration_ms AS verify_ms, p.prompt, p.reference, p.source, p.metadata AS problem_metadata
FROM candidates c
JOIN verdicts v ON v.candidate_id = c.candidate_id
-- a problem is stored once per iteration that used it; join one copy
JOIN (SELECT DISTINCT ON (problem_id) * FROM problems) p ON p.problem_id = c.problem_id
"""


def find_runs(path: str | Path) -> list[RunStore]:
    """A run dir, or a folder of run dirs (all of them are unioned)."""
    path = Path(path)
    if (path / MANIFEST).exists():
        return [RunStore(path)]
    runs = sorted(p.parent for p in path.glob(f"*/{MANIFEST}")) if path.is_dir() else []
    if not runs:
        raise FactoryError(f"{path}: no factory run found (no {MANIFEST})")
    return [RunStore(r) for r in runs]


def latest_run(root: str | Path = "runs") -> Path:
    runs = sorted(Path(root).glob(f"*/{MANIFEST}"), key=lambda p: p.stat().st_mtime)
    if not runs:
        raise FactoryError(f"no runs under {root}/; pass --run RUN_DIR")
    return runs[-1].parent


# The Hive keys of the layout (`RunStore.partition`), typed as the schema's columns of the same
# name, so a partition value and a column value compare alike (iteration=1 is 1, not '1').
HIVE_TYPES = {"run": "VARCHAR", "iteration": "BIGINT", "domain": "VARCHAR"}


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def view_sql(table: str, files: list[str]) -> str:
    """The view over a table's files (views take no parameters, so paths are quoted inline)."""
    columns = ", ".join(f'"{name}"' for name in SCHEMAS[table].names)
    hive_types = ", ".join(f"{_sql_str(k)}: {v}" for k, v in HIVE_TYPES.items())
    listed = ", ".join(_sql_str(f) for f in files)
    return (f"CREATE VIEW {table} AS SELECT {columns} FROM read_parquet([{listed}], hive_partitioning = true, "
            f"hive_types = {{{hive_types}}}, union_by_name = true)")


def connect(path: str | Path) -> Any:
    import duckdb

    stores = find_runs(path)
    for store in stores:
        store.validate()
    con = duckdb.connect()
    con.execute("SET parquet_metadata_cache = true")
    for table in TABLES:
        files = [str(f) for s in stores for f in s.committed_files(table)]
        if files:
            con.execute(view_sql(table, files))
        else:
            empty = SCHEMAS[table].empty_table()
            con.register(f"_{table}_empty", empty)
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM _{table}_empty")
    con.execute(SAMPLES_VIEW)
    return con


def run_query(path: str | Path, sql: str) -> tuple[list[str], list[tuple]]:
    import duckdb

    con = connect(path)
    try:
        cursor = con.execute(sql)
    except duckdb.Error as exc:
        raise FactoryError(f"query failed: {str(exc).splitlines()[0]}") from None
    columns = [d[0] for d in cursor.description or []]
    return columns, cursor.fetchall()


SUMMARY_SQL = """
WITH per_problem AS (
  SELECT problem_id, count(*) AS n, sum(passed::INT) AS c FROM samples GROUP BY problem_id
)
SELECT
  (SELECT count(*) FROM per_problem) AS problems,
  (SELECT count(*) FROM samples) AS candidates,
  (SELECT coalesce(avg(passed::INT), 0) FROM samples) AS pass_rate,
  (SELECT coalesce(avg(c / n), 0) FROM per_problem) AS pass_at_1,
  (SELECT coalesce(avg((c > 0)::INT), 0) FROM per_problem) AS pass_at_n,
  (SELECT coalesce(max(n), 0) FROM per_problem) AS n,
  (SELECT coalesce(sum(completion_tokens), 0) FROM samples) AS completion_tokens
"""

STATS_SQL = {
    "by domain / iteration": """
        SELECT domain, iteration, count(DISTINCT problem_id) AS problems, count(*) AS candidates,
               sum(passed::INT) AS passed, round(avg(passed::INT), 4) AS pass_rate
        FROM samples GROUP BY ALL ORDER BY ALL""",
    "by verdict reason": """
        SELECT domain, iteration, reason, count(*) AS candidates
        FROM samples GROUP BY ALL ORDER BY domain, iteration, candidates DESC""",
    "by source": """
        SELECT source, count(DISTINCT problem_id) AS problems, round(avg(passed::INT), 4) AS pass_rate
        FROM samples GROUP BY ALL ORDER BY ALL""",
}


def summary(path: str | Path) -> dict[str, Any]:
    columns, rows = run_query(path, SUMMARY_SQL)
    return dict(zip(columns, rows[0]))
