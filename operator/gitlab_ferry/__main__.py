"""``python -m gitlab_ferry`` runs the command line."""

from gitlab_ferry.cli import main

main()
