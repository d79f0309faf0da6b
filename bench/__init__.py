"""The benchmarks of gitlab-ferry (``python -m bench``, ``make bench``): scenarios that run the
operator against simulated GitLabs on a local control plane and write ``docs/benchmarks.md``.
Not part of the test suite and never imported by the operator."""
