"""``python -m gitlab_ferry_testbed``: the simulated GitLab, the local control plane and the demo.

The testbed's top layer: one click group that gathers the commands each tool defines, so the
operator's own command line (``gitlab-ferry``) stays the operator's and its image carries no
command that would need this package. It parses nothing itself and must not import
``gitlab_ferry``: the demo runs the operator as a child process, never in this one.
"""

from __future__ import annotations

import click

from gitlab_ferry_testbed.controlplane.cli import controlplane
from gitlab_ferry_testbed.demo.run import demo
from gitlab_ferry_testbed.simulator.cli import simulate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """What gitlab-ferry is tried against: a simulated GitLab, a local Kubernetes control
    plane, and a live demo of both with the operator."""


main.add_command(simulate)
main.add_command(controlplane)
main.add_command(demo)
