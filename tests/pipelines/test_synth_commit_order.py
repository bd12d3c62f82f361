"""Synthesis commits in chunk order whatever order an executor delivers chunks in (Ray: as they
finish), so store-wide dedup keeps the same copy of two near duplicates as a local run."""

from __future__ import annotations

import json
from pathlib import Path

import pipelines.synthesize as synthesize
from factory.store import RunStore
from pipelines.synth_config import load_synth_config

CONFIG = Path(__file__).parent / "data" / "synth_scripted.toml"


class ReversedExecutor:
    name = "reversed"

    def run(self, chunks, work, commit, on_progress=None):
        results = [(c, work(c)) for c in chunks]
        for chunk, result in reversed(results):
            commit(chunk, result)


def kept_and_rejected(run_dir):
    store = RunStore(run_dir)
    return (sorted(r["problem_id"] for r in store.read("problems").to_pylist()),
            sorted((r["problem_id"], r["stage"], r["reason"]) for r in store.read("rejections").to_pylist()),
            [line for line in (Path(run_dir) / "manifest.jsonl").read_text().splitlines()])


def test_out_of_order_delivery_commits_in_chunk_order(tmp_path, monkeypatch):
    local = synthesize.run_synthesis(load_synth_config(CONFIG, {"run.output_dir": str(tmp_path / "local")}))
    monkeypatch.setattr(synthesize, "make_executor", lambda cfg: ReversedExecutor())
    order = []
    rev = synthesize.run_synthesis(load_synth_config(CONFIG, {"run.output_dir": str(tmp_path / "rev")}),
                                   on_chunk=lambda specs, drafts: order.append(drafts))
    assert rev.yields == local.yields and rev.reasons == local.reasons
    assert kept_and_rejected(rev.run_dir)[:2] == kept_and_rejected(local.run_dir)[:2]
    chunk_ids = [json.loads(line)["chunk"] for line in kept_and_rejected(rev.run_dir)[2] if '"chunk"' in line]
    assert chunk_ids == sorted(chunk_ids) and len(chunk_ids) == len(order) == rev.chunks_total == 8
