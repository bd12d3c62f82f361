"""DuckDB over a run's committed shards: views problems, candidates, verdicts and samples, and
steps when a run has step labels.

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
from schemas.records import VERSION_KEY

RECORDS = {"problems": Problem, "candidates": Candidate, "verdicts": Verdict}
DUCKDB_TYPES = {"str": "VARCHAR", "int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN"}

# One verdict per candidate: the rule verifier's newest version (or the newest at or below the
# version asked for), with the LLM judge's newest verdict beside it, never in its place.
SAMPLES_VIEW = """
CREATE VIEW samples AS
WITH chosen AS (
  SELECT * FROM verdicts WHERE verifier <> 'judge' {version_filter}
  {newest}
), judged AS (
  SELECT candidate_id, passed AS judge_passed, verifier_version AS judge_version FROM verdicts
  WHERE verifier = 'judge' {version_filter}
  QUALIFY row_number() OVER (PARTITION BY candidate_id ORDER BY verdict_version DESC) = 1
)
SELECT c.* EXCLUDE (legacy_extracted_answer),
       coalesce(v.extracted_answer, c.legacy_extracted_answer) AS extracted_answer,
       v.verifier, v.verifier_version, v.verdict_version, v.passed, v.score, v.reason, v.details,
       v.duration_ms AS verify_ms, j.judge_passed, j.judge_version,
       p.prompt, p.reference, p.source, p.metadata AS problem_metadata
FROM candidates c
JOIN chosen v ON v.candidate_id = c.candidate_id
LEFT JOIN judged j ON j.candidate_id = c.candidate_id
-- a problem is stored once per iteration that used it; join one copy
JOIN (SELECT DISTINCT ON (problem_id) * FROM problems) p ON p.problem_id = c.problem_id
"""
NEWEST = "QUALIFY row_number() OVER (PARTITION BY candidate_id ORDER BY verdict_version DESC, created_at_ms DESC) = 1"
# Columns a 1.x shard lacks, and what they read as there.
OLD_DEFAULTS = {"verdict_version": "1"}


def samples_sql(regraded: bool, verdict_version: int | None) -> str:
    """The samples view. A run never re-verified has one verdict per candidate: the plain join
    (no window over a million verdicts) is then exact."""
    version_filter = f"AND verdict_version <= {int(verdict_version)}" if verdict_version is not None else ""
    newest = NEWEST if regraded else ""
    return SAMPLES_VIEW.format(version_filter=version_filter, newest=newest)


def find_runs(path: str | Path) -> list[RunStore]:
    """A run dir, or a folder of run dirs (all of them are unioned)."""
    path = Path(path)
    if (path / MANIFEST).exists():
        return [RunStore(path)]
    runs = sorted(p.parent for p in path.glob(f"*/{MANIFEST}")) if path.is_dir() else []
    if not runs:
        raise FactoryError(f"{path}: no factory run found (no {MANIFEST})")
    return [RunStore(r) for r in runs]


DEFAULT_ROOT = Path("runs")


def describe_runs(stores: list[RunStore], limit: int = 8) -> str:
    """Which runs a query reads, each with its committed chunks (an empty one says so: after a
    failed start a run dir can exist with nothing in it)."""
    names = [f"{s.run_dir} ({n} chunks)" if (n := len(s.committed())) else f"{s.run_dir} (empty)"
             for s in stores[:limit]]
    more = f", and {len(stores) - limit} more" if len(stores) > limit else ""
    return f"reading {len(stores)} run{'s' if len(stores) != 1 else ''}: " + ", ".join(names) + more


# The Hive keys of the layout (`RunStore.partition`), typed as the schema's columns of the same
# name, so a partition value and a column value compare alike (iteration=1 is 1, not '1').
HIVE_TYPES = {"run": "VARCHAR", "iteration": "BIGINT", "domain": "VARCHAR"}


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def columns(table: str) -> dict[str, str]:
    """Column → DuckDB type, from the record dataclass (the contract, as the Arrow schema is)."""
    return {f.name: DUCKDB_TYPES[str(f.type).split("|")[0].strip()] for f in dataclasses.fields(RECORDS[table])}


def view_sql(table: str, files: list[str], present: set[str] | None = None) -> str:
    """The view over a table's files (views take no parameters, so paths are quoted inline).
    `present`: the columns the files have; a column that only newer schema versions write reads
    as its old default (a 1.x verdict is version 1), and a 1.x candidate's extracted_answer is
    kept as `legacy_extracted_answer` for the samples view."""
    present = set(columns(table)) if present is None else present
    selected = [_column_sql(name, kind, present) for name, kind in columns(table).items()]
    if table == "candidates":
        selected.append('"extracted_answer" AS legacy_extracted_answer' if "extracted_answer" in present
                        else "CAST(NULL AS VARCHAR) AS legacy_extracted_answer")
    if not files:
        typed = ", ".join(f'CAST(NULL AS {kind}) AS "{name}"' for name, kind in columns(table).items())
        legacy = ", CAST(NULL AS VARCHAR) AS legacy_extracted_answer" if table == "candidates" else ""
        return f"CREATE VIEW {table} AS SELECT {typed}{legacy} WHERE false"
    return f"CREATE VIEW {table} AS SELECT {', '.join(selected)} FROM {_read_sql(files)}"


def _column_sql(name: str, kind: str, present: set[str]) -> str:
    default = OLD_DEFAULTS.get(name, "NULL")
    if name not in present:
        return f'CAST({default} AS {kind}) AS "{name}"'
    return f'coalesce("{name}", {default}) AS "{name}"' if name in OLD_DEFAULTS else f'"{name}"'


def _read_sql(files: list[str]) -> str:
    hive_types = ", ".join(f"{_sql_str(k)}: {v}" for k, v in HIVE_TYPES.items())
    listed = ", ".join(_sql_str(f) for f in files)
    return (f"read_parquet([{listed}], hive_partitioning = true, hive_types = {{{hive_types}}}, "
            "union_by_name = true)")


# What each schema major version's shards hold beyond / short of the current record.
V1_ONLY = {"candidates": {"extracted_answer"}, "verdicts": set(), "problems": set()}
V2_NEW = {"candidates": set(), "verdicts": {"extracted_answer", "verdict_version"}, "problems": set()}


def present_columns(table: str, majors: set[str]) -> set[str]:
    """The union of the columns of files with these schema major versions (known from their
    key-value metadata, so no extra footer pass)."""
    present = set(columns(table)) - (V2_NEW[table] if "2" not in majors else set())
    return present | (V1_ONLY[table] if "1" in majors else set())


def check_files(con: Any, stores: list[RunStore], table: str, files: list[str]) -> set[str]:
    """Reject a foreign, corrupt or incompatible file by name, reading footers through DuckDB
    (cached for the queries that follow). Returns the schema major versions found."""
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
    return {kv[VERSION_KEY].decode().split(".")[0] for kv in meta.values()}


def connect(path: str | Path, verdict_version: int | None = None) -> Any:
    """Views over the committed shards of a run (or of every run in a folder). `samples` joins
    each candidate with its newest rule verdict, or the newest at or below `verdict_version`."""
    import duckdb

    stores = find_runs(path)
    for store in stores:
        store.check_listing()
    con = duckdb.connect()
    con.execute("SET parquet_metadata_cache = true")
    for table in TABLES:
        files = [str(f) for s in stores for f in s.committed_files(table)]
        present = None
        if files:
            present = present_columns(table, check_files(con, stores, table, files))
        con.execute(view_sql(table, files, present))
    steps = [str(f) for s in stores for f in s.committed_files("steps")]
    if steps:  # step labels (factory label-steps, schemas/steps.py): a view only where a run has them
        listed = ", ".join(_sql_str(f) for f in steps)
        con.execute(f"CREATE VIEW steps AS SELECT * FROM read_parquet([{listed}], hive_partitioning = false, "
                    "union_by_name = true)")
    regraded = any(is_regrading_chunk(chunk) for s in stores for chunk in s.committed())
    con.execute(samples_sql(regraded, verdict_version))
    return con


def is_regrading_chunk(chunk: str) -> bool:
    """Chunks that add verdicts to stored candidates (`factory reverify`, the judge)."""
    return chunk.startswith(("reverify-", "judge-"))


def run_query(path: str | Path, sql: str, verdict_version: int | None = None) -> tuple[list[str], list[tuple]]:
    import duckdb

    con = connect(path, verdict_version)
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

# Grouped by run first: a folder of runs would otherwise count problems distinct across runs
# (a problem many runs sampled counts once) beside candidates summed over them.
STATS_SQL = {
    "by run / domain / iteration": """
        SELECT run_id, domain, iteration, count(DISTINCT problem_id) AS problems, count(*) AS candidates,
               sum(passed::INT) AS passed, round(avg(passed::INT), 4) AS pass_rate
        FROM samples GROUP BY ALL ORDER BY ALL""",
    "by verdict reason": """
        SELECT run_id, domain, iteration, reason, count(*) AS candidates
        FROM samples GROUP BY ALL ORDER BY run_id, domain, iteration, candidates DESC""",
    "by source": """
        SELECT run_id, source, count(DISTINCT problem_id) AS problems, count(*) AS candidates,
               round(avg(passed::INT), 4) AS pass_rate
        FROM samples GROUP BY ALL ORDER BY ALL""",
}


def summary(path: str | Path) -> dict[str, Any]:
    columns, rows = run_query(path, SUMMARY_SQL)
    return dict(zip(columns, rows[0]))
