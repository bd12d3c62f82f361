"""The run engine and the executor protocol: executors see chunks, the work's stages and its
spec, and a commit callback; never the config or the store."""

from __future__ import annotations

import ast
from pathlib import Path

from cluster.local import LocalExecutor
from cluster.protocol import WorkSpec, is_staged, run_stages, spec_of
from factory.config import load_config
from factory.store import RunStore
from pipelines.engine import RunEngine
from pipelines.sample import ChunkProcessor, make_chunks, open_store
from factory.sources import load_problems

ROOT = Path(__file__).resolve().parents[2]


class Recording:
    """An executor that records what it was given, then runs like the local one."""

    name = "recording"

    def __init__(self):
        self.seen = []

    def run(self, chunks, work, commit, on_progress=None):
        self.seen.append((len(chunks), is_staged(work), spec_of(work)))
        LocalExecutor().run(chunks, work, commit, on_progress)


def test_the_engine_commits_pending_chunks_once_and_resumes(scripted_config):
    cfg = load_config(scripted_config(run_id="eng", count=6, n=2, chunk_size=2))
    problems = load_problems(cfg.sources, cfg.base_dir, cfg.run.seed)
    chunks = make_chunks(problems, cfg.run.chunk_size, 0)
    store = RunStore(cfg.run_dir, cfg.run.run_id)
    executor = Recording()
    committed = []
    with store.writer_lock():
        open_store(cfg, store)
        engine = RunEngine(store, executor)
        engine.run(engine.pending(chunks)[:2], ChunkProcessor(cfg), lambda c, r: committed.append(c.chunk_id))
        assert executor.seen == [(2, True, WorkSpec(run_id="eng", tensor_parallel_size=1))]
        rest = engine.pending(chunks)
        assert [c.chunk_id for c in rest] == [c.chunk_id for c in chunks[2:]]
        engine.run(rest, ChunkProcessor(cfg), lambda c, r: committed.append(c.chunk_id))
    assert committed == [c.chunk_id for c in chunks] and RunStore(cfg.run_dir).committed() == set(committed)
    assert engine.pending(chunks) == []
    assert len(list((cfg.run_dir / "candidates").rglob("*.parquet"))) == 1  # compacted at the end


def test_the_spec_carries_the_engine_placement(scripted_config):
    cfg = load_config(scripted_config(run_id="tp"))
    cfg.generation.options = {"tensor_parallel_size": 4}  # a vllm option
    assert ChunkProcessor(cfg).spec == WorkSpec(run_id="tp", tensor_parallel_size=4)


def test_a_plain_callable_runs_as_one_stage_with_the_default_spec():
    assert not is_staged(len) and spec_of(len) == WorkSpec() and run_stages(len, "abc") == 3


def test_executors_never_read_the_config():
    """No executor module touches a `.cfg` attribute (what they need is the WorkSpec)."""
    for path in sorted((ROOT / "cluster").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        reads = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "cfg"]
        names = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value == "cfg"]
        assert not reads and not names, f"{path.name} reads the config at lines {reads + names}"
