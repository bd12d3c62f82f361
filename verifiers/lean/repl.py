"""The `repl` Lean backend: a pool of long-lived leanprover-community REPL processes.

Each process compiles a problem header (`import Mathlib`, ~10-60 s) once and checks every later
proof from that environment (`{"cmd": proof, "env": header_env}`, kimina-lean-server's trick),
so a proof costs its own elaboration only. A proof is rendered exactly as in file mode (same
namespace, FactoryStatement check and heartbeat bound, `embedded.add_block`) plus a
`#print axioms` line, which a real Lean can answer.

Failures stay with their proof: a timeout kills that REPL (`timeout`), a REPL that dies takes only
its in-flight proof with it (`crash` or `memory`), and the slot starts a fresh process on next
use. A process is also replaced after `max_commands` commands (the REPL keeps every environment
it ever made) or when its resident memory ends a command above `memory_cap_mb`."""

from __future__ import annotations

import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from factory.errors import MissingDependency
from verifiers.lean.checks import parse_axioms
from verifiers.lean.embedded import Block, BlockResult, add_block
from verifiers.lean.repl_process import ReplDied, ReplProcess, ReplTimeout

INSTALL_HINT = ("build the REPL once: git clone https://github.com/leanprover-community/repl && cd repl && "
                "lake build (its lean-toolchain must match your Mathlib project's), then set "
                "FACTORY_LEAN_REPL=/path/to/repl/.lake/build/bin/repl and, for `import Mathlib`, "
                "FACTORY_LEAN_PROJECT=/path/to/a/lake/project/with/mathlib")


@dataclass(frozen=True)
class ReplConfig:
    pool_size: int = 2
    per_proof_s: float = 20.0
    header_timeout_s: float = 600.0  # a cold `import Mathlib` reads ~5 GB of .olean files
    max_commands: int = 200
    memory_cap_mb: float = 12_000.0  # replace the process after a command that ends above this
    kill_memory_mb: float | None = None  # kill an in-flight proof above this; default 2 x memory_cap_mb
    heartbeats: int = 200_000
    reuse_header: bool = True

    def __post_init__(self) -> None:
        if self.pool_size < 1 or self.max_commands < 2:  # a process must fit its header and one proof
            raise ValueError("pool_size must be >= 1 and max_commands >= 2")
        if min(self.per_proof_s, self.header_timeout_s, self.memory_cap_mb) <= 0:
            raise ValueError("timeouts and memory caps must be positive")
        if self.kill_memory_mb is not None and self.kill_memory_mb < self.memory_cap_mb:
            raise ValueError("kill_memory_mb must be at least memory_cap_mb")

    @property
    def kill_mb(self) -> float:
        return self.kill_memory_mb if self.kill_memory_mb is not None else 2 * self.memory_cap_mb


def _resolve(program: str) -> str | None:
    found = shutil.which(program)
    return found or (program if os.access(program, os.X_OK) and Path(program).is_file() else None)


class ReplLean:
    """`run(header, blocks)` like the file-mode backends; thread-safe, `pool_size` REPLs at most."""

    def __init__(self, repl: str | list[str] = "repl", project: str | None = None, **options) -> None:
        self.config = ReplConfig(**options)
        argv = [repl] if isinstance(repl, str) else list(repl)
        if _resolve(argv[0]) is None:
            raise MissingDependency(f"Lean REPL backend: {argv[0]!r} not found; {INSTALL_HINT}")
        if project and shutil.which("lake") is None:
            raise MissingDependency(f"Lean REPL backend: a project ({project}) needs `lake` on PATH (install elan)")
        self._argv = ["lake", "env", *argv] if project else argv
        self._cwd = project
        self._idle: list[ReplProcess | None] = [None] * self.config.pool_size  # None: starts on first use
        self._cond = threading.Condition()
        self._bad_headers: dict[str, str] = {}  # compile errors are deterministic: report, don't retry
        self.started = 0  # processes started so far (tests and the benchmark read it)

    def run(self, header: str, blocks: list[Block]) -> dict[int, BlockResult]:
        with ThreadPoolExecutor(max(1, min(self.config.pool_size, len(blocks)))) as pool:
            results = list(pool.map(lambda b: self._check(header, b), blocks))
        return {b.index: r for b, r in zip(blocks, results)}

    def _acquire(self, header: str) -> ReplProcess | None:
        """An idle process, preferring one that has already compiled `header`."""
        with self._cond:
            while not self._idle:
                self._cond.wait()
            for i, proc in enumerate(self._idle):
                if proc is not None and header in proc.header_envs:
                    return self._idle.pop(i)
            return self._idle.pop()

    def _release(self, proc: ReplProcess | None) -> None:
        with self._cond:
            self._idle.append(proc)
            self._cond.notify()

    def _retire(self, proc: ReplProcess | None) -> ReplProcess | None:
        """The process if it may serve again; otherwise it is stopped and its slot left empty."""
        if proc is None or not proc.alive():
            return None
        if proc.commands >= self.config.max_commands or proc.rss_mb() > self.config.memory_cap_mb:
            proc.close()
            return None
        return proc

    def _start(self) -> ReplProcess:
        with self._cond:
            self.started += 1
        return ReplProcess(self._argv, cwd=self._cwd, env=dict(os.environ))

    def _check(self, header: str, block: Block) -> BlockResult:
        proc = self._acquire(header)
        healthy = False
        try:
            proc = proc if proc is not None and proc.alive() else self._start()
            result = self._check_on(proc, header, block)
            healthy = True
            return result
        finally:  # an unexpected error may leave an answer unread: never reuse that process
            if not healthy and proc is not None and proc.alive():
                proc.kill()
            self._release(self._retire(proc))

    def _check_on(self, proc: ReplProcess, header: str, block: Block) -> BlockResult:
        env = None
        if self.config.reuse_header:
            env = self._header_env(proc, header)
            if isinstance(env, BlockResult):
                return env
        command, axioms_line = self.command(header, block, env)
        try:
            response = proc.send(command, self.config.per_proof_s, self.config.kill_mb)
        except ReplTimeout:
            return BlockResult(False, [], [])
        except ReplDied as exc:
            return BlockResult(True, [], [], failure=exc.reason, detail=str(exc))
        return self.result(response, axioms_line)

    def _header_env(self, proc: ReplProcess, header: str) -> int | BlockResult:
        """The env id of `header` in `proc`, compiling it on first use; a failure is the proof's verdict."""
        if header in proc.header_envs:
            return proc.header_envs[header]
        if header in self._bad_headers:
            return BlockResult(True, [], [], failure="error", detail=self._bad_headers[header])
        try:
            response = proc.send({"cmd": header.strip()}, self.config.header_timeout_s, self.config.kill_mb)
        except (ReplTimeout, ReplDied) as exc:
            return BlockResult(True, [], [], failure="error", detail=f"Lean REPL, compiling the header: {exc}")
        errors = [m.get("data", "") for m in response.get("messages", []) if m.get("severity") == "error"]
        if "env" not in response or errors:
            why = "; ".join(errors) or response.get("message", str(response))
            self._bad_headers[header] = f"the header does not compile: {why[:600]}"
            return BlockResult(True, [], [], failure="error", detail=self._bad_headers[header])
        proc.header_envs[header] = int(response["env"])
        return proc.header_envs[header]

    def command(self, header: str, block: Block, env: int | None) -> tuple[dict, int]:
        """The REPL command for `block` and the line of its `#print axioms`; without an env the
        header is part of the command (no reuse)."""
        lines = [] if env is not None or not header.strip() else header.strip().splitlines()
        add_block(lines, block, self.config.heartbeats)
        lines.append(f"#print axioms FactoryBlock{block.index}.{block.name}")
        command: dict = {"cmd": "\n".join(lines)}
        if env is not None:
            command["env"] = env
        return command, len(lines)

    @staticmethod
    def result(response: dict, axioms_line: int) -> BlockResult:
        """A REPL response as a BlockResult. Only the message *at our `#print axioms` line* is the
        axiom report: a candidate's own `#print "... does not depend on any axioms"` is elsewhere."""
        if "env" not in response:  # the REPL's error object, e.g. {"message": "Unknown environment."}
            return BlockResult(True, [], [], failure="error", detail=f"Lean REPL: {str(response)[:600]}")
        messages = response.get("messages", [])
        report = [m for m in messages if m.get("pos", {}).get("line") == axioms_line]
        rest = [m for m in messages if m.get("pos", {}).get("line") != axioms_line]
        errors = [m for m in rest if m.get("severity") == "error"]
        # The REPL lists sorries separately; as warnings they meet the same `uses_sorry` rule.
        warnings = [m for m in rest if m.get("severity") == "warning"]
        warnings += [{"kind": "hasSorry", "data": "declaration uses 'sorry'", "pos": s.get("pos", {})}
                     for s in response.get("sorries", [])]
        found = [parse_axioms(m.get("data", "")) for m in report if m.get("severity") == "info"]
        axioms = next((a for a in found if a is not None), None)
        if axioms is None and not errors:
            return BlockResult(True, errors, warnings, failure="error",
                               detail="Lean accepted the proof but gave no `#print axioms` report")
        return BlockResult(True, errors, warnings, axioms=axioms)

    def close(self) -> None:
        with self._cond:
            procs, self._idle = self._idle, [None] * len(self._idle)
        for proc in procs:
            if proc is not None:
                proc.close()
