from factory.progress import Progress


def test_progress_lines_give_counts_rates_and_eta_without_flooding():
    now = [0.0]
    lines: list[str] = []
    p = Progress("rollouts", unit="candidates", log=lines.append, every_s=5, clock=lambda: now[0])
    p.start(100, "2/10 chunks done")
    for _ in range(10):
        now[0] += 1
        p.advance(5, tokens=1000)
    assert lines[0] == "rollouts: 100 candidates to do (2/10 chunks done)"
    assert len(lines) == 3  # the first advance (t=1), then one every 5 s (t=6)
    assert lines[-1] == "rollouts: 30/100 candidates · 5.00/s · tokens 6,000 (1000.0/s) · elapsed 6s · ETA 14s"
    now[0] += 1
    p.advance(50)
    assert "100/100" in lines[-1] and "ETA" not in lines[-1]
