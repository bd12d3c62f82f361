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
    pq.write_table(table.replace_schema_metadata({b"factory.schema_version": b"2.0",
                                                  b"factory.table": b"candidates"}), path)
    with pytest.raises(FactoryError, match=r"it0-math-00000.parquet: schema version 2.0 is incompatible"):
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
