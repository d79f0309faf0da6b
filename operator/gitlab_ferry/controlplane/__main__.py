"""``python -m gitlab_ferry.controlplane up|down|status``: the control-plane commands on their
own, without the rest of the ``gitlab-ferry`` command line.

Layer: ``controlplane`` (a self-contained test and demo tool). Entry point only; it must not
do anything but call the click group.
"""

from gitlab_ferry.controlplane.cli import controlplane

controlplane(prog_name="python -m gitlab_ferry.controlplane")
