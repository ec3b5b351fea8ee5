#!/usr/bin/env bash
# The gate in one minute: sets up (scripts/setup.sh), starts a throw-away
# docker-registry on 127.0.0.1, builds and pushes two tiny images with umoci and
# skopeo, signs one of them with `gate sign` and the bundled demo key, and runs
# `gate check` on both with policies/example.yaml: the signed image is allowed,
# the unsigned one denied, each with its reasons.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

work=$(mktemp -d "${TMPDIR:-/tmp}/gate-demo.XXXXXX")
registry_pid=""
cleanup() {
  if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
registry="127.0.0.1:$port"
cat > "$work/registry.yml" <<YAML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/storage}}
http: {addr: $registry}
YAML
docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 &
registry_pid=$!
up() { .venv/bin/python -c "import urllib.request as u; u.urlopen('http://$registry/v2/', timeout=1)" 2>/dev/null; }
for _ in $(seq 1 50); do up && break; sleep 0.1; done
up || { echo "demo: registry did not start:" >&2; cat "$work/registry.log" >&2; exit 2; }
echo "demo: docker-registry listening on $registry"

build_and_push() {  # name tag text
  local layout="$work/layout-$1"
  umoci init --layout "$layout" >/dev/null
  umoci new --image "$layout:$2" >/dev/null
  mkdir -p "$work/rootfs-$1/app"
  printf '%s\n' "$3" > "$work/rootfs-$1/app/message.txt"
  umoci insert --image "$layout:$2" "$work/rootfs-$1" / >/dev/null
  skopeo copy --quiet --dest-tls-verify=false "oci:$layout:$2" "docker://$registry/$1:$2"
}
build_and_push demo/signed 1.0 "signed by the release key"
build_and_push demo/unsigned 1.0 "nobody signed me"
echo "demo: pushed $registry/demo/signed:1.0 and $registry/demo/unsigned:1.0"

export COSIGN_PASSWORD=gate-demo   # the demo key's password; never use the demo key for real
.venv/bin/gate sign "$registry/demo/signed:1.0" --key fixtures/demo/example.key

echo
echo "demo: gate check --policy policies/example.yaml (signed image)"
status=0
.venv/bin/gate check "$registry/demo/signed:1.0" --policy policies/example.yaml || status=$?
echo "demo: exit code $status (0 = allowed)"
[ "$status" -eq 0 ] || { echo "demo: expected the signed image to be allowed" >&2; exit 1; }

echo
echo "demo: gate check --policy policies/example.yaml (unsigned image)"
status=0
.venv/bin/gate check "$registry/demo/unsigned:1.0" --policy policies/example.yaml || status=$?
echo "demo: exit code $status (1 = denied)"
[ "$status" -eq 1 ] || { echo "demo: expected the unsigned image to be denied" >&2; exit 1; }
echo
echo "demo: done. Try --format json|sarif|junit, or edit policies/example.yaml."
