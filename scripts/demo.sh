#!/usr/bin/env bash
# The gate in one minute: sets up (scripts/setup.sh), starts a throw-away
# docker-registry on 127.0.0.1, builds and pushes two tiny images with umoci and
# skopeo, signs one of them with `gate sign` and the bundled demo key, and runs
# `gate check` on both with policies/example.yaml: the signed image is allowed,
# the unsigned one denied, each with its reasons. Then it starts the admission
# webhook (`gate serve`, SQLite verdict store) on 127.0.0.1, sends it an
# AdmissionReview for a Deployment of each image, and lists the recorded
# verdicts through the API (`gate verdicts list`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

work=$(mktemp -d "${TMPDIR:-/tmp}/gate-demo.XXXXXX")
registry_pid=""
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
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
echo "demo: starting the admission webhook (gate serve, SQLite store in a temp dir)"
api_port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
server="http://127.0.0.1:$api_port"
GATE_TOKEN=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(24))')
export GATE_TOKEN
printf 'tokens:\n  - name: demo\n    token: "%s"\n    scopes: [read, write]\n' "$GATE_TOKEN" > "$work/tokens.yaml"
.venv/bin/gate serve --policy policies/example.yaml --port "$api_port" \
  --db "sqlite:///$work/gate.db" --tokens "$work/tokens.yaml" > "$work/serve.log" 2>&1 &
server_pid=$!
ready() { .venv/bin/python -c "import urllib.request as u; u.urlopen('$server/readyz', timeout=1)" 2>/dev/null; }
for _ in $(seq 1 100); do ready && break; sleep 0.1; done
ready || { echo "demo: webhook did not start:" >&2; cat "$work/serve.log" >&2; exit 2; }
echo "demo: webhook listening on $server"
echo "demo: kubectl apply of a Deployment running the signed image:"
.venv/bin/python scripts/demo_admission.py "$server/validate" "$registry/demo/signed:1.0" signed-app
echo "demo: kubectl apply of a Deployment running the unsigned image:"
.venv/bin/python scripts/demo_admission.py "$server/validate" "$registry/demo/unsigned:1.0" unsigned-app

echo
echo "demo: gate verdicts list --server $server (what was admitted or refused, and why)"
for _ in $(seq 1 50); do
  count=$(.venv/bin/gate verdicts list --server "$server" --format json | .venv/bin/python -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')
  [ "$count" -ge 2 ] && break
  sleep 0.1
done
.venv/bin/gate verdicts list --server "$server"
echo
echo "demo: done. Try gate check --format json|sarif|junit, or edit policies/example.yaml."
