# The gitlab-ferry operator image (the default, last target):
#   docker build -t gitlab-ferry:0.1.0 .
# The Helm chart (charts/gitlab-ferry) runs it as UID 10001 with a read-only root filesystem.
# It carries the operator alone; `make image` builds it and checks that with
# tools/check-operator-image.sh. The `testbed` target is the image of the simulated GitLabs the
# kind tier runs as Pods (tests/kind); the Pods give its command line:
#   docker build --target testbed -t gitlab-ferry-testbed:0.1.0 .
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/gitlab-ferry
WORKDIR /src
# Dependencies first, pinned to the versions the tests ran with (the lock's runtime subset),
# so source changes do not invalidate this layer.
COPY requirements/dev.lock requirements/dev.lock
COPY pyproject.toml README.md ./
# Only the operator's package: setuptools installs whatever operator/ holds, so what is not
# copied here cannot reach the image.
COPY operator/gitlab_ferry/ operator/gitlab_ferry/
RUN /opt/gitlab-ferry/bin/pip install --constraint requirements/dev.lock . \
 && /opt/gitlab-ferry/bin/gitlab-ferry --version

# The operator's install plus the testbed and its extra (cryptography), for the image that
# runs simulated GitLabs (`python -m gitlab_ferry_testbed simulate ...`).
FROM build AS testbed-build
COPY operator/gitlab_ferry_testbed/ operator/gitlab_ferry_testbed/
RUN /opt/gitlab-ferry/bin/pip install --constraint requirements/dev.lock ".[testbed]" \
 && /opt/gitlab-ferry/bin/python -m gitlab_ferry_testbed --help >/dev/null

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 gitlab-ferry \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin gitlab-ferry
ENV PATH=/opt/gitlab-ferry/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER 10001:10001

# Simulated GitLabs for tests: no entrypoint of its own, the Pod names the command. They keep
# archives under their --data-dir (or /tmp), so their Pods mount a writable volume there.
FROM runtime AS testbed
COPY --from=testbed-build /opt/gitlab-ferry /opt/gitlab-ferry
WORKDIR /tmp
ENTRYPOINT []
CMD []

# The operator.
FROM runtime AS operator
COPY --from=build /opt/gitlab-ferry /opt/gitlab-ferry
ENV GITLAB_FERRY_LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["gitlab-ferry"]
CMD ["run"]
