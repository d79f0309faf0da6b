"""gitlab-ferry: a Kubernetes operator that exports, imports and migrates GitLab projects.

The package is layered (see ``docs/architecture.md``): ``api`` holds the resource models,
``gitlab`` the HTTP client, ``reconcile`` the pure planners, ``effects`` the I/O that applies a
plan, ``controller`` the per-object reconcile loop and ``handlers`` the kopf wiring. What the
operator is tried against (the GitLab simulator, the local control plane, the demo) is the
sibling package ``gitlab_ferry_testbed``, which nothing here imports.
"""

__version__ = "0.1.0"
