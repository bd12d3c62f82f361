"""Library chatter (vLLM, torch, Ray, transformers warnings and log records) goes to a log file
while a command shows its progress, instead of breaking the progress line; the command then
says how many records went there. Python-level only: what a library's C++ code or a worker
process writes to file descriptor 2 directly is not caught here."""

from __future__ import annotations

import logging
import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

# Loggers whose records are library chatter (our own `factory.*`, `pipelines.*` ... are not).
LIBRARY_LOGGERS = ("vllm", "torch", "ray", "transformers", "huggingface_hub", "datasets", "urllib3", "filelock",
                   "httpx", "openai", "py.warnings")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@dataclass
class Routed:
    path: Path
    records: int = 0

    def summary(self) -> str:
        return f"{self.records} library warning/log line{'s' if self.records != 1 else ''} → {self.path}"


class _CountingFileHandler(logging.FileHandler):
    """Opens (and creates the folder) on the first record only: a command that fails before
    writing anything leaves no file behind."""

    def __init__(self, routed: Routed) -> None:
        super().__init__(routed.path, encoding="utf-8", delay=True)
        self.routed = routed
        self.setFormatter(logging.Formatter(FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        if self.stream is None:
            self.routed.path.parent.mkdir(parents=True, exist_ok=True)
        self.routed.records += 1
        super().emit(record)


@contextmanager
def library_log(path: str | Path) -> Iterator[Routed]:
    """Within the block: `warnings.warn` and the library loggers write to `path`, not stderr."""
    routed = Routed(Path(path))
    handler = _CountingFileHandler(routed)
    saved_env = os.environ.get("VLLM_CONFIGURE_LOGGING")
    os.environ["VLLM_CONFIGURE_LOGGING"] = "0"  # vLLM would add its own stdout handler at import
    saved: list[tuple[logging.Logger, list[logging.Handler], bool]] = []
    for name in LIBRARY_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.handlers[:], logger.propagate))
        logger.handlers[:] = [handler]
        logger.propagate = False
    root = logging.getLogger()
    root.addHandler(handler)  # records of other loggers would otherwise reach logging.lastResort (stderr)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")  # each distinct warning once, as Python does by default
            logging.captureWarnings(True)  # warnings → the 'py.warnings' logger → the file
            yield routed
    finally:
        logging.captureWarnings(False)
        root.removeHandler(handler)
        for logger, handlers, propagate in saved:
            logger.handlers[:] = handlers
            logger.propagate = propagate
        handler.close()
        if saved_env is None:
            os.environ.pop("VLLM_CONFIGURE_LOGGING", None)
        else:
            os.environ["VLLM_CONFIGURE_LOGGING"] = saved_env
