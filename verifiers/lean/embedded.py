"""Check many proofs in one run of the embedded (wasm) Lean: start-up costs ~25 s and ~3.6 GB,
so every proof of a batch goes into one file, one namespace per proof, each followed by a
`#check "factory-block-i"` marker. Messages are attributed to blocks by line; a block whose
marker was printed was fully processed. If the run is killed at the wall-clock bound, the
first unfinished block is the culprit (`timeout`) and the rest are checked again."""

from __future__ import annotations

import json
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from verifiers.lean.install import install, is_installed, lean_home

MARKER = "factory-block-"


@dataclass
class Block:
    index: int
    source: str
    statement_prop: str = ""  # the reference statement as a Prop, elaborated before the candidate
    name: str = ""
    first_line: int = 0  # 1-based, inclusive, of the block's code in the file
    last_line: int = 0
    check_line: int = 0  # the line that checks the proved theorem against the clean statement


@dataclass
class BlockResult:
    finished: bool
    errors: list[dict]
    warnings: list[dict]
    axioms: list[str] | None = None  # from `#print axioms`, where the backend can run it
    failure: str = ""  # a verdict reason decided by the backend itself (crash, memory, error)
    detail: str = ""


def add_block(lines: list[str], b: Block, heartbeats: int) -> None:
    """Append block `b` in its own namespace to `lines`, recording its line numbers (1-based).
    Shared by every backend, so the statement checks are the same everywhere."""
    lines += [f"namespace FactoryBlock{b.index}", f"set_option maxHeartbeats {heartbeats}"]
    if b.statement_prop:  # before the candidate's code: its helpers cannot change what it means
        lines.append(f"def FactoryStatement : Prop := {b.statement_prop}")
    b.first_line = len(lines) + 1
    lines += b.source.splitlines()
    b.last_line = len(lines)
    if b.statement_prop:
        # Fails unless the theorem proved is, up to definitional unfolding, the clean statement
        # (catches shadowed names, local instances or notations that re-interpret it).
        lines.append(f"theorem FactoryCheck : FactoryStatement := @{b.name}")
        b.check_line = len(lines)
    lines.append(f"end FactoryBlock{b.index}")


class FileLean:
    """Checks a batch as one file with `lean --json`; subclasses say how Lean is started."""

    _lock = threading.Lock()

    def __init__(self, heartbeats: int = 200_000, base_timeout_s: float = 120.0, per_proof_s: float = 5.0) -> None:
        self.heartbeats = heartbeats
        self.base_timeout_s = base_timeout_s
        self.per_proof_s = per_proof_s

    def command(self, filename: str) -> tuple[list[str], dict[str, str], str | None]:
        """(argv, environment, working dir or None for the temp dir)."""
        raise NotImplementedError

    def render(self, header: str, blocks: list[Block]) -> str:
        lines = header.strip().splitlines() if header.strip() else []
        for b in blocks:
            add_block(lines, b, self.heartbeats)
            lines.append(f'#check "{MARKER}{b.index}"')
        return "\n".join(lines) + "\n"

    def run(self, header: str, blocks: list[Block]) -> dict[int, BlockResult]:
        results: dict[int, BlockResult] = {}
        todo = list(blocks)
        while todo:
            done, timed_out = self._run_once(header, todo)
            results.update(done)
            if timed_out is None:
                break
            results[timed_out.index] = BlockResult(False, [], [])
            todo = [b for b in todo if b.index not in results]
        return results

    def _run_once(self, header: str, blocks: list[Block]) -> tuple[dict[int, BlockResult], Block | None]:
        text = self.render(header, blocks)
        timeout = self.base_timeout_s + self.per_proof_s * len(blocks)
        with self._lock, tempfile.TemporaryDirectory(dir="/tmp", prefix="factory-lean-") as tmp:
            (Path(tmp) / "Proofs.lean").write_text(text)
            cmd, env, cwd = self.command(str(Path(tmp) / "Proofs.lean"))
            try:
                done = subprocess.run(cmd, cwd=cwd or tmp, capture_output=True, text=True, timeout=timeout, env=env)
                stdout, killed = done.stdout, False
            except subprocess.TimeoutExpired as exc:
                stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
                killed = True
        messages = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
        return self._attribute(blocks, messages, killed)

    @staticmethod
    def _attribute(blocks: list[Block], messages: list[dict], killed: bool):
        finished = {int(m["data"].split(MARKER, 1)[1].split('"')[0]) for m in messages
                    if m.get("severity") == "information" and MARKER in m.get("data", "")}
        out: dict[int, BlockResult] = {}
        for b in blocks:
            mine = [m for m in messages if b.first_line - 3 <= m["pos"]["line"] <= max(b.last_line, b.check_line) + 1]
            errors = [m for m in mine if m.get("severity") == "error"]
            warnings = [m for m in mine if m.get("severity") == "warning"]
            out[b.index] = BlockResult(b.index in finished, errors, warnings)
        unfinished = [b for b in blocks if not out[b.index].finished]
        if killed and unfinished:
            culprit = unfinished[0]
            return {i: r for i, r in out.items() if r.finished}, culprit
        return out, None


class EmbeddedLean(FileLean):
    """The wasm Lean under Node 26 (core library only); one run at a time (~3.5 GB each)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.home = lean_home()
        if not is_installed(self.home):
            install(self.home)

    def command(self, filename: str) -> tuple[list[str], dict[str, str], str | None]:
        argv = [str(self.home / "node" / "bin" / "node"), str(self.home / "lean.js"), "--json", Path(filename).name]
        return argv, {"LEAN_PATH": str(self.home / "lib"), "PATH": "/usr/bin:/bin"}, None


class NativeLean(FileLean):
    """A `lean` toolchain on the machine (elan), optionally inside a Lake project (Mathlib):
    `lake env lean --json FILE` run in `project`. Batches work as for the embedded backend."""

    def __init__(self, lean: str = "lean", project: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        import os
        import shutil

        self.lean, self.project = lean, project
        self._env = dict(os.environ)
        if not shutil.which(lean) and not project:
            from factory.errors import FactoryError

            raise FactoryError(f"native Lean backend: {lean!r} not on PATH (install elan, or use the embedded backend)")

    def command(self, filename: str) -> tuple[list[str], dict[str, str], str | None]:
        if self.project:
            return ["lake", "env", self.lean, "--json", filename], self._env, self.project
        return [self.lean, "--json", filename], self._env, None
