"""Generation backends, registered by name in `BACKENDS`; heavy ones import lazily."""

from factory.generation import openai_backend, scripted, vllm_backend  # noqa: F401  (registration)
from factory.generation.base import BACKENDS, Backend, Completion, Generation, Request, SamplingParams

__all__ = ["BACKENDS", "Backend", "Completion", "Generation", "Request", "SamplingParams"]
