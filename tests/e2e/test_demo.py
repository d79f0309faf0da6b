"""The README's first command: the demo migrates a group tree with one object and verifies it."""

from __future__ import annotations

import subprocess
import sys


def test_the_demo_migrates_and_verifies(kube):
    # The demo starts its own control plane, simulators and operator, like a newcomer's run.
    result = subprocess.run(
        [sys.executable, "-m", "gitlab_ferry_testbed", "demo", "--exit", "--timeout", "420"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    # platform/ has six groups and 40 projects; the five archived ones stay behind.
    assert "35/35 projects   groups 6/6" in out
    assert "Ready=True (Finished)" in out
    assert "contents verified on the destination: 35/35" in out
    assert "metrics: http://127.0.0.1:" in out
    assert "==> stopping" in out
