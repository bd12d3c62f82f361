"""The training exports' contract: SFT, verl and PRM Parquet files, each with a versioned schema.

Trainers outside this repository read these files, so their layout is a contract like the
store's tables: every export stores `factory.export` (which one) and `factory.export_version`
in its Parquet metadata, and `check_export` rejects another export kind or another major version
with a clear error. A new optional column is a minor version; removing, renaming or retyping a
column is a major one.

- **sft** (`sft.parquet`): chat `messages` for TRL's SFTTrainer / `datasets.load_dataset("parquet")`:
  `messages` [{role, content}] (optional system prompt, the problem's own prompt as the user turn,
  the selected solution as the assistant turn), `problem_id`, `candidate_id`, `hinted` (the
  solution came from a rationalization prompt; the hint itself is never exported), `domain`.
- **verl** (`verl.parquet`): verl's RL layout, one row per training problem: `data_source` (the
  problem's source), `prompt` [{role, content}], `ability` (domain), `reward_model` {style =
  "rule", ground_truth = the reference}, `extra_info` {problem_id, index}.
- **prm** (PRM export): TRL's stepwise supervision, one row per labelled candidate: `prompt`,
  `completions` (step texts in order, trailing whitespace stripped: TRL appends its separator),
  `labels` (one bool per step), `mc_values` (each step's rollout success share), `candidate_id`,
  `problem_id`.
"""

from __future__ import annotations

import pyarrow as pa

EXPORT_KEY = b"factory.export"
EXPORT_VERSION_KEY = b"factory.export_version"

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])

EXPORTS: dict[str, tuple[str, pa.Schema]] = {
    "sft": ("1.0", pa.schema([("messages", pa.list_(MESSAGE)), ("problem_id", pa.string()),
                              ("candidate_id", pa.string()), ("hinted", pa.bool_()), ("domain", pa.string())])),
    "verl": ("1.0", pa.schema([
        ("data_source", pa.string()), ("prompt", pa.list_(MESSAGE)), ("ability", pa.string()),
        ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
        ("extra_info", pa.struct([("problem_id", pa.string()), ("index", pa.int64())])),
    ])),
    "prm": ("1.0", pa.schema([("prompt", pa.string()), ("completions", pa.list_(pa.string())),
                              ("labels", pa.list_(pa.bool_())), ("mc_values", pa.list_(pa.float64())),
                              ("candidate_id", pa.string()), ("problem_id", pa.string())])),
}


class ExportSchemaError(ValueError):
    pass


def export_schema(kind: str) -> pa.Schema:
    """The export's Arrow schema with its kind and version in the metadata."""
    version, schema = EXPORTS[kind]
    return schema.with_metadata({EXPORT_KEY: kind.encode(), EXPORT_VERSION_KEY: version.encode()})


def export_table(kind: str, rows: list[dict] | pa.Table) -> pa.Table:
    schema = export_schema(kind)
    if isinstance(rows, pa.Table):
        return rows.select(schema.names).cast(schema)
    return pa.Table.from_pylist(rows, schema=schema)


def check_export(schema: pa.Schema, kind: str, where: str = "export") -> str:
    """The file's export version, if it is a `kind` export this code reads; else a clear error."""
    meta = schema.metadata or {}
    found, version = meta.get(EXPORT_KEY), meta.get(EXPORT_VERSION_KEY)
    if found is None or version is None:  # written before exports were versioned: 1.0's layout, if it has it
        _check_columns(schema, kind, where)
        return "unversioned"
    if found.decode() != kind:
        raise ExportSchemaError(f"{where}: a {found.decode()} export, not {kind}")
    ours = EXPORTS[kind][0]
    if version.decode().split(".")[0] != ours.split(".")[0]:
        raise ExportSchemaError(f"{where}: {kind} export version {version.decode()} is incompatible with this "
                                f"reader ({ours}); re-export it")
    _check_columns(schema, kind, where)
    return version.decode()


def _check_columns(schema: pa.Schema, kind: str, where: str) -> None:
    missing = [name for name in EXPORTS[kind][1].names if name not in schema.names]
    if missing:
        raise ExportSchemaError(f"{where}: not a {kind} export this reader knows (no column {missing[0]!r})")
