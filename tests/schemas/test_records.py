from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas import (SCHEMA_VERSION, SCHEMAS, Candidate, Problem, SchemaError, candidate_id_for,
                     check_file_schema, from_table, to_table, validate)


def make_problem(**kw):
    return Problem(**{"domain": "math", "prompt": "What is 1 + 1?", "reference": "2", "source": "t", **kw})


def test_problem_id_is_a_content_hash():
    assert make_problem().problem_id == make_problem().problem_id
    assert make_problem().problem_id != make_problem(reference="3").problem_id
    assert make_problem().problem_id == make_problem(source="elsewhere").problem_id  # source is not content


def test_candidate_id_is_deterministic_and_distinct():
    a = candidate_id_for("run", 0, "p-1", 0)
    assert a == candidate_id_for("run", 0, "p-1", 0)
    assert len({a, candidate_id_for("run", 1, "p-1", 0), candidate_id_for("run", 0, "p-1", 1),
                candidate_id_for("other", 0, "p-1", 0)}) == 4


def test_schema_derived_from_dataclasses_with_docs_and_version():
    schema = SCHEMAS["candidates"]
    assert schema.field("completion_tokens").type == pa.int64()
    assert "extracted_answer" not in schema.names  # 2.0: it belongs to the verdict
    assert SCHEMAS["verdicts"].field("extracted_answer").nullable
    assert SCHEMAS["verdicts"].field("verdict_version").type == pa.int64()
    assert not schema.field("text").nullable
    assert all(f.metadata[b"doc"] for f in schema)
    assert schema.metadata[b"factory.schema_version"] == SCHEMA_VERSION.encode()


def test_validation_names_record_and_field():
    bad = make_problem()
    bad.prompt = 42  # type: ignore[assignment]
    with pytest.raises(SchemaError, match=r"Problem p-.*'prompt' must be str"):
        validate(bad)
    with pytest.raises(SchemaError, match="unknown domain 'chess'"):
        validate(make_problem(domain="chess"))


def test_round_trip_through_parquet(tmp_path):
    problems = [make_problem(prompt=f"What is {i} + 1?", reference=str(i + 1)) for i in range(3)]
    path = tmp_path / "p.parquet"
    pq.write_table(to_table(problems, "problems"), path)
    table = pq.read_table(path)
    check_file_schema(table.schema, str(path), "problems")
    assert from_table(table, "problems") == problems


def test_incompatible_or_foreign_files_are_rejected(tmp_path):
    schema = SCHEMAS["problems"].with_metadata({b"factory.schema_version": b"9.0", b"factory.table": b"problems"})
    with pytest.raises(SchemaError, match="incompatible"):
        check_file_schema(schema, "x.parquet", "problems")
    with pytest.raises(SchemaError, match="not a factory shard"):
        check_file_schema(pa.schema([("a", pa.int64())]), "x.parquet", "problems")
    with pytest.raises(SchemaError, match="expected 'verdicts'"):
        check_file_schema(SCHEMAS["problems"], "x.parquet", "verdicts")


def test_to_table_rejects_bad_candidate():
    c = Candidate(candidate_id="c", problem_id="p", run_id="r", iteration=0, sample_idx=0, domain="math",
                  model="m", backend="b", prompt_text="", text="", finish_reason="stop",
                  prompt_tokens=1, completion_tokens="many", latency_ms=1.0, temperature=1.0,  # type: ignore
                  top_p=1.0, max_tokens=1, seed=0, hinted=False, created_at_ms=0)
    with pytest.raises(SchemaError, match="completion_tokens"):
        to_table([c], "candidates")
