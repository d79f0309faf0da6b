"""``python -m gitlab_ferry_testbed`` runs the testbed's command line (see ``cli``)."""

from gitlab_ferry_testbed.cli import main

main()
