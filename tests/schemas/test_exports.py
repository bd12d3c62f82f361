"""The export contract: versioned SFT, verl and PRM layouts, checked by readers."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from factory.errors import FactoryError
from pipelines.export import write_exports
from schemas.exports import EXPORTS, ExportSchemaError, check_export, export_schema, export_table


def test_exports_carry_their_kind_and_version(tmp_path):
    rows = [{"prompt": "1+1?", "text": "\\boxed{2}", "problem_id": "p", "candidate_id": "c", "hinted": False,
             "domain": "math"}]
    problems = [{"source": "t", "prompt": "1+1?", "domain": "math", "reference": "2", "problem_id": "p"}]
    paths = write_exports(rows, problems, tmp_path, "Be brief.")
    for kind in ("sft", "verl"):
        schema = pq.read_schema(paths[kind])
        assert check_export(schema, kind, paths[kind]) == EXPORTS[kind][0]
        with pytest.raises(ExportSchemaError, match=f"a {kind} export, not"):
            check_export(schema, "prm" if kind == "sft" else "sft")
    assert not list(tmp_path.glob(".tmp-*"))
    sft = pq.read_table(paths["sft"]).to_pylist()[0]
    assert [m["role"] for m in sft["messages"]] == ["system", "user", "assistant"]


def test_an_incompatible_major_version_is_refused_and_unversioned_files_still_read(tmp_path):
    schema = export_schema("prm")
    newer = schema.with_metadata({**schema.metadata, b"factory.export_version": b"2.0"})
    with pytest.raises(ExportSchemaError, match="prm export version 2.0 is incompatible"):
        check_export(newer, "prm", "x.parquet")
    assert check_export(EXPORTS["sft"][1], "sft") == "unversioned"  # written before versions
    with pytest.raises(ExportSchemaError, match="no column 'messages'"):
        check_export(pa.schema([("text", pa.string())]), "sft", "theirs.parquet")


def test_the_builtin_trainer_refuses_a_file_that_is_not_an_sft_export(tmp_path):
    from factory.train import load_rows

    pq.write_table(export_table("verl", []), tmp_path / "sft.parquet")
    with pytest.raises(FactoryError, match="a verl export, not sft"):
        load_rows(tmp_path)
