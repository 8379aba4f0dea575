"""`bench/run_all --quick`, the benches' smoke run: every bench still starts its servers, runs its
load and prints its tables. The figures are not checked (they vary on a shared machine): a bench
fails here only when its run is broken (an exception, a server that did not start, failed requests)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TABLE_RULE = re.compile(r"^  -+(  -+)+$", re.M)  # the line under a bench table's headers (bench/_common.py)

pytestmark = pytest.mark.slow


@pytest.mark.timeout(900)
def test_every_bench_runs_in_its_quick_mode() -> None:
    result = subprocess.run(
        [str(ROOT / "bench" / "run_all"), "--quick"],
        cwd=ROOT,
        env=dict(os.environ, PYTHON=sys.executable),
        capture_output=True,
        text=True,
        timeout=880,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-8000:]
    for bench in sorted(p.stem for p in (ROOT / "bench").glob("[!_]*.py")):
        found = re.search(rf"^=== {bench} --quick ===$(.*?)^=== {bench}: exit (\d+) after", output, re.M | re.S)
        assert found is not None, f"{bench} did not run:\n{output[-4000:]}"
        assert found.group(2) == "0", found.group(1)[-4000:]
        assert TABLE_RULE.search(found.group(1)), f"{bench} printed no result table:\n{found.group(1)[-4000:]}"
