"""DuckDB over a run's committed shards: views problems, candidates, verdicts and samples.

The views read the files the manifest lists with Hive partitioning on, so a filter on
`iteration` or `domain` skips whole files; each view selects exactly its schema's columns (the
path's `run=` key is not one, and `problems` has no `iteration` column). Footers are read once
per connection: the files' schema check reads them through DuckDB's Parquet metadata cache, and
the queries reuse it. No pyarrow on this path (its import alone costs ~0.15 s)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dataclasses

from factory.errors import FactoryError
from factory.store import MANIFEST, TABLES, RunStore
from schemas import Candidate, Problem, SchemaError, Verdict, check_file_metadata

RECORDS = {"problems": Problem, "candidates": Candidate, "verdicts": Verdict}
DUCKDB_TYPES = {"str": "VARCHAR", "int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN"}

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


def columns(table: str) -> dict[str, str]:
    """Column → DuckDB type, from the record dataclass (the contract, as the Arrow schema is)."""
    return {f.name: DUCKDB_TYPES[str(f.type).split("|")[0].strip()] for f in dataclasses.fields(RECORDS[table])}


def view_sql(table: str, files: list[str]) -> str:
    """The view over a table's files (views take no parameters, so paths are quoted inline)."""
    names = ", ".join(f'"{name}"' for name in columns(table))
    if not files:
        typed = ", ".join(f'CAST(NULL AS {kind}) AS "{name}"' for name, kind in columns(table).items())
        return f"CREATE VIEW {table} AS SELECT {typed} WHERE false"
    hive_types = ", ".join(f"{_sql_str(k)}: {v}" for k, v in HIVE_TYPES.items())
    listed = ", ".join(_sql_str(f) for f in files)
    return (f"CREATE VIEW {table} AS SELECT {names} FROM read_parquet([{listed}], hive_partitioning = true, "
            f"hive_types = {{{hive_types}}}, union_by_name = true)")


def check_files(con: Any, stores: list[RunStore], table: str, files: list[str]) -> None:
    """Reject a foreign, corrupt or incompatible file by name, reading footers through DuckDB
    (cached for the queries that follow)."""
    import duckdb

    try:
        rows = con.execute("SELECT file_name, key, value FROM parquet_kv_metadata(?) "
                           "WHERE decode(key) IN ('factory.schema_version', 'factory.table')", [files]).fetchall()
    except duckdb.Error as exc:
        for store in stores:
            store.check_footers()  # names the file, as DuckDB's message may not
        raise FactoryError(f"{table}: unreadable shard ({str(exc).splitlines()[0]})") from None
    meta: dict[str, dict[bytes, bytes]] = {f: {} for f in files}
    for name, key, value in rows:
        meta.setdefault(name, {})[bytes(key)] = bytes(value)
    try:
        for name, kv in meta.items():
            check_file_metadata(kv, name, table)
    except SchemaError as exc:
        raise FactoryError(str(exc)) from None


def connect(path: str | Path) -> Any:
    import duckdb

    stores = find_runs(path)
    for store in stores:
        store.check_listing()
    con = duckdb.connect()
    con.execute("SET parquet_metadata_cache = true")
    for table in TABLES:
        files = [str(f) for s in stores for f in s.committed_files(table)]
        if files:
            check_files(con, stores, table, files)
        con.execute(view_sql(table, files))
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
