"""A scripted backend that hands its actor to the test once, so the test can `ray.kill` it
mid-run (Ray Data does not expose its pool's actor handles)."""

from __future__ import annotations

import time

from factory.generation.scripted import ScriptedBackend, ScriptedOptions


class KillableBackend(ScriptedBackend):
    def __init__(self, mailbox: str, after_calls: int, delay_s: float = 0.02) -> None:
        super().__init__("scripted", ScriptedOptions(delay_s=delay_s))
        self.mailbox, self.after_calls, self.calls = mailbox, after_calls, 0

    def generate(self, requests, params):
        import ray

        self.calls += 1
        if self.calls == self.after_calls:
            box = ray.get_actor(self.mailbox)
            ray.get(box.put.remote(ray.get_runtime_context().current_actor))
            time.sleep(30)  # killed while this chunk is in flight
        return super().generate(requests, params)
