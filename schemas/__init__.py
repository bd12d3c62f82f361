"""The data contract: records, Arrow schemas, schema version, validation."""

from schemas.arrow import SCHEMAS, SchemaError, check_file_schema, from_table, to_table, validate
from schemas.records import (
    DOMAINS,
    SCHEMA_VERSION,
    Candidate,
    Problem,
    Verdict,
    candidate_id_for,
    now_ms,
    problem_id_for,
)

__all__ = [
    "DOMAINS", "SCHEMA_VERSION", "SCHEMAS", "Candidate", "Problem", "SchemaError", "Verdict",
    "candidate_id_for", "check_file_schema", "from_table", "now_ms", "problem_id_for",
    "to_table", "validate",
]
