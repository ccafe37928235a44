"""Every benchmark still runs: `python -m bench --smoke` at a small fraction of its size, on a stack of its own.

Benchmarks run by hand rot silently (two had stopped running before this test existed). Only the exit status and
the presence of each benchmark's figures are checked; the figures themselves mean nothing at this size, and tests
never assert timings.
"""

from __future__ import annotations

import subprocess
import sys

from bench.__main__ import discover
from settings import PROJECT_ROOT


def test_every_benchmark_runs_in_a_smoke_run():
    # A guard against a hang, not a timing: every benchmark's smoke (tax_season runs the transition benchmark twice)
    # took over 600 s on the shared 2-core machine at a load average of 25.
    result = subprocess.run([sys.executable, "-m", "bench", "--smoke"], cwd=PROJECT_ROOT, capture_output=True,
                            text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for name in discover([]):
        assert f"== {name}:" in result.stdout, name
    assert "benchmark failed" not in result.stdout + result.stderr
