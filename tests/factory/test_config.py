from __future__ import annotations

import pytest

from factory.config import SourceSection, load_config, parse_config
from factory.errors import ConfigError
from factory.sources import load_problems

BASE = {"sources": [{"name": "procedural_math", "count": 2}]}


def test_defaults_and_sources():
    cfg = parse_config(dict(BASE))
    assert cfg.generation.backend == "vllm" and cfg.generation.model == "embedded"
    assert cfg.sources[0].options == {"count": 2}


@pytest.mark.parametrize("raw,message", [
    ({**BASE, "generation": {"temprature": 0.5}}, r"config.generation: unknown key 'temprature'"),
    ({**BASE, "generation": {"n": "four"}}, r"config.generation.n: expected int, got str"),
    ({**BASE, "generation": {"n": 0}}, r"generation.n: must be ≥ 1"),
    ({**BASE, "run": {"chunk_size": True}}, r"run.chunk_size: expected int, got bool"),
    ({**BASE, "run": {"run_id": "a/b"}}, r"run.run_id"),
    ({**BASE, "bogus": {}}, r"unknown key 'bogus'"),
    ({}, r"no \[\[sources\]\] configured"),
    ({"sources": [{"count": 3}]}, r"needs a 'name'"),
])
def test_bad_config_names_the_key(raw, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(raw)


@pytest.mark.parametrize("options,message", [
    ({"name": "procedural_math", "kinds": ["calculus"]}, "unknown kind 'calculus'"),
    ({"name": "procedural_math", "difficulty": 9}, "difficulty must be 1, 2 or 3"),
    ({"name": "procedural_math", "cuont": 3}, r"sources\[0\] \(procedural_math\): unknown key 'cuont'"),
    ({"name": "nope"}, "unknown problem source 'nope'"),
])
def test_bad_source_options(options, message):
    with pytest.raises(ConfigError, match=message):  # at load now, before any problem is made
        parse_config({"sources": [options]})
    with pytest.raises(ConfigError, match=message):
        load_problems([SourceSection(options["name"], {k: v for k, v in options.items() if k != "name"})], ".", 0)


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[run\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(bad)


def test_output_dir_is_relative_to_the_config_file(tmp_path):
    path = tmp_path / "sub" / "c.toml"
    path.parent.mkdir()
    path.write_text('[run]\nrun_id = "x"\noutput_dir = "out"\n[[sources]]\nname = "procedural_math"\n')
    assert load_config(path).run_dir == tmp_path / "sub" / "out" / "x"
