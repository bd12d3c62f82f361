"""Custom Ray metrics for a sampling run, shown in the Ray dashboard (Metrics view, via
Prometheus/Grafana) as `ray_factory_*`.

They are recorded by the driver when a chunk is *committed*, from the committed tables, so a
chunk that Ray retried is never counted twice and the numbers match `factory query`. Rates
(problems/s, candidates/s, tokens/s) are gauges averaged since the run started, so they read
directly without PromQL; the counters beside them give exact rates with `rate()`."""

from __future__ import annotations

import time
from typing import Any

import pyarrow.compute as pc

LATENCY_BUCKETS_MS = [1, 5, 10, 50, 100, 500, 1_000, 5_000, 30_000, 120_000]


class RunMetrics:
    def __init__(self, run_id: str) -> None:
        from ray.util.metrics import Counter, Gauge, Histogram

        self.tags = {"run_id": run_id}
        keys = ("run_id", "domain")
        self.problems = Counter("factory_problems", "Problems committed.", tag_keys=keys)
        self.candidates = Counter("factory_candidates", "Candidates committed.", tag_keys=keys)
        self.tokens = Counter("factory_completion_tokens", "Completion tokens committed.", tag_keys=keys)
        self.passed = Counter("factory_passed", "Candidates whose verdict passed.", tag_keys=keys)
        self.verdicts = Counter("factory_verdicts", "Verdicts by reason.", tag_keys=(*keys, "reason"))
        self.failures = Counter("factory_verifier_failures", "Failed verdicts by reason (everything but correct).",
                                tag_keys=(*keys, "reason"))
        self.latency = Histogram("factory_verifier_latency_ms", "Verification time per candidate.",
                                 boundaries=LATENCY_BUCKETS_MS, tag_keys=(*keys, "verifier"))
        self.chunk_verify_s = Gauge("factory_chunk_verify_s", "Verification time of the last chunk.", tag_keys=keys)
        self.pass_rate = Gauge("factory_pass_rate", "Passed / candidates so far.", tag_keys=("run_id",))
        self.rates = {name: Gauge(f"factory_{name}_per_s", f"{name.capitalize()} per second since the run began.",
                                  tag_keys=("run_id",)) for name in ("problems", "candidates", "tokens")}
        self.retries = Counter("factory_attempt_retries", "Attempts rerun after an infrastructure failure.",
                               tag_keys=("run_id",))
        self.retries.set_default_tags(self.tags)
        self.start = time.perf_counter()
        self.totals = {"problems": 0, "candidates": 0, "tokens": 0, "passed": 0}

    def record(self, chunk: Any, result: Any, verify_s: float) -> None:
        tags = {**self.tags, "domain": chunk.domain}
        # any chunk function's result: sampling chunks, adaptive rounds and step-label chunks
        # (which have no verdicts table; their tokens are rollout tokens) all count what they have
        verdicts = result.tables.get("verdicts")
        counts = {"problems": _problems(chunk, result), "candidates": getattr(result, "candidates", 0),
                  "tokens": getattr(result, "completion_tokens", getattr(result, "tokens", 0)),
                  "passed": getattr(result, "passed", 0)}
        for name, value in counts.items():
            self.totals[name] += value
            if value:
                getattr(self, name).inc(value, tags)
        self.chunk_verify_s.set(verify_s, tags)
        if verdicts is None:
            self._update_gauges()
            return
        for reason, n in _value_counts(verdicts.column("reason")):
            self.verdicts.inc(n, {**tags, "reason": reason})
            if reason != "correct":
                self.failures.inc(n, {**tags, "reason": reason})
        for verifier, duration in zip(verdicts.column("verifier").to_pylist(), verdicts.column("duration_ms").to_pylist()):
            self.latency.observe(duration, {**tags, "verifier": verifier})
        self._update_gauges()

    def _update_gauges(self) -> None:
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        for name, gauge in self.rates.items():
            gauge.set(self.totals[name] / elapsed, self.tags)
        if self.totals["candidates"]:
            self.pass_rate.set(self.totals["passed"] / self.totals["candidates"], self.tags)


def _problems(chunk: Any, result: Any) -> int:
    if hasattr(chunk, "problems"):
        return len(chunk.problems)
    table = next((t for t in result.tables.values() if "problem_id" in t.column_names), None)
    return pc.count_distinct(table.column("problem_id")).as_py() if table is not None else 0


def _value_counts(column: Any) -> list[tuple[str, int]]:
    counts = pc.value_counts(column)
    return [(item["values"].as_py(), item["counts"].as_py()) for item in counts]
