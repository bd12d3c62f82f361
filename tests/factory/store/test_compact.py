"""Compaction: small chunk files merged into large ones with the manifest as the commit point."""

from __future__ import annotations

import os

import pyarrow.parquet as pq
import pytest

from factory import atomic
from factory.config import load_config
from factory.errors import FactoryError
from factory.query import STATS_SQL, SUMMARY_SQL, connect
from factory.store import MANIFEST, RunStore, compact
from factory.store import compaction as compact_module
from pipelines.sample import run_sampling
from schemas import Candidate, Problem, Verdict, candidate_id_for, to_table


def chunk_tables(c: int, problems: int = 2, n: int = 3, it: int = 0) -> dict:
    probs = [Problem(domain="math", prompt=f"What is {c}+{i}?", reference=str(c + i), source="t") for i in range(problems)]
    cands, verdicts = [], []
    for p in probs:
        p.problem_id = p.problem_id or f"p{c}-{p.prompt}"
    for p in probs:
        for k in range(n):
            cid = candidate_id_for("r", it, p.problem_id, k)
            cands.append(Candidate(candidate_id=cid, problem_id=p.problem_id, run_id="r", iteration=it, sample_idx=k,
                                   domain="math", model="m", backend="b", prompt_text=p.prompt, text=f"so {k}",
                                   finish_reason="stop", prompt_tokens=3,
                                   completion_tokens=2, latency_ms=1.0, temperature=0.7, top_p=1.0, max_tokens=8,
                                   seed=k, hinted=False, created_at_ms=0))
            verdicts.append(Verdict(candidate_id=cid, problem_id=p.problem_id, run_id="r", iteration=it, domain="math",
                                    verifier="math", verifier_version="1", passed=k == 0, score=float(k == 0),
                                    reason="correct" if k == 0 else "wrong_answer", details="", duration_ms=0.1,
                                    created_at_ms=0, extracted_answer=str(k)))
    return {"problems": to_table(probs, "problems"), "candidates": to_table(cands, "candidates"),
            "verdicts": to_table(verdicts, "verdicts")}


def make_run(tmp_path, chunks: int = 6, threshold: int = 0) -> RunStore:
    store = RunStore(tmp_path / "r", "r", compact_threshold=threshold)
    store.open_run({"config_hash": "h"})
    for c in range(chunks):
        store.commit(f"it0-math-{c:05d}", 0, "math", chunk_tables(c))
    return store


def ids(run_dir) -> list[str]:
    return sorted(RunStore(run_dir).read("candidates").column("candidate_id").to_pylist())


def parquet_names(run_dir) -> list[str]:
    return sorted(p.name for p in (run_dir / "candidates").rglob("*.parquet"))


def answers(run_dir) -> list:
    con = connect(run_dir)
    return [con.execute(SUMMARY_SQL).fetchall()] + [con.execute(sql).fetchall() for sql in STATS_SQL.values()]


def test_every_row_is_read_once_after_compaction(tmp_path):
    store = make_run(tmp_path)
    before, results = ids(store.run_dir), answers(store.run_dir)
    report = compact(RunStore(store.run_dir))
    assert (report.merges, report.files_replaced) == (3, 18)  # one merge per table
    assert len(parquet_names(store.run_dir)) == 1 and parquet_names(store.run_dir)[0].startswith("merged-")
    again = RunStore(store.run_dir)
    assert ids(store.run_dir) == before and len(set(before)) == len(before) == 36
    assert again.committed() == {f"it0-math-{c:05d}" for c in range(6)}  # chunks stay committed
    again.validate()
    assert answers(store.run_dir) == results
    assert compact(RunStore(store.run_dir)).merges == 0  # nothing small left to merge


def test_a_later_compaction_merges_merged_files_with_new_chunks(tmp_path):
    store = make_run(tmp_path, chunks=3)
    compact(store)
    store.commit("it0-math-00003", 0, "math", chunk_tables(3))
    compact(store)
    assert len(parquet_names(store.run_dir)) == 1
    assert ids(store.run_dir) == sorted({*ids(store.run_dir)}) and len(ids(store.run_dir)) == 24


def test_commits_merge_chunk_files_at_the_threshold(tmp_path):
    store = make_run(tmp_path, chunks=7, threshold=3)
    names = parquet_names(store.run_dir)
    assert sum(n.startswith("merged-") for n in names) == 2 and len(names) == 3  # 3 + 3 merged, 1 chunk
    assert len(ids(store.run_dir)) == 42


def test_row_groups_are_refilled(tmp_path, monkeypatch):
    monkeypatch.setattr(compact_module, "ROW_GROUP_ROWS", 10)
    store = make_run(tmp_path, chunks=5)  # 6 candidates per chunk: 30 rows
    compact(store)
    meta = pq.read_metadata(store.committed_files("candidates")[0])
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [10, 10, 10]


class Crash(Exception):
    pass


def crash_before_rename(monkeypatch):
    real = os.replace

    def replace(src, dst):
        if "merged-" in str(dst):
            raise Crash
        real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", replace)  # the merged file's rename


def crash_before_manifest_line(monkeypatch):
    def record_merge(self, entry):
        raise Crash

    monkeypatch.setattr(RunStore, "record_merge", record_merge)


def crash_before_deletes(monkeypatch):
    def unlink(path):
        raise Crash

    monkeypatch.setattr(compact_module, "_unlink", unlink)


@pytest.mark.parametrize("crash", [crash_before_rename, crash_before_manifest_line, crash_before_deletes])
def test_a_crash_at_any_step_loses_and_duplicates_nothing(tmp_path, crash):
    store = make_run(tmp_path)
    before, results = ids(store.run_dir), answers(store.run_dir)
    with monkeypatch_context() as mp:
        crash(mp)
        with pytest.raises(Crash):
            compact(RunStore(store.run_dir))
    # a reader of the crashed store: every row once, no error about the leftovers
    RunStore(store.run_dir).validate()
    assert ids(store.run_dir) == before and answers(store.run_dir) == results
    # the rerun cleans up and finishes
    compact(RunStore(store.run_dir))
    files = list((store.run_dir / "candidates").rglob("*"))
    assert [p.name.startswith("merged-") for p in files if p.is_file()] == [True]
    assert ids(store.run_dir) == before and answers(store.run_dir) == results
    assert RunStore(store.run_dir).committed() == {f"it0-math-{c:05d}" for c in range(6)}


def test_resuming_a_run_cleans_what_a_crashed_compaction_left(tmp_path, monkeypatch):
    store = make_run(tmp_path)
    crash_before_deletes(monkeypatch)
    with pytest.raises(Crash):
        compact(RunStore(store.run_dir))
    monkeypatch.undo()
    files = lambda: sorted(p.name for p in store.run_dir.rglob("*.parquet"))  # noqa: E731
    assert len(files()) == 19  # 3 tables x 6 chunk files, and the first table's merged file
    RunStore(store.run_dir).open_run({"config_hash": "h"})
    assert len(files()) == 13 and len(ids(store.run_dir)) == 36  # its 6 replaced files are gone


def test_compaction_holds_the_writer_lock(tmp_path, monkeypatch):
    store = make_run(tmp_path)
    with RunStore(store.run_dir).writer_lock():  # a run is writing
        with pytest.raises(FactoryError, match="being written by another process"):
            compact(RunStore(store.run_dir))
    assert len(parquet_names(store.run_dir)) == 6
    seen = []
    real = compact_module.write_merged

    def write_merged(*args):
        with pytest.raises(FactoryError, match="being written by another process"):
            with RunStore(store.run_dir).writer_lock():
                pass
        seen.append(True)
        return real(*args)

    monkeypatch.setattr(compact_module, "write_merged", write_merged)
    compact(RunStore(store.run_dir))
    assert seen


def test_a_merge_line_naming_a_file_that_is_not_live_is_an_error(tmp_path):
    store = make_run(tmp_path, chunks=2)
    compact(store)
    manifest = store.run_dir / MANIFEST
    lines = manifest.read_text().splitlines()
    manifest.write_text("\n".join(lines[:2] + lines[2:3] * 2 + lines[3:]) + "\n")  # a merge replayed
    with pytest.raises(FactoryError, match=r"manifest.jsonl:4: merge of .* which is not a live file"):
        RunStore(store.run_dir).committed()


def test_resume_after_compaction_skips_committed_chunks(scripted_config):
    cfg = load_config(scripted_config(count=10, n=4, chunk_size=2))

    def stop_after_three(problems, candidates, done=[]):
        done.append(1)
        if len(done) == 3:
            raise Crash

    with pytest.raises(Crash):
        run_sampling(cfg, on_chunk=stop_after_three)
    compact(RunStore(cfg.run_dir))  # `factory compact` on the interrupted run
    assert len(list((cfg.run_dir / "candidates").rglob("*.parquet"))) == 1
    report = run_sampling(cfg)
    assert (report.chunks_total, report.chunks_skipped) == (5, 3)
    assert report.summary["candidates"] == 40
    con = connect(cfg.run_dir)
    assert con.execute("SELECT count(*), count(DISTINCT candidate_id) FROM candidates").fetchone() == (40, 40)
    assert len(list((cfg.run_dir / "candidates").rglob("*.parquet"))) == 1  # the run compacted at its end


def test_views_prune_partitions_and_type_them_as_the_schema(tmp_path):
    store = make_run(tmp_path, chunks=2)
    store.commit("it1-math-00000", 1, "math", chunk_tables(9, it=1))
    con = connect(store.run_dir)
    types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE candidates)").fetchall())
    assert types["iteration"] == "BIGINT" and "run" not in types
    assert "iteration" not in dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE problems)").fetchall())
    plan = con.execute("EXPLAIN ANALYZE SELECT count(*) FROM candidates WHERE iteration = 1").fetchall()[0][1]
    assert "Scanning Files: 1/3" in plan
    assert con.execute("SELECT count(*) FROM candidates WHERE iteration = 1").fetchone() == (6,)


def monkeypatch_context():
    return pytest.MonkeyPatch.context()


def test_the_compact_command_merges_and_is_refused_while_a_run_writes(tmp_path):
    from typer.testing import CliRunner

    from factory.cli import app

    store = make_run(tmp_path)
    with RunStore(store.run_dir).writer_lock():
        refused = CliRunner().invoke(app, ["compact", str(store.run_dir)])
    assert refused.exit_code == 1 and "being written by another process" in refused.output
    done = CliRunner().invoke(app, ["compact", str(store.run_dir)])
    assert done.exit_code == 0 and "18 files merged into 3, 84 rows" in " ".join(done.output.split())
    assert len(parquet_names(store.run_dir)) == 1
