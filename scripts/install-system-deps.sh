#!/usr/bin/env bash
# Installs the Debian packages the demo and the integration tests start or call:
#   docker-registry  (distribution 2.8, the real registry the tests and the demo run)
#   skopeo           (pushes test images, so the harness does not rely on gate's client)
#   umoci            (builds the demo's images)
#   ca-certificates  (the system trust store gate's TLS context starts from)
#   python3-venv     (for a system Python without venv support)
#   postgresql       (the verdict store's integration tests start a throw-away server)
#   wrk              (the webhook benchmark's load generator)
#   openssl          (deploy/make-certs.sh)
#   notary           (notary-server, notary-signer and the notary client: the Docker Content
#                     Trust integration tests sign with the real client against a real server)
#   kubernetes-client (kubectl, only when no kubectl is on the PATH: the admission tests
#                     build their objects with `kubectl create --dry-run=client`)
#   chromium, chromium-driver (the dashboard's browser tests drive headless Chromium
#                     through chromedriver; no browser is ever downloaded)
#   redis-server     (the replicas' shared verification cache: the integration tests start
#                     their own throw-away server; the system service is not used)
#   golang-go        (builds tests/support/helmrender, the Helm chart's template renderer:
#                     Go's text/template is Helm's engine; standard library only)
# Idempotent: installs only what is missing, and runs `apt-get update` only then.
set -euo pipefail

packages=(docker-registry skopeo umoci ca-certificates python3-venv postgresql wrk openssl notary
  chromium chromium-driver redis-server golang-go)
if ! command -v kubectl >/dev/null; then
  packages+=(kubernetes-client)
fi
missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "install-system-deps: need root (or sudo) to install: ${missing[*]}" >&2
    exit 2
  fi
  sudo=(sudo)
fi
echo "install-system-deps: installing ${missing[*]}" >&2
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >/dev/null
