"""``python -m gitlab_ferry_testbed demo``: a whole migration on one machine, watched live.

A top-layer tool: it starts a local control plane, two simulated GitLabs and the operator as
child processes, applies the migration example for every project of the source, shows the
progress as a live table and checks the result. Nothing in the operator imports it.
"""
