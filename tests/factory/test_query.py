"""factory.query: DuckDB views over the manifest's files, checked once per connection."""

from __future__ import annotations

import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from factory.errors import FactoryError
from factory.query import connect
from factory.store import RunStore
from tests.factory.store.test_compact import chunk_tables, make_run


def test_a_corrupt_shard_is_named(tmp_path):
    store = make_run(tmp_path, chunks=2)
    store.committed_files("verdicts")[1].write_bytes(b"PAR1 garbage")
    with pytest.raises(FactoryError, match=r"it0-math-00001.parquet: corrupt or unreadable shard"):
        connect(store.run_dir)


def test_an_incompatible_shard_is_named(tmp_path):
    store = make_run(tmp_path, chunks=1)
    path = store.committed_files("candidates")[0]
    table = chunk_tables(0)["candidates"]
    pq.write_table(table.replace_schema_metadata({b"factory.schema_version": b"3.0",
                                                  b"factory.table": b"candidates"}), path)
    with pytest.raises(FactoryError, match=r"it0-math-00000.parquet: schema version 3.0 is incompatible"):
        connect(store.run_dir)


def test_an_empty_run_has_typed_empty_views(tmp_path):
    RunStore(tmp_path / "r").open_run({"config_hash": "h"})
    con = connect(tmp_path / "r")
    assert con.execute("SELECT count(*), sum(passed::INT) FROM samples").fetchone() == (0, None)
    types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE candidates)").fetchall())
    assert types["iteration"] == "BIGINT" and types["hinted"] == "BOOLEAN"


def test_querying_does_not_import_pyarrow(tmp_path):
    store = make_run(tmp_path, chunks=2)
    code = ("import sys; from factory.query import connect; "
            f"print(connect({str(store.run_dir)!r}).execute('SELECT count(*) FROM samples').fetchone()[0]); "
            "print('pyarrow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["12", "False"]


def _as_v1(tables: dict) -> dict:
    """The same chunk as a 1.x writer stored it: the extracted answer on the candidate, verdicts
    without extracted_answer / verdict_version."""
    import pyarrow as pa

    cands, verds = tables["candidates"], tables["verdicts"]
    answers = verds.column("extracted_answer")
    cands = cands.append_column(pa.field("extracted_answer", pa.string()), answers)
    verds = verds.drop_columns(["extracted_answer", "verdict_version"])
    v1 = {b"factory.schema_version": b"1.0"}
    return {"problems": tables["problems"].replace_schema_metadata({**tables["problems"].schema.metadata, **v1}),
            "candidates": cands.replace_schema_metadata({**tables["candidates"].schema.metadata, **v1}),
            "verdicts": verds.replace_schema_metadata({**tables["verdicts"].schema.metadata, **v1})}


@pytest.mark.parametrize("mixed", [False, True])
def test_schema_1_shards_still_read(tmp_path, mixed):
    """A 1.x run (or a run resumed by a 2.x writer) reads with the extracted answer on the
    verdict side and every old verdict as version 1."""
    store = RunStore(tmp_path / "r", compact_threshold=0)
    store.open_run({"config_hash": "h"})
    store.commit("it0-math-00000", 0, "math", _as_v1(chunk_tables(0)))
    if mixed:
        store.commit("it0-math-00001", 0, "math", chunk_tables(1))
    con = connect(store.run_dir)
    rows = con.execute("SELECT extracted_answer, verdict_version, sample_idx FROM samples").fetchall()
    assert rows and all(answer == str(k) and version == 1 for answer, version, k in rows)
    assert "extracted_answer" not in {r[0] for r in con.execute("DESCRIBE candidates").fetchall()}
