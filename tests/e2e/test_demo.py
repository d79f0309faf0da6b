"""The README's first command: the demo migrates twenty projects and verifies them."""

from __future__ import annotations

import subprocess
import sys


def test_the_demo_migrates_and_verifies(kube):
    # The demo starts its own control plane, simulators and operator, like a newcomer's run.
    result = subprocess.run(
        [sys.executable, "-m", "gitlab_ferry_testbed", "demo", "--exit", "--timeout", "240"],
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "20/20 imported" in out
    assert "contents verified on the destination: 20/20" in out
    assert "metrics: http://127.0.0.1:" in out
    assert "==> stopping" in out
