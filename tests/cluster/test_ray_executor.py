"""The Ray executor through a real local Ray: same tables as the local executor, and a
generation actor killed mid-run loses nothing and duplicates nothing."""

from __future__ import annotations

import threading
import time

import pyarrow.compute as pc
import pytest

ray = pytest.importorskip("ray", reason="the Ray tests need the 'ray' extra: pip install -e '.[ray]'")

from factory.config import load_config
from factory.store import RunStore
from pipelines.sample import ChunkProcessor, run_sampling
import pipelines.sample as sample_module

TIMING = {"latency_ms", "created_at_ms", "duration_ms"}


def tables(run_dir):
    store = RunStore(run_dir)
    out = {}
    for name, key in (("problems", "problem_id"), ("candidates", "candidate_id"), ("verdicts", "candidate_id")):
        t = store.read(name)
        t = t.select([c for c in t.column_names if c not in TIMING])
        out[name] = t.take(pc.sort_indices(t, [(key, "ascending")])).to_pylist()
    return out


def capture_executor(monkeypatch):
    made = {}
    original = sample_module.make_executor
    monkeypatch.setattr(sample_module, "make_executor", lambda cfg: made.setdefault("ex", original(cfg)))
    return made


def test_ray_and_local_executors_write_the_same_tables(ray_session, scripted_config, tmp_path, monkeypatch):
    config = scripted_config(run_id="same", count=24, n=3, chunk_size=4)
    local = load_config(config, {"run.output_dir": str(tmp_path / "local")})
    on_ray = load_config(config, {"run.output_dir": str(tmp_path / "ray"), "run.executor": "ray"})
    run_sampling(local)
    made = capture_executor(monkeypatch)
    report = run_sampling(on_ray)
    assert report.summary["candidates"] == 72
    assert tables(on_ray.run_dir) == tables(local.run_dir)
    stats = made["ex"].stats
    assert stats.attempts == 1 and stats.committed == 6 and stats.duplicates_dropped == 0
    # bounded: one running + one queued chunk per actor per stage, plus what waits for the driver
    assert stats.max_in_flight <= 6


@pytest.mark.parametrize("cap", [1, 3])
def test_chunks_in_flight_never_exceed_the_cap(ray_session, scripted_config, tmp_path, monkeypatch, cap):
    """Scripted generation is instant and verification is not, so without the cap chunks pile up
    between the stages (bounded only by object-store bytes)."""
    cfg = load_config(scripted_config(run_id=f"cap{cap}", count=60, n=4, chunk_size=2), {"run.executor": "ray"})
    cfg.run.executor_options = {"max_chunks_in_flight": cap, "verify_workers": 1}
    made = capture_executor(monkeypatch)
    report = run_sampling(cfg)
    stats = made["ex"].stats
    assert report.summary["candidates"] == 240 and stats.committed == 30
    assert 1 <= stats.max_in_flight <= cap and stats.gate_peak == cap, (stats.max_in_flight, stats.gate_peak)


def test_no_count_bound_when_the_cap_is_zero(ray_session, scripted_config, monkeypatch):
    cfg = load_config(scripted_config(run_id="nocap", count=40, n=2, chunk_size=2), {"run.executor": "ray"})
    cfg.run.executor_options = {"max_chunks_in_flight": 0}
    made = capture_executor(monkeypatch)
    assert run_sampling(cfg).summary["candidates"] == 80
    assert made["ex"].stats.gate_peak == 0 and made["ex"].stats.committed == 20


def test_generation_replicas_get_distinct_gpus(ray_session, scripted_config, monkeypatch):
    cfg = load_config(scripted_config(run_id="gpus", count=16, n=2, chunk_size=2,
                                      extra="[generation.options]\ndelay_s = 0.05"),
                      {"run.executor": "ray"})
    cfg.run.executor_options = {"generation_replicas": 2, "num_gpus": 1.0, "num_cpus_per_replica": 0.5,
                                "verify_workers": 1}
    made = capture_executor(monkeypatch)
    run_sampling(cfg)
    gpus = set(made["ex"].stats.gpu_ids.values())
    assert len(gpus) == 2 and all(g in {"0", "1"} for g in gpus), gpus  # Ray pinned one GPU per engine


@ray.remote
class Mailbox:
    def __init__(self):
        self.items = []

    def put(self, item):
        self.items.append(item)

    def take(self):
        items, self.items = self.items, []
        return items


def test_killed_generation_actor_is_retried_without_duplicates(ray_session, scripted_config, tmp_path):
    from tests.cluster.helpers import KillableBackend

    box = Mailbox.options(name="kill-box").remote()
    killed = []

    def killer():
        deadline = time.time() + 120
        while time.time() < deadline and not killed:
            for handle in ray_session.get(box.take.remote()):
                ray_session.kill(handle)  # no_restart: Ray Data gives up on the attempt
                killed.append(handle)
            time.sleep(0.05)

    cfg = load_config(scripted_config(run_id="kill", count=40, n=2, chunk_size=2), {"run.executor": "ray"})
    store = sample_module.open_store(cfg)
    from factory.sources import load_problems

    problems = load_problems(cfg.sources, cfg.base_dir, cfg.run.seed)
    executor = sample_module.make_executor(cfg)
    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    chunks = sample_module.make_chunks(problems, cfg.run.chunk_size, 0)
    processor = ChunkProcessor(cfg, backend=KillableBackend("kill-box", after_calls=4))
    executor.run(chunks, processor, lambda c, r: store.commit(c.chunk_id, c.iteration, c.domain, r.tables))
    thread.join(5)
    assert killed, "the actor must have been killed mid-run"
    assert executor.stats.attempts == 2 and "ActorDiedError" in executor.stats.failures[0]
    again = RunStore(cfg.run_dir)
    ids = again.read("candidates").column("candidate_id").to_pylist()
    assert len(ids) == 80 and len(set(ids)) == 80
    assert again.read("verdicts").num_rows == 80 and len(again.committed()) == 20


DRIVER = """
import sys
from factory.config import load_config
from pipelines.sample import run_sampling
run_sampling(load_config(sys.argv[1], {"run.executor": "ray"}))
"""


def test_sigkilled_driver_resumes_with_no_duplicates(ray_session, scripted_config, tmp_path):
    """The driver is the only writer: SIGKILL it mid-run (a torn commit included, if it lands
    there), rerun the same config, and the tables equal an uninterrupted local run's."""
    import os
    import signal
    import subprocess
    import sys

    gcs = ray_session.get_runtime_context().gcs_address
    extra = f'[generation.options]\ndelay_s = 0.15\n\n[run.executor_options]\naddress = "{gcs}"\nverify_workers = 1'
    config = scripted_config(run_id="sigkill", count=60, n=2, chunk_size=2, extra=extra)
    cfg = load_config(config, {"run.executor": "ray"})
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(config)], cwd=os.getcwd(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline, before = time.time() + 120, 0
    while time.time() < deadline and driver.poll() is None:
        before = len(RunStore(cfg.run_dir).committed()) if (cfg.run_dir / "manifest.jsonl").exists() else 0
        if before >= 4:
            break
        time.sleep(0.05)
    assert driver.poll() is None, driver.stderr.read().decode()[-2000:]
    driver.send_signal(signal.SIGKILL)
    driver.wait(30)
    partial = len(RunStore(cfg.run_dir).committed())
    assert 4 <= partial < 30, partial  # killed mid-run: some chunks committed, not all

    run_sampling(cfg)  # the rerun, in this process, on the same Ray
    local = load_config(config, {"run.output_dir": str(tmp_path / "local")})
    local.run.executor_options = {}
    run_sampling(local)
    resumed = tables(cfg.run_dir)
    assert len(resumed["candidates"]) == 120
    assert len({c["candidate_id"] for c in resumed["candidates"]}) == 120
    assert resumed == tables(local.run_dir)
