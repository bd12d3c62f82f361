"""Any OpenAI-compatible endpoint (vLLM serve, SGLang, llama.cpp server): async requests with
bounded concurrency and retries with exponential back-off on 429/5xx and connection errors."""

from __future__ import annotations

import asyncio
import os
import random
import time
from dataclasses import dataclass
from typing import Any

from factory.errors import FactoryError
from factory.generation.base import (BACKENDS, Completion, Generation, Request, SamplingParams,
                                     clean_text, render_chat)

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


@dataclass
class OpenAIOptions:
    base_url: str = "http://127.0.0.1:8000/v1"
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 16
    max_retries: int = 4
    timeout_s: float = 600.0
    backoff_s: float = 0.5
    split_n: bool = False  # servers without `n` support: one request per sample


class OpenAIBackend:
    name = "openai"

    def __init__(self, model: str, options: OpenAIOptions) -> None:
        self.model_id = model
        self.options = options
        self._headers = {"Content-Type": "application/json"}
        key = os.environ.get(options.api_key_env)
        if key:
            self._headers["Authorization"] = f"Bearer {key}"

    def generate(self, requests: list[Request], params: SamplingParams) -> list[Generation]:
        return asyncio.run(self._generate_all(requests, params))

    async def _generate_all(self, requests: list[Request], params: SamplingParams) -> list[Generation]:
        import httpx

        limit = asyncio.Semaphore(self.options.concurrency)
        async with httpx.AsyncClient(base_url=self.options.base_url.rstrip("/"), headers=self._headers,
                                     timeout=self.options.timeout_s) as client:
            return list(await asyncio.gather(*(self._one(client, limit, r, params) for r in requests)))

    async def _one(self, client: Any, limit: asyncio.Semaphore, req: Request, params: SamplingParams) -> Generation:
        start = time.perf_counter()
        if self.options.split_n:
            bodies = [self._body(req, params, 1, req.seed + i) for i in range(params.n)]
        else:
            bodies = [self._body(req, params, params.n, req.seed)]
        answers = await asyncio.gather(*(self._post(client, limit, b) for b in bodies))
        completions, prompt_tokens = [], 0
        for answer in answers:
            usage = answer.get("usage") or {}
            choices = sorted(answer.get("choices", []), key=lambda c: c.get("index", 0))
            prompt_tokens = usage.get("prompt_tokens", prompt_tokens)
            # Servers report completion tokens for all choices together; split them evenly.
            per_choice = usage.get("completion_tokens", 0) // max(1, len(choices))
            for choice in choices:
                text = (choice.get("message") or {}).get("content") or ""
                completions.append(Completion(clean_text(text), choice.get("finish_reason") or "stop", per_choice))
        return Generation(render_chat(req.messages), prompt_tokens, completions, time.perf_counter() - start)

    def _body(self, req: Request, params: SamplingParams, n: int, seed: int) -> dict[str, Any]:
        body = {"model": self.model_id, "messages": req.messages, "n": n, "seed": seed,
                "temperature": params.temperature, "top_p": params.top_p, "max_tokens": params.max_tokens}
        if req.messages and req.messages[-1]["role"] == "assistant":  # continue a partial answer (vLLM/SGLang)
            body.update(continue_final_message=True, add_generation_prompt=False)
        return body

    async def _post(self, client: Any, limit: asyncio.Semaphore, body: dict[str, Any]) -> dict[str, Any]:
        import httpx

        last = ""
        for attempt in range(self.options.max_retries + 1):
            async with limit:
                try:
                    resp = await client.post("/chat/completions", json=body)
                    if resp.status_code == 200:
                        return resp.json()
                    last = f"HTTP {resp.status_code}: {resp.text[:200]}"
                    if resp.status_code not in RETRY_STATUS:
                        break
                except (httpx.TransportError, ValueError) as exc:
                    last = f"{type(exc).__name__}: {exc}"
            await asyncio.sleep(self.options.backoff_s * (2 ** attempt) * (0.5 + random.random()))
        raise FactoryError(f"openai backend: {self.options.base_url} failed after retries ({last})")

    def close(self) -> None:
        pass


@BACKENDS.register("openai")
def make_openai(model: str, options: dict[str, Any], base_dir: str = ".") -> OpenAIBackend:
    from factory.config import build

    return OpenAIBackend(model, build(OpenAIOptions, options, "generation.options"))
