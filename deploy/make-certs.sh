#!/usr/bin/env bash
# Makes the webhook's TLS material without a cluster, with openssl only:
#   OUT/ca.crt, OUT/ca.key        a CA (kept: a second run reuses it, so the
#                                 caBundle the API server holds stays valid)
#   OUT/tls.crt, OUT/tls.key      the serving certificate of the Service
#                                 gate-webhook.gate-system.svc, signed by the CA
#   OUT/gate-webhook-tls.yaml     the kubernetes.io/tls Secret the Deployment mounts
#   OUT/validatingwebhookconfiguration.yaml
#                                 deploy/validatingwebhookconfiguration.yaml with
#                                 caBundle set to the CA certificate
#
# Usage: deploy/make-certs.sh [OUT]      (OUT defaults to ./gate-certs)
# Environment: CERT_DAYS (serving certificate, default 365),
#              CA_DAYS (CA, default 3650).
#
# Then: kubectl apply -f OUT/gate-webhook-tls.yaml, and once the pods are
# ready, kubectl apply -f OUT/validatingwebhookconfiguration.yaml.
# OUT/ca.key signs certificates the API server trusts for the gate: keep it
# out of the repository and out of the cluster.
set -euo pipefail

readonly SERVICE=gate-webhook
readonly NAMESPACE=gate-system
readonly SECRET=gate-webhook-tls

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-gate-certs}
cert_days=${CERT_DAYS:-365}
ca_days=${CA_DAYS:-3650}
webhook_manifest="$here/validatingwebhookconfiguration.yaml"

die() {
  echo "make-certs: $*" >&2
  exit 2
}

command -v openssl >/dev/null || die "openssl is required"
[[ -f "$webhook_manifest" ]] || die "$webhook_manifest: not found"
[[ "$cert_days" =~ ^[1-9][0-9]*$ ]] || die "CERT_DAYS must be a positive whole number, got '$cert_days'"
[[ "$ca_days" =~ ^[1-9][0-9]*$ ]] || die "CA_DAYS must be a positive whole number, got '$ca_days'"
grep -q '^ *caBundle:' "$webhook_manifest" || die "$webhook_manifest: no caBundle line to patch"

# Private keys are created readable by their owner only.
umask 077
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

new_key() {
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

# A random positive 128-bit serial: never reused, even across runs.
serial() {
  echo "0x$(openssl rand -hex 16)"
}

if [[ -f "$out/ca.crt" && -f "$out/ca.key" ]]; then
  echo "make-certs: reusing the CA in $out" >&2
else
  new_key "$out/ca.key"
  cat >"$work/ca.ext" <<'EOF'
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
  openssl req -new -key "$out/ca.key" -subj "/O=gate/CN=gate-webhook CA" -out "$work/ca.csr"
  openssl x509 -req -in "$work/ca.csr" -signkey "$out/ca.key" -days "$ca_days" \
    -set_serial "$(serial)" -extfile "$work/ca.ext" -out "$out/ca.crt" 2>/dev/null
fi

# The names the API server may use for the Service (it uses the .svc form).
dns_names=(
  "$SERVICE"
  "$SERVICE.$NAMESPACE"
  "$SERVICE.$NAMESPACE.svc"
  "$SERVICE.$NAMESPACE.svc.cluster.local"
)
san=""
for name in "${dns_names[@]}"; do
  san+="${san:+, }DNS:$name"
done
cat >"$work/tls.ext" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $san
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
new_key "$out/tls.key"
openssl req -new -key "$out/tls.key" -subj "/O=gate/CN=$SERVICE.$NAMESPACE.svc" -out "$work/tls.csr"
openssl x509 -req -in "$work/tls.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -days "$cert_days" \
  -set_serial "$(serial)" -extfile "$work/tls.ext" -out "$out/tls.crt" 2>/dev/null
openssl verify -CAfile "$out/ca.crt" "$out/tls.crt" >/dev/null \
  || die "the new certificate does not verify against $out/ca.crt"

b64() {
  openssl base64 -A -in "$1"
}

chmod 644 "$out/ca.crt" "$out/tls.crt"
cat >"$out/$SECRET.yaml" <<EOF
# Made by deploy/make-certs.sh: the webhook's serving certificate and key.
# A Secret: apply it, do not commit it.
apiVersion: v1
kind: Secret
metadata:
  name: $SECRET
  namespace: $NAMESPACE
  labels:
    app.kubernetes.io/name: gate
type: kubernetes.io/tls
data:
  tls.crt: $(b64 "$out/tls.crt")
  tls.key: $(b64 "$out/tls.key")
  ca.crt: $(b64 "$out/ca.crt")
EOF
chmod 600 "$out/$SECRET.yaml"

ca_bundle=$(b64 "$out/ca.crt")
{
  echo "# Made by deploy/make-certs.sh from deploy/validatingwebhookconfiguration.yaml:"
  echo "# caBundle is the base64 PEM of $out/ca.crt."
  sed -E "s|^( *)caBundle:.*$|\\1caBundle: $ca_bundle|" "$webhook_manifest"
} >"$out/validatingwebhookconfiguration.yaml"
chmod 644 "$out/validatingwebhookconfiguration.yaml"

echo "make-certs: wrote $out/$SECRET.yaml and $out/validatingwebhookconfiguration.yaml" >&2
