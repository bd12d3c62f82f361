from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from factory.config import SourceSection
from factory.errors import FactoryError
from factory.sources import load_problems

ROWS = [
    {"question": "What is 2 + 2?", "answer": "Two and two.\n#### 4", "extra": "kept"},
    {"question": "What is 3 * 3?", "answer": "#### 9"},
]


def load(name, tmp_path, **options):
    return load_problems([SourceSection(name, options)], str(tmp_path), 0)


def test_jsonl_with_gsm8k_answers(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n\n")
    problems = load("jsonl", tmp_path, path="p.jsonl", answer_after="####")
    assert [(p.prompt, p.reference) for p in problems] == [("What is 2 + 2?", "4"), ("What is 3 * 3?", "9")]
    assert json.loads(problems[0].metadata)["extra"] == "kept"
    assert json.loads(problems[0].metadata)["origin"].endswith("p.jsonl:1")


@pytest.mark.parametrize("content,message", [
    ('{"question": "q", "answer": "1"}\n{not json\n', r"p.jsonl:2: invalid JSON"),
    ('{"answer": "1"}\n', r"p.jsonl:1: no prompt field"),
    ('[1, 2]\n', r"p.jsonl:1: expected an object"),
    ('{"question": "", "answer": "1"}\n', r"p.jsonl:1: prompt must be a non-empty string"),
])
def test_bad_jsonl_names_the_line(tmp_path, content, message):
    (tmp_path / "p.jsonl").write_text(content)
    with pytest.raises(FactoryError, match=message):
        load("jsonl", tmp_path, path="p.jsonl")


def test_bad_utf8_names_the_line_instead_of_replacing_it(tmp_path):
    (tmp_path / "p.jsonl").write_bytes(b'{"question": "q", "answer": "1"}\n{"question": "caf\xe9", "answer": "2"}\n')
    with pytest.raises(FactoryError, match=r"p.jsonl:2: not UTF-8"):
        load("jsonl", tmp_path, path="p.jsonl")


def test_missing_file(tmp_path):
    with pytest.raises(FactoryError, match="problem file not found"):
        load("jsonl", tmp_path, path="absent.jsonl")


def test_parquet_source_and_dedup(tmp_path):
    pq.write_table(pa.Table.from_pylist(ROWS + ROWS), tmp_path / "p.parquet")
    problems = load("parquet", tmp_path, path="p.parquet", answer_after="####", limit=3)
    assert len(problems) == 2  # limit 3 rows, the third is a duplicate by content hash


def test_corrupt_parquet_is_named(tmp_path):
    (tmp_path / "p.parquet").write_bytes(b"not parquet")
    with pytest.raises(FactoryError, match=r"p.parquet: cannot read as Parquet"):
        load("parquet", tmp_path, path="p.parquet")


def test_hf_datasets_saved_to_disk_and_data_files(tmp_path):
    import datasets

    ds = datasets.Dataset.from_list([{"problem": "What is 5 - 1?", "solution": "4"}] * 1
                                    + [{"problem": "What is 6 - 1?", "solution": "5"}])
    datasets.DatasetDict({"test": ds}).save_to_disk(str(tmp_path / "saved"))
    saved = load("hf_datasets", tmp_path, path="saved", split="test")
    assert [p.reference for p in saved] == ["4", "5"]
    (tmp_path / "p.jsonl").write_text("\n".join(json.dumps(r) for r in ROWS))
    from_files = load("hf_datasets", tmp_path, path="p.jsonl", builder="json", answer_after="####")
    assert [p.reference for p in from_files] == ["4", "9"]
    assert saved[0].source == "hf_datasets"
