# The gitlab-ferry operator image (the default, last target):
#   docker build -t gitlab-ferry:0.1.0 .
# The Helm chart (charts/gitlab-ferry) runs it as UID 10001 with a read-only root filesystem.
# The `testbed` target is the image of the simulated GitLabs the kind tier runs as Pods
# (tests/kind); the Pods give its command line:
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
COPY operator/ operator/
RUN /opt/gitlab-ferry/bin/pip install --constraint requirements/dev.lock . \
 && /opt/gitlab-ferry/bin/gitlab-ferry --version

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 gitlab-ferry \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin gitlab-ferry
COPY --from=build /opt/gitlab-ferry /opt/gitlab-ferry
ENV PATH=/opt/gitlab-ferry/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER 10001:10001

# Simulated GitLabs for tests: no entrypoint of its own, the Pod names the command. They keep
# archives under their --data-dir (or /tmp), so their Pods mount a writable volume there.
FROM runtime AS testbed
WORKDIR /tmp
ENTRYPOINT []
CMD []

# The operator.
FROM runtime AS operator
ENV GITLAB_FERRY_LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["gitlab-ferry"]
CMD ["run"]
