"""The data contract: records, Arrow schemas, schema version, validation."""

from typing import Any

from schemas.records import (
    DOMAINS,
    SCHEMA_VERSION,
    Candidate,
    Problem,
    SchemaError,
    Verdict,
    candidate_id_for,
    check_file_metadata,
    now_ms,
    problem_id_for,
)

__all__ = [
    "DOMAINS", "SCHEMA_VERSION", "SCHEMAS", "Candidate", "Problem", "SchemaError", "Verdict",
    "candidate_id_for", "check_file_metadata", "check_file_schema", "from_table", "now_ms", "problem_id_for",
    "to_table", "validate",
]

_ARROW_NAMES = {"SCHEMAS", "check_file_schema", "from_table", "to_table", "validate"}


def __getattr__(name: str) -> Any:
    """The Arrow half loads on first use, so a reader that needs only the records (`factory
    query`, which reads through DuckDB) does not pay pyarrow's import (~0.15 s)."""
    if name in _ARROW_NAMES:
        from schemas import arrow

        return getattr(arrow, name)
    raise AttributeError(f"module 'schemas' has no attribute {name!r}")
