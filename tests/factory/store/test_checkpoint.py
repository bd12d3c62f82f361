"""The manifest checkpoint: opening a run replays only the lines after it, and it is trusted
only when it provably covers a prefix of the manifest."""

from __future__ import annotations

import json

import pytest

from factory import atomic
from factory.errors import FactoryError
from factory.store import MANIFEST, RunStore, compact
from factory.store.checkpoint import CHECKPOINT
from tests.factory.store.test_compact import Crash, chunk_tables, ids, make_run


def state(run_dir) -> tuple:
    store = RunStore(run_dir)
    live = store.live()  # replaced files: a replay lists all, a checkpoint those not yet deleted
    return store.committed(), live.tables, {r for r in live.replaced if (run_dir / r).exists()}


def replayed(run_dir) -> tuple:
    """The state from the manifest alone."""
    saved = (run_dir / CHECKPOINT).read_bytes()
    (run_dir / CHECKPOINT).unlink()
    try:
        return state(run_dir)
    finally:
        (run_dir / CHECKPOINT).write_bytes(saved)


def test_compaction_writes_a_checkpoint_that_equals_a_full_replay(tmp_path):
    store = make_run(tmp_path, chunks=4)
    assert not (store.run_dir / CHECKPOINT).exists()  # commits alone never write one
    compact(store)
    cp = json.loads((store.run_dir / CHECKPOINT).read_text())
    assert cp["manifest_bytes"] == (store.run_dir / MANIFEST).stat().st_size and cp["manifest_lines"] == 7
    assert state(store.run_dir) == replayed(store.run_dir)
    # later commits are replayed after it
    store.commit("it0-math-00004", 0, "math", chunk_tables(4))
    store.commit("it1-math-00000", 1, "math", chunk_tables(5, it=1))
    assert state(store.run_dir) == replayed(store.run_dir)
    assert len(RunStore(store.run_dir).committed()) == 6 and len(ids(store.run_dir)) == 36


def test_commits_at_the_threshold_checkpoint_and_the_reader_skips_the_covered_lines(tmp_path, monkeypatch):
    store = make_run(tmp_path, chunks=4, threshold=3)
    covered = json.loads((store.run_dir / CHECKPOINT).read_text())["manifest_lines"]
    assert covered == 6  # 3 chunks and 3 merges; the 4th chunk's line comes after
    seen = []
    real = RunStore._read_manifest

    def spy(self, path):
        for where, entry in real(self, path):
            seen.append(where.rsplit(":", 1)[1])
            yield where, entry

    monkeypatch.setattr(RunStore, "_read_manifest", spy)
    assert len(RunStore(store.run_dir).committed()) == 4
    assert seen == ["7"]


def test_a_bad_line_after_the_checkpoint_is_named_by_its_line_in_the_whole_file(tmp_path):
    store = make_run(tmp_path, chunks=2)
    compact(store)  # 2 chunk lines + 3 merge lines covered
    store.commit("it0-math-00002", 0, "math", chunk_tables(2))
    with open(store.run_dir / MANIFEST, "ab") as fh:
        fh.write(b"garbage}\n")
    store2 = RunStore(store.run_dir)
    with open(store.run_dir / MANIFEST, "ab") as fh:
        fh.write(json.dumps({"chunk": "x"}).encode() + b"\n")
    with pytest.raises(FactoryError, match=r"manifest.jsonl:7: not a manifest entry"):
        store2.committed()


def test_bad_utf8_in_the_manifest_is_an_error_naming_the_line(tmp_path):
    store = make_run(tmp_path, chunks=2)
    path = store.run_dir / MANIFEST
    first, second = path.read_bytes().splitlines()
    path.write_bytes(first + b"\n" + second.replace(b"it0-math", b"it0-m\xffth") + b"\n" + first + b"\n")
    with pytest.raises(FactoryError, match=r"manifest.jsonl:2: not a manifest entry"):
        RunStore(store.run_dir).committed()


def test_a_torn_last_line_after_the_checkpoint_is_tolerated_and_cut(tmp_path):
    store = make_run(tmp_path, chunks=2)
    compact(store)
    with open(store.run_dir / MANIFEST, "ab") as fh:
        fh.write(b'{"chunk": "it0-math-00002", "iter')
    fresh = RunStore(store.run_dir)
    assert fresh.committed() == {"it0-math-00000", "it0-math-00001"}
    with fresh.writer_lock():
        fresh.commit("it0-math-00002", 0, "math", chunk_tables(2))
    assert state(store.run_dir) == replayed(store.run_dir)
    assert len(RunStore(store.run_dir).committed()) == 3 and len(ids(store.run_dir)) == 18


@pytest.mark.parametrize("damage", ["garbage", "format", "manifest_rewritten", "manifest_shorter"])
def test_a_checkpoint_that_does_not_cover_this_manifest_is_ignored(tmp_path, damage):
    store = make_run(tmp_path, chunks=3)
    compact(store)
    store.commit("it0-math-00003", 0, "math", chunk_tables(3))
    truth = replayed(store.run_dir)
    cp_path, manifest = store.run_dir / CHECKPOINT, store.run_dir / MANIFEST
    cp = json.loads(cp_path.read_text())
    if damage == "garbage":
        cp_path.write_text('{"manifest_bytes": 1')
    elif damage == "format":
        cp_path.write_text(json.dumps({**cp, "format": 99, "chunks": []}))
    elif damage == "manifest_rewritten":  # same length, different last covered line
        cp_path.write_text(json.dumps({**cp, "chunks": ["stale"]}))
        lines = manifest.read_bytes().splitlines(keepends=True)
        n = cp["manifest_lines"]
        lines[n - 1] = lines[n - 1].replace(b'"committed_at_ms": 1', b'"committed_at_ms": 2')
        manifest.write_bytes(b"".join(lines))
    else:
        cp_path.write_text(json.dumps({**cp, "manifest_bytes": manifest.stat().st_size + 10, "chunks": ["stale"]}))
    got = state(store.run_dir)
    assert got[0] == truth[0] and got[1] == truth[1]


def test_a_crash_while_writing_the_checkpoint_keeps_the_old_one_valid(tmp_path, monkeypatch):
    store = make_run(tmp_path, chunks=2)
    compact(store)
    old = (store.run_dir / CHECKPOINT).read_bytes()
    store.commit("it0-math-00002", 0, "math", chunk_tables(2))
    real = atomic.os.replace

    def replace(src, dst):
        if str(dst).endswith(CHECKPOINT):
            raise Crash
        real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", replace)
    with pytest.raises(Crash):
        compact(RunStore(store.run_dir))
    monkeypatch.undo()
    assert (store.run_dir / CHECKPOINT).read_bytes() == old  # still a prefix: lines only append
    assert state(store.run_dir) == replayed(store.run_dir)
    assert len(ids(store.run_dir)) == 18
    (store.run_dir / f".tmp-0123-{CHECKPOINT}").write_text("{")  # as a SIGKILL would leave it
    RunStore(store.run_dir).open_run({"config_hash": "h"})
    assert not list(store.run_dir.glob(".tmp-*"))


def test_a_manifest_from_before_checkpoints_reads_and_gains_one_at_compaction(tmp_path):
    store = make_run(tmp_path, chunks=3)
    before = state(store.run_dir)
    assert not (store.run_dir / CHECKPOINT).exists() and len(before[0]) == 3
    compact(RunStore(store.run_dir))
    assert (store.run_dir / CHECKPOINT).exists() and state(store.run_dir)[0] == before[0]


def test_a_state_read_before_the_lock_is_reread_once_the_lock_is_held(tmp_path):
    store = make_run(tmp_path, chunks=2)
    early = RunStore(store.run_dir)
    assert len(early.committed()) == 2
    store.commit("it0-math-00002", 0, "math", chunk_tables(2))  # another writer, meanwhile
    with early.writer_lock():
        assert len(early.committed()) == 3
        with pytest.raises(FactoryError, match="already committed"):
            early.commit("it0-math-00002", 0, "math", chunk_tables(2))
        assert early.write_checkpoint()
    assert state(store.run_dir) == replayed(store.run_dir)
