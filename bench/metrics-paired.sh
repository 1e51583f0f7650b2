#!/bin/bash
# The cost of Prometheus metrics on warm b1×10, measured on two servers at once: one with metrics,
# one without, each driven by its own ghz at the same rate in the same window, so that the shared
# machine's swings in speed hit both alike (a sequential A/B on this machine drifts by ±10 %).
# Server CPU per request comes from /proc/<pid>/stat over each window.
#
#   bench/metrics-paired.sh            # after `npm run bench` has loaded its dataset
#   KEYSPACE=cassette_bench CASSANDRA=127.0.0.1:9042 RATE=500 SECS=10 ROUNDS=10 bench/metrics-paired.sh
#
# Needs ghz and grpcurl (go install; .ci/run builds both) and a built tree (npm run build).
set -eu
cd "$(dirname "$0")/.."
export PATH="$HOME/go/bin:$PATH"
KEYSPACE=${KEYSPACE:-cassette_bench}
CASSANDRA=${CASSANDRA:-127.0.0.1:9042}
RATE=${RATE:-500}
SECS=${SECS:-10}
ROUNDS=${ROUNDS:-10}
ON_PORT=${ON_PORT:-7701}
OFF_PORT=${OFF_PORT:-7702}
dir=$(mktemp -d)
config() { # port metrics-enabled
  cat <<YAML
listen: 127.0.0.1:$1
http: { enabled: false }
cassandra: { contactPoints: ["$CASSANDRA"], localDataCenter: datacenter1, keyspace: $KEYSPACE }
cache: { enabled: true, ttlMs: 600000 }
log: { level: warn, statsIntervalMs: 0 }
serving: { drainMs: 0 }
metrics: { enabled: $2, listen: "127.0.0.1:0" }
YAML
}
config "$ON_PORT" true > "$dir/on.yaml"
config "$OFF_PORT" false > "$dir/off.yaml"
node bin/cassette.js -c "$dir/on.yaml" serve > "$dir/on.log" 2>&1 &
on=$!
node bin/cassette.js -c "$dir/off.yaml" serve > "$dir/off.log" 2>&1 &
off=$!
trap 'kill $on $off 2>/dev/null; rm -rf "$dir"' EXIT
for port in "$ON_PORT" "$OFF_PORT"; do
  for _ in $(seq 1 60); do
    grpcurl -plaintext "127.0.0.1:$port" grpc.health.v1.Health/Check 2>/dev/null | grep -q SERVING && break
    sleep 1
  done
done
# Warm b1×10: one hot entity, the embedding and nine scalars of the harness's `wide` view.
request='{"features":{"val":["wide:embedding","wide:f00","wide:f01","wide:f02","wide:f03","wide:f04","wide:f05","wide:f06","wide:f07","wide:f08"]},"entities":{"user_id":{"val":[{"int64_val":"7"}]}}}'
drive() { # seconds port -> the count of OK responses
  ghz --insecure --call cassette.v1.FeatureServing.GetOnlineFeatures -d "$request" --rps "$RATE" -z "${1}s" \
    -c 8 --connections 2 "127.0.0.1:$2" 2>&1 | sed -n 's/.*\[OK\] *\([0-9]*\) responses.*/\1/p'
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
drive 5 "$ON_PORT" > /dev/null &
warming=$!
drive 5 "$OFF_PORT" > /dev/null
wait $warming # (a bare wait would wait for the servers too)
hz=$(getconf CLK_TCK)
echo "round  on µs/req  off µs/req  off/on  (rate $RATE req/s each, ${SECS} s windows)"
for round in $(seq 1 "$ROUNDS"); do
  a0=$(cpu_ticks $on)
  b0=$(cpu_ticks $off)
  drive "$SECS" "$ON_PORT" > "$dir/on.count" &
  driving=$!
  drive "$SECS" "$OFF_PORT" > "$dir/off.count"
  wait $driving
  a1=$(cpu_ticks $on)
  b1=$(cpu_ticks $off)
  awk -v r="$round" -v hz="$hz" -v a=$((a1 - a0)) -v b=$((b1 - b0)) -v na="$(cat "$dir/on.count")" -v nb="$(cat "$dir/off.count")" \
    'BEGIN { on = a / hz * 1e6 / na; off = b / hz * 1e6 / nb; printf "%5d  %9.0f  %10.0f  %6.3f\n", r, on, off, off / on }'
done
