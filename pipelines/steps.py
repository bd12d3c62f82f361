"""Steps of the sampling pipeline: small generator transforms, independent of the executor.

    problems ─ GenerateStep ─> (problem, [Candidate]) ─ VerifyStep ─> (problem, [Candidate], [Verdict])
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable, Iterator

from factory.generation import Backend, Request, SamplingParams
from factory.verification import grade
from schemas import Candidate, Problem, Verdict, candidate_id_for, now_ms
from verifiers import Outcome, Verifier

Sampled = tuple[Problem, list[Candidate]]
Judged = tuple[Problem, list[Candidate], list[Verdict]]


def request_seed(run_seed: int, problem_id: str) -> int:
    """Per-problem sampling seed, independent of batching and chunking."""
    return (run_seed * 1_000_003 + int(hashlib.sha256(problem_id.encode()).hexdigest()[:8], 16)) % (2**31)


@dataclass
class GenerateStep:
    backend: Backend
    params: SamplingParams
    system_prompt: str
    few_shot: list[dict[str, str]]
    run_id: str
    iteration: int
    seed: int
    batch_size: int = 64
    hint: str | None = None  # rationalization: a template with {reference}, appended to the problem
    sample_offset: int = 0  # hinted samples are numbered after the n unhinted ones

    def messages(self, problem: Problem) -> list[dict[str, str]]:
        messages = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        for shot in self.few_shot:
            messages += [{"role": "user", "content": shot["user"]}, {"role": "assistant", "content": shot["assistant"]}]
        user = problem.prompt
        if self.hint:
            user = f"{user}\n\n{self.hint.format(reference=problem.reference)}"
        return messages + [{"role": "user", "content": user}]

    def run(self, problems: Iterable[Problem]) -> Iterator[Sampled]:
        batch: list[Problem] = []
        for problem in problems:
            batch.append(problem)
            if len(batch) >= self.batch_size:
                yield from self._sample(batch)
                batch = []
        if batch:
            yield from self._sample(batch)

    def _sample(self, problems: list[Problem]) -> Iterator[Sampled]:
        requests = [Request(self.messages(p), request_seed(self.seed, p.problem_id)) for p in problems]
        generations = self.backend.generate(requests, self.params)
        for problem, request, gen in zip(problems, requests, generations):
            per_sample_ms = gen.latency_s * 1000 / max(1, len(gen.completions))
            candidates = [
                Candidate(
                    candidate_id=candidate_id_for(self.run_id, self.iteration, problem.problem_id, idx),
                    problem_id=problem.problem_id, run_id=self.run_id, iteration=self.iteration,
                    sample_idx=idx, domain=problem.domain, model=self.backend.model_id,
                    backend=self.backend.name, prompt_text=gen.prompt_text, text=c.text,
                    finish_reason=c.finish_reason, prompt_tokens=gen.prompt_tokens,
                    completion_tokens=c.completion_tokens, latency_ms=per_sample_ms,
                    temperature=self.params.temperature, top_p=self.params.top_p,
                    max_tokens=self.params.max_tokens, seed=request.seed, hinted=self.hint is not None,
                    created_at_ms=now_ms(),
                )
                for idx, c in enumerate(gen.completions, start=self.sample_offset)
            ]
            yield problem, candidates


@dataclass
class VerifyStep:
    verifiers: dict[str, Verifier]

    def run(self, sampled: Iterable[Sampled]) -> Iterator[Judged]:
        """Batch verifiers (code sandbox, Lean) get every candidate of the input in one call:
        a Lean run costs ~25 s of start-up, so it must cover a whole chunk, not one problem.
        Through `factory.verification.grade`, the path `factory verify` takes too: a verifier
        that raises or miscounts gives `error` verdicts, never a crashed chunk."""
        items = list(sampled)
        outcomes: dict[tuple[int, int], tuple[Outcome, float]] = {}
        for domain in sorted({p.domain for p, _ in items}):
            keys = [(i, j) for i, (p, cands) in enumerate(items) if p.domain == domain for j in range(len(cands))]
            results = grade(self.verifiers[domain], [(items[i][0], items[i][1][j].text) for i, j in keys])
            outcomes.update(zip(keys, results))
        for i, (problem, candidates) in enumerate(items):
            verifier = self.verifiers[problem.domain]
            yield problem, candidates, [self._verdict(verifier, problem, c, *outcomes[(i, j)])
                                        for j, c in enumerate(candidates)]

    @staticmethod
    def _verdict(verifier: Verifier, problem: Problem, candidate: Candidate, outcome: Outcome,
                 duration_ms: float) -> Verdict:
        return Verdict(
            candidate_id=candidate.candidate_id, problem_id=problem.problem_id, run_id=candidate.run_id,
            iteration=candidate.iteration, domain=problem.domain, verifier=verifier.name,
            verifier_version=verifier.version, passed=outcome.passed, score=outcome.score,
            reason=outcome.reason, details=outcome.details[:2000],
            duration_ms=duration_ms, created_at_ms=now_ms(), extracted_answer=outcome.extracted, verdict_version=1,
        )
