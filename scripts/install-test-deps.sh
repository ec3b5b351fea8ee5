#!/usr/bin/env bash
# Installs the Debian packages the integration tests start or call:
#   docker-registry  (distribution 2.8, the real registry the tests run)
#   skopeo           (pushes test images, so the harness does not rely on gate's client)
#   apache2-utils    (htpasswd, to make users for a test registry by hand; the
#                     fixtures hash passwords with python bcrypt)
#   ca-certificates  (the system trust store gate's TLS context starts from)
# Idempotent: installs only what is missing, and runs `apt-get update` only then.
set -euo pipefail

packages=(docker-registry skopeo apache2-utils ca-certificates)
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
    echo "install-test-deps: need root (or sudo) to install: ${missing[*]}" >&2
    exit 2
  fi
  sudo=(sudo)
fi
echo "install-test-deps: installing ${missing[*]}" >&2
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >/dev/null
