# The gate as a container image: `gate` is the entrypoint; the default command
# serves the admission webhook with the paths deploy/deployment.yaml mounts.
#   docker build -t gate .
#   docker run --rm -v "$PWD/policies:/etc/gate:ro" gate policy validate /etc/gate/example.yaml
# CHANGE for production: pin the base image by digest (python:3.11-slim@sha256:...).

# Build stage: the package and its dependencies into a virtual environment,
# so the runtime stage gets them without pip, setuptools or build caches.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/gate
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gate ./gate
COPY webhook ./webhook
RUN /opt/gate/bin/pip install . \
 && /opt/gate/bin/gate --help >/dev/null

FROM python:3.11-slim
LABEL org.opencontainers.image.title="gate" \
      org.opencontainers.image.description="Supply-chain security gate for container images: CLI and Kubernetes admission webhook" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed numeric user, so Kubernetes' runAsNonRoot can check it without
# reading /etc/passwd; it matches runAsUser in deploy/deployment.yaml.
RUN groupadd --system --gid 10001 gate \
 && useradd --system --uid 10001 --gid gate --home-dir /var/lib/gate --shell /usr/sbin/nologin gate \
 && mkdir -p /var/lib/gate /etc/gate \
 && chown gate:gate /var/lib/gate
COPY --from=build /opt/gate /opt/gate
# No .pyc writes: the root filesystem is read-only in the cluster.
# GATE_STATE_DIR holds the default SQLite store when no --db is given
# (a single container); the cluster uses PostgreSQL and a /tmp emptyDir.
ENV PATH=/opt/gate/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GATE_STATE_DIR=/var/lib/gate
USER 10001:10001
WORKDIR /var/lib/gate
EXPOSE 8443
# Liveness for plain `docker run`; Kubernetes uses the Deployment's probes
# instead. The certificate is not checked: this only asks the local process
# whether it is alive.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import ssl, sys, urllib.request; ctx = ssl._create_unverified_context(); sys.exit(0 if urllib.request.urlopen('https://127.0.0.1:8443/healthz', context=ctx, timeout=4).status == 200 else 1)"]
ENTRYPOINT ["gate"]
CMD ["serve", "--policy", "/etc/gate/policy.yaml", "--host", "0.0.0.0", "--port", "8443", \
     "--tls-cert", "/etc/gate/tls/tls.crt", "--tls-key", "/etc/gate/tls/tls.key"]
