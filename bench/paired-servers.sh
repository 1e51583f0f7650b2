#!/bin/bash
# The cost of one feature on warm b1×10, measured on two servers at once: the base server and one
# that differs by VARIANT, each driven by its own ghz at the same rate in the same window, so that
# the shared machine's swings in speed hit both alike (a sequential A/B on this machine drifts by
# ±10 %). Server CPU per request comes from /proc/<pid>/stat over each window.
#   VARIANT=metrics-off  base: metrics on (the default); variant: metrics.enabled false
#   VARIANT=tls-auth     base: plain text, no auth; variant: TLS and a bearer token scoped to the view
#   VARIANT=coherence-off  base: cache coherence on (the default); variant: cache.coherence.enabled false
#
#   bench/paired-servers.sh            # after `npm run bench` has loaded its dataset
#   VARIANT=tls-auth KEYSPACE=cassette_bench CASSANDRA=127.0.0.1:9042 RATE=500 SECS=10 ROUNDS=10 bench/paired-servers.sh
#   VARIANT=tls-auth BATCH=100 FEATURES=50 RATE=60 bench/paired-servers.sh
#
# Needs ghz and grpcurl (go install; .ci/run builds both), openssl, and a built tree (npm run build).
set -eu
cd "$(dirname "$0")/.."
export PATH="$HOME/go/bin:$PATH"
KEYSPACE=${KEYSPACE:-cassette_bench}
CASSANDRA=${CASSANDRA:-127.0.0.1:9042}
RATE=${RATE:-500}
SECS=${SECS:-10}
ROUNDS=${ROUNDS:-10}
VARIANT=${VARIANT:-metrics-off}
BASE_PORT=${BASE_PORT:-7701}
VARIANT_PORT=${VARIANT_PORT:-7702}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
config() { # port metrics-enabled coherence-enabled extra-yaml
  cat <<YAML
listen: 127.0.0.1:$1
http: { enabled: false }
cassandra: { contactPoints: ["$CASSANDRA"], localDataCenter: datacenter1, keyspace: $KEYSPACE }
cache: { enabled: true, ttlMs: 600000, coherence: { enabled: $3 } }
log: { level: warn, statsIntervalMs: 0 }
serving: { drainMs: 0 }
metrics: { enabled: $2, listen: "127.0.0.1:0" }
$4
YAML
}
base_flags=(--insecure)
case "$VARIANT" in
metrics-off)
  variant_metrics=false
  variant_coherence=true
  variant_yaml=''
  variant_flags=(--insecure)
  ;;
coherence-off)
  variant_metrics=true
  variant_coherence=false
  variant_yaml=''
  variant_flags=(--insecure)
  ;;
tls-auth)
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost \
    -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
  token="cst_paired-bench-$(openssl rand -hex 16)"
  printf 'tokens:\n  - { name: bench, sha256: %s, scopes: ["read:wide"] }\n' \
    "$(printf %s "$token" | openssl dgst -sha256 -r | cut -d' ' -f1)" > "$dir/tokens.yaml"
  variant_metrics=true
  variant_coherence=true
  variant_yaml="tls: { certFile: $dir/cert.pem, keyFile: $dir/key.pem }
auth: { tokensFile: $dir/tokens.yaml }"
  variant_flags=(--cacert "$dir/cert.pem" --cname localhost --metadata "{\"authorization\":\"Bearer $token\"}")
  ;;
*)
  echo "VARIANT must be metrics-off, coherence-off or tls-auth" >&2
  exit 2
  ;;
esac
config "$BASE_PORT" true true '' > "$dir/base.yaml"
config "$VARIANT_PORT" "$variant_metrics" "$variant_coherence" "$variant_yaml" > "$dir/variant.yaml"
node bin/cassette.js -c "$dir/base.yaml" serve > "$dir/base.log" 2>&1 &
base=$!
node bin/cassette.js -c "$dir/variant.yaml" serve > "$dir/variant.log" 2>&1 &
variant=$!
trap 'kill $base $variant 2>/dev/null; rm -rf "$dir"' EXIT
for port in "$BASE_PORT" "$VARIANT_PORT"; do
  for _ in $(seq 1 60); do
    # Health stays open without a credential; over TLS it needs the certificate.
    grpcurl -plaintext "127.0.0.1:$port" grpc.health.v1.Health/Check 2>/dev/null | grep -q SERVING && break
    grpcurl -cacert "$dir/cert.pem" -servername localhost "127.0.0.1:$port" grpc.health.v1.Health/Check 2>/dev/null |
      grep -q SERVING && break
    sleep 1
  done
done
# Warm bB×fF (b1×10 by default): entities 1..B, all cached after the warm-up; the embedding and the
# first F-1 scalars of the harness's `wide` view.
BATCH=${BATCH:-1}
FEATURES=${FEATURES:-10}
refs='"wide:embedding"'
for ((f = 0; f < FEATURES - 1; f++)); do refs+=$(printf ',"wide:f%02d"' "$f"); done
keys=''
for ((e = 1; e <= BATCH; e++)); do keys+="${keys:+,}{\"int64_val\":\"$e\"}"; done
request="{\"features\":{\"val\":[$refs]},\"entities\":{\"user_id\":{\"val\":[$keys]}}}"
drive() { # seconds port flags... -> the count of OK responses
  local seconds=$1 port=$2
  shift 2
  ghz "$@" --call cassette.v1.FeatureServing.GetOnlineFeatures -d "$request" --rps "$RATE" -z "${seconds}s" \
    -c 8 --connections 2 "127.0.0.1:$port" 2>&1 | sed -n 's/.*\[OK\] *\([0-9]*\) responses.*/\1/p'
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
drive 5 "$BASE_PORT" "${base_flags[@]}" > /dev/null &
warming=$!
drive 5 "$VARIANT_PORT" "${variant_flags[@]}" > /dev/null
wait $warming # (a bare wait would wait for the servers too)
hz=$(getconf CLK_TCK)
echo "round  base µs/req  $VARIANT µs/req  $VARIANT/base  (warm b$BATCH×$FEATURES, $RATE req/s each, ${SECS} s windows)"
for round in $(seq 1 "$ROUNDS"); do
  a0=$(cpu_ticks $base)
  b0=$(cpu_ticks $variant)
  drive "$SECS" "$BASE_PORT" "${base_flags[@]}" > "$dir/base.count" &
  driving=$!
  drive "$SECS" "$VARIANT_PORT" "${variant_flags[@]}" > "$dir/variant.count"
  wait $driving
  a1=$(cpu_ticks $base)
  b1=$(cpu_ticks $variant)
  awk -v r="$round" -v hz="$hz" -v a=$((a1 - a0)) -v b=$((b1 - b0)) \
    -v na="$(cat "$dir/base.count")" -v nb="$(cat "$dir/variant.count")" \
    'BEGIN { x = a / hz * 1e6 / na; y = b / hz * 1e6 / nb; printf "%5d  %11.0f  %14.0f  %12.3f\n", r, x, y, y / x }'
done
