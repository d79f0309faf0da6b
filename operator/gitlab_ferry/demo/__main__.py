"""``python -m gitlab_ferry.demo``: see the package docstring."""

from gitlab_ferry.demo.run import main

main()
