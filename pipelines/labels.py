"""Labels without a reference (#14): cluster n sampled answers under the math verifier's
equivalence and take the majority cluster's answer as the reference when its share of the n
samples reaches the threshold. The share is the label's confidence; the method is `majority@n`.

Clustering is greedy against each cluster's first answer (the verifier's typed equivalence:
`1/2`, `0.5` and `\\frac{1}{2}` are one cluster), through the verifier's public `verify`, so its
time bounds and its never-raise contract hold here too. A tie for the top cluster is no label:
two answers with the same support say the samples do not agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas import Problem
from schemas.synthesis import Label
from verifiers import Verifier
from verifiers.math import extract_answer


@dataclass
class LabelOutcome:
    label: Label
    reference: str | None  # None: unlabelled
    why: str  # details for an unlabelled problem


def cluster_answers(answers: list[str], verifier: Verifier, domain: str = "math") -> list[list[str]]:
    """Answers grouped by equivalence to each cluster's first member, largest cluster first
    (ties: the cluster seen first)."""
    clusters: list[list[str]] = []
    for answer in answers:
        for cluster in clusters:
            if _same(cluster[0], answer, verifier, domain):
                cluster.append(answer)
                break
        else:
            clusters.append([answer])
    return sorted(clusters, key=len, reverse=True)  # stable: first-seen wins a tie


def _same(reference: str, answer: str, verifier: Verifier, domain: str) -> bool:
    if reference == answer:
        return True
    probe = Problem(domain=domain, prompt="", reference=reference, source="label")
    return verifier.verify(probe, f"\\boxed{{{answer}}}").passed


def majority_label(texts: list[str], verifier: Verifier, threshold: float, domain: str = "math") -> LabelOutcome:
    answers = [a for a, _ in (extract_answer(t) for t in texts) if a]
    clusters = cluster_answers(answers, verifier, domain)
    n = len(texts)
    top = len(clusters[0]) if clusters else 0
    label = Label(method=f"majority@{n}", confidence=round(top / n, 4) if n else 0.0, n=n, answered=len(answers),
                  clusters=[[c[0], len(c)] for c in clusters[:8]])
    if not clusters:
        return LabelOutcome(label, None, f"none of the {n} samples gave a final answer")
    if top / n < threshold:
        return LabelOutcome(label, None, f"majority share {top}/{n} = {top / n:.2f} < {threshold}")
    if len(clusters) > 1 and len(clusters[1]) == top:
        return LabelOutcome(label, None, f"tie: two answers with {top}/{n} samples each")
    return LabelOutcome(label, clusters[0][0], "")

