"""gitlab-ferry's testbed: what the operator is tried against, kept out of the operator.

``simulator`` is a faithful GitLab import/export API (an independent witness: it imports nothing
of ``gitlab_ferry``), ``controlplane`` a real Kubernetes API server on loopback built from Go
modules, and ``demo`` a whole migration on one machine that runs the two beside the operator as
child processes. The same distribution installs this package, with its own extra
(``gitlab-ferry[testbed]``, for ``cryptography``), but the operator never imports it and its
image does not carry it. Run it as ``python -m gitlab_ferry_testbed simulate|controlplane|demo``.
"""
