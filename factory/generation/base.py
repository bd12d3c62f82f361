"""One interface for every generation backend: prompts + n + sampling params → completions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

from factory.registry import Registry

MAX_COMPLETION_CHARS = 200_000  # a runaway generation is stored truncated, never unbounded

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class SamplingParams:
    n: int = 1
    temperature: float = 0.8
    top_p: float = 0.95
    max_tokens: int = 256


@dataclass
class Request:
    """One prompt (chat messages) and the seed that makes its samples reproducible."""

    messages: Messages
    seed: int


@dataclass
class Completion:
    text: str
    finish_reason: str
    completion_tokens: int


@dataclass
class Generation:
    """The n completions of one request."""

    prompt_text: str
    prompt_tokens: int
    completions: list[Completion]
    latency_s: float


class Backend(Protocol):
    name: str
    model_id: str

    def generate(self, requests: list[Request], params: SamplingParams) -> list[Generation]: ...

    def close(self) -> None: ...


BACKENDS: Registry[Callable[..., Backend]] = Registry("generation backend")


def clean_text(text: Any) -> str:
    """Completions are stored as valid UTF-8 text of bounded size."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    text = str(text)
    return text[:MAX_COMPLETION_CHARS]


def render_chat(messages: Messages) -> str:
    """Plain rendering for models or endpoints without a chat template. A final assistant
    message is a partial answer the model continues (step rollouts), not a finished turn."""
    if messages and messages[-1]["role"] == "assistant":
        return render_chat(messages[:-1]) + " " + messages[-1]["content"]
    return "\n\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\n\nassistant:"
