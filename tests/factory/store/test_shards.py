from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from factory.errors import FactoryError
from factory.store import MANIFEST, RunStore
from schemas import Problem, to_table


def tables(n: int, offset: int = 0) -> dict[str, pa.Table]:
    problems = [Problem(domain="math", prompt=f"What is {i}?", reference=str(i), source="t")
                for i in range(offset, offset + n)]
    return {"problems": to_table(problems, "problems")}


def test_commit_writes_hive_layout_and_manifest(tmp_path):
    store = RunStore(tmp_path / "r1")
    store.open_run({"config_hash": "h"})
    entry = store.commit("it0-math-00000", 0, "math", tables(3))
    path = tmp_path / "r1" / entry.files["problems"]
    assert path.parts[-4:] == ("run=r1", "iteration=0", "domain=math", "it0-math-00000.parquet")
    assert pq.read_metadata(path).num_rows == 3
    assert pq.read_metadata(path).row_group(0).column(0).compression == "ZSTD"
    assert RunStore(tmp_path / "r1").committed() == {"it0-math-00000"}
    assert not list((tmp_path / "r1").rglob(".tmp-*"))


def test_double_commit_is_refused(tmp_path):
    store = RunStore(tmp_path / "r")
    store.open_run({"config_hash": "h"})
    store.commit("it0-math-00000", 0, "math", tables(1))
    with pytest.raises(FactoryError, match="already committed"):
        store.commit("it0-math-00000", 0, "math", tables(1))


def test_torn_manifest_line_is_ignored_and_repaired(tmp_path):
    store = RunStore(tmp_path / "r")
    store.open_run({"config_hash": "h"})
    store.commit("it0-math-00000", 0, "math", tables(2))
    with open(tmp_path / "r" / MANIFEST, "a") as fh:
        fh.write('{"chunk": "it0-math-00001", "iter')  # crash mid-append
    fresh = RunStore(tmp_path / "r")
    assert fresh.committed() == {"it0-math-00000"}
    fresh.commit("it0-math-00001", 0, "math", tables(2, offset=2))
    assert RunStore(tmp_path / "r").committed() == {"it0-math-00000", "it0-math-00001"}
    assert RunStore(tmp_path / "r").read("problems").num_rows == 4


def test_orphan_shard_is_ignored_then_overwritten(tmp_path):
    store = RunStore(tmp_path / "r")
    store.open_run({"config_hash": "h"})
    orphan = tmp_path / "r" / store.partition("problems", 0, "math") / "it0-math-00000.parquet"
    orphan.parent.mkdir(parents=True)
    pq.write_table(tables(5)["problems"], orphan)  # renamed into place, manifest never written
    store.validate()
    assert store.read("problems").num_rows == 0
    store.commit("it0-math-00000", 0, "math", tables(2))
    assert RunStore(tmp_path / "r").read("problems").num_rows == 2


def test_corrupt_and_foreign_files_are_named(tmp_path):
    store = RunStore(tmp_path / "r")
    store.open_run({"config_hash": "h"})
    entry = store.commit("it0-math-00000", 0, "math", tables(2))
    foreign = tmp_path / "r" / "problems" / "theirs.parquet"
    pq.write_table(pa.table({"x": [1]}), foreign)
    with pytest.raises(FactoryError, match="theirs.parquet: foreign Parquet"):
        store.validate()
    foreign.unlink()
    (tmp_path / "r" / entry.files["problems"]).write_bytes(b"PAR1 garbage")
    with pytest.raises(FactoryError, match="it0-math-00000.parquet: corrupt"):
        RunStore(tmp_path / "r").validate()


def test_reopening_with_a_different_config_is_refused(tmp_path):
    RunStore(tmp_path / "r").open_run({"config_hash": "a"})
    RunStore(tmp_path / "r").open_run({"config_hash": "a"})
    with pytest.raises(FactoryError, match="different config"):
        RunStore(tmp_path / "r").open_run({"config_hash": "b"})


def test_a_damaged_line_inside_the_manifest_is_an_error_naming_it(tmp_path):
    store = RunStore(tmp_path / "r")
    store.open_run({"config_hash": "h"})
    store.commit("it0-math-00000", 0, "math", tables(1))
    store.commit("it0-math-00001", 0, "math", tables(1, offset=1))
    manifest = tmp_path / "r" / MANIFEST
    first, second = manifest.read_text().splitlines()
    manifest.write_text(first + "\n" + "garbage}\n" + second + "\n")
    with pytest.raises(FactoryError, match=r"manifest.jsonl:2: not a manifest entry"):
        RunStore(tmp_path / "r").committed()


def test_a_temp_file_left_by_a_killed_write_is_removed_on_resume(tmp_path):
    store = RunStore(tmp_path / "r")
    store.open_run({"config_hash": "h"})
    store.commit("it0-math-00000", 0, "math", tables(1))
    partition = tmp_path / "r" / store.partition("problems", 0, "math")
    leftover = partition / ".tmp-0123abcd-it0-math-00001.parquet"
    leftover.write_bytes(b"PAR1 half a file")
    RunStore(tmp_path / "r").validate()  # a reader is not stopped by it
    RunStore(tmp_path / "r").open_run({"config_hash": "h"})  # resume cleans it
    assert not leftover.exists()


def test_a_second_writer_of_the_same_run_is_refused(tmp_path):
    import fcntl

    store = RunStore(tmp_path / "r", "r")
    with store.writer_lock():
        with open(tmp_path / "r" / ".lock") as other:  # another open file: as another process holds it
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(FactoryError, match=r"being written by another process \(pid \d+\)"):
            with RunStore(tmp_path / "r", "r").writer_lock():
                pass
    with RunStore(tmp_path / "r", "r").writer_lock():  # released: the next writer may go
        pass
