from __future__ import annotations

import json
import subprocess
import sys

import pytest

from factory.config import SourceSection
from factory.sources import SOURCES, load_problems
from factory.sources.procedural import KINDS
from verifiers.math import MathVerifier

ROOT = __import__("pathlib").Path(__file__).resolve().parents[3]


def problems(seed=0, **options):
    return load_problems([SourceSection("procedural_math", options)], ".", seed)


def serialise(items) -> bytes:
    return json.dumps([[p.problem_id, p.prompt, p.reference, p.metadata] for p in items]).encode()


def test_at_least_four_kinds_and_three_levels():
    assert len(KINDS) >= 4
    for level in (1, 2, 3):
        items = problems(count=20, difficulty=level)
        assert {json.loads(p.metadata)["kind"] for p in items} == set(KINDS)


def test_same_seed_gives_byte_identical_problems_across_processes():
    code = ("import json,sys; sys.path.insert(0, %r)\n"
            "from factory.config import SourceSection\nfrom factory.sources import load_problems\n"
            "ps = load_problems([SourceSection('procedural_math', {'count': 50, 'difficulty': 2})], '.', 3)\n"
            "sys.stdout.write(json.dumps([[p.problem_id, p.prompt, p.reference, p.metadata] for p in ps]))"
            % str(ROOT))
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True,
                           env={"PYTHONHASHSEED": "123", "PATH": "/usr/bin"}).stdout
    assert other == serialise(problems(seed=3, count=50, difficulty=2))
    assert serialise(problems(seed=4, count=50, difficulty=2)) != other


def test_prefix_stability_items_do_not_depend_on_count():
    assert serialise(problems(count=5)) == serialise(problems(count=40)[:5])


@pytest.fixture(scope="module")
def verifier():
    v = MathVerifier()
    yield v
    v.close()


@pytest.mark.parametrize("difficulty", [1, 2, 3])
def test_contract_reference_passes_its_own_verifier(verifier, difficulty):
    for p in problems(count=60, difficulty=difficulty):
        out = verifier.verify(p, f"Working...\nThe answer is \\boxed{{{p.reference}}}")
        assert out.passed, (p.prompt, p.reference, out)
        wrong = verifier.verify(p, f"\\boxed{{{p.reference}1}}")
        assert not wrong.passed, (p.prompt, p.reference)


def test_every_registered_source_has_a_description():
    assert all(cls.description for _, cls in SOURCES.items())


@pytest.mark.parametrize("count", [-1, 10**10])
def test_count_out_of_bounds_is_a_config_error_at_once(count):
    from factory.errors import ConfigError
    from factory.sources.procedural import ProceduralOptions

    with pytest.raises(ConfigError, match="count must be between 0 and"):
        ProceduralOptions(count=count)
