"""Arrow schemas derived from the record dataclasses, plus validation and version checks."""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any, Iterable

import pyarrow as pa

from schemas.records import (DOMAINS, SCHEMA_VERSION, TABLE_KEY, VERSION_KEY, Candidate, Problem, SchemaError,
                             Verdict, check_file_metadata)
from schemas.steps import StepLabel

_ARROW_TYPES: dict[Any, pa.DataType] = {
    str: pa.string(),
    int: pa.int64(),
    float: pa.float64(),
    bool: pa.bool_(),
}

RECORDS: dict[str, type] = {"problems": Problem, "candidates": Candidate, "verdicts": Verdict,
                             "steps": StepLabel}  # steps: process labels (schemas/steps.py), not in every run


def _field_type(hint: Any) -> tuple[pa.DataType, bool]:
    """Map a type hint to (arrow type, nullable)."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return _ARROW_TYPES[args[0]], True
    return _ARROW_TYPES[hint], False


def schema_for(record_type: type) -> pa.Schema:
    hints = typing.get_type_hints(record_type)
    fields = []
    for f in dataclasses.fields(record_type):
        arrow_type, nullable = _field_type(hints[f.name])
        fields.append(pa.field(f.name, arrow_type, nullable=nullable,
                               metadata={"doc": f.metadata.get("doc", "")}))
    table = next(name for name, rt in RECORDS.items() if rt is record_type)
    return pa.schema(fields, metadata={VERSION_KEY: SCHEMA_VERSION.encode(), TABLE_KEY: table.encode()})


SCHEMAS: dict[str, pa.Schema] = {name: schema_for(rt) for name, rt in RECORDS.items()}


@functools.cache
def _field_checks(record_type: type) -> tuple[tuple[str, type, bool], ...]:
    """(name, python type, nullable) per field, computed once per record type."""
    hints = typing.get_type_hints(record_type)
    python_type = {arrow: py for py, arrow in _ARROW_TYPES.items()}
    checks = []
    for f in dataclasses.fields(record_type):
        arrow_type, nullable = _field_type(hints[f.name])
        checks.append((f.name, python_type[arrow_type], nullable))
    return tuple(checks)


def validate(record: Any) -> None:
    """Raise SchemaError naming the record and field when a value breaks the contract."""
    for name, expected, nullable in _field_checks(type(record)):
        value = getattr(record, name)
        if value is None:
            if not nullable:
                raise SchemaError(f"{_describe(record)}: field {name!r} is required")
            continue
        kind = type(value)
        if kind is expected or (expected is float and kind is int):
            continue
        if kind is bool or not isinstance(value, expected):
            raise SchemaError(f"{_describe(record)}: field {name!r} must be {expected.__name__}, got {kind.__name__}")
    domain = getattr(record, "domain", None)
    if domain is not None and domain not in DOMAINS:
        raise SchemaError(f"{_describe(record)}: unknown domain {domain!r} (expected one of {', '.join(DOMAINS)})")


def _describe(record: Any) -> str:
    ident = getattr(record, "candidate_id", None) or getattr(record, "problem_id", "?")
    return f"{type(record).__name__} {ident}"


def to_table(records: Iterable[Any], table: str) -> pa.Table:
    """Records → Arrow table with the contract schema (column-wise, validated)."""
    schema = SCHEMAS[table]
    rows = list(records)
    for r in rows:
        validate(r)
    columns = {name: [getattr(r, name) for r in rows] for name in schema.names}
    return pa.Table.from_pydict(columns, schema=schema)


def from_table(table: pa.Table, name: str) -> list[Any]:
    """Records from a table of any readable schema version: columns the record no longer has
    (a 1.x candidate's extracted_answer) are left out; new fields take their defaults."""
    record_type = RECORDS[name]
    known = {f.name for f in dataclasses.fields(record_type)}
    return [record_type(**{k: v for k, v in row.items() if k in known}) for row in table.to_pylist()]


def check_file_schema(schema: pa.Schema, path: str, table: str) -> None:
    """Reject a Parquet file that is foreign or of an incompatible schema version."""
    check_file_metadata(schema.metadata or {}, path, table)
