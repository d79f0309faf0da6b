"""The effects layer: everything that performs I/O for a reconcile pass (GitLab calls, S3
signing and checks, archive streaming, Kubernetes reads and status writes), returning
observations and outcomes as plain data. It knows nothing of kopf."""
