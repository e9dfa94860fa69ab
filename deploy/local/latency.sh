#!/usr/bin/env bash
# Arrival -> decision latency through a local broker, in one command (BENCHMARKS.md,
# "Arrival -> decision latency"): the figure of issue 6's target (p50 <= 20 ms, p99 <= 250 ms
# at 1,000 arrivals/s with 10,000 live queries).
#
#   deploy/local/latency.sh [RUNS]
#
# Each run starts from nothing, because tansu's sqlite file slows as it fills (a reused one
# has stalled mid-run): a fresh broker on its own port and data folder, the topics with one
# partition each (as many as the planner's workers: every fetch costs the broker CPU per
# partition), `compass run` with deploy/local/low-latency.toml, then `compass load`, which
# times every arrival from its produce to its decision read back. Prints one line per run:
# p50 and p99 of the steady phase, decisions, and the CPU seconds of the broker and the
# planner (on two cores they compete with each other and with the load generator).
#
# Environment:
#   COMPASS_BIN           the compass binary (default: target/release/compass, built if missing)
#   COMPASS_TANSU_PROFILE as for broker.sh; use "release" (a debug tansu is several times slower
#                         per request, and this measures the broker as much as the planner)
#   LATENCY_PORT          the broker's port (default 9192: a test broker on 9092 is left alone)
#   LATENCY_OUT           folder for the reports and logs (default ./latency-reports)
#   RATE, LIVE, DURATION_S  arrivals per second, live queries, steady seconds (1000, 10000, 30)
#
# Exit status: 0 when every run decided every arrival, 1 otherwise, 2 on a usage error.
set -euo pipefail
cd "$(dirname "$0")/../.."

RUNS="${1:-1}"
case "$RUNS" in
  '' | *[!0-9]*) echo "usage: $0 [RUNS]" >&2; exit 2 ;;
esac
BIN="${COMPASS_BIN:-target/release/compass}"
PORT="${LATENCY_PORT:-9192}"
OUT="${LATENCY_OUT:-$PWD/latency-reports}"
RATE="${RATE:-1000}"
LIVE="${LIVE:-10000}"
DURATION_S="${DURATION_S:-30}"

if [ ! -x "$BIN" ]; then
  cargo build --release --locked --bin compass
fi
mkdir -p "$OUT"
sed 's/^partitions = [0-9]*/partitions = 1/' topics/catalogue.toml >"$OUT/one-partition.toml"

# CPU seconds (user + system, every thread) a live process has used so far.
cpu_s() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' "/proc/$1/stat"
}

# Stop this run's planner (gracefully) and broker; also on exit, whatever happened.
planner=""
cleanup() {
  [ -n "$planner" ] && kill -INT "$planner" 2>/dev/null && wait "$planner" || true
  planner=""
  [ -n "${COMPASS_BROKER_DATA:-}" ] && bash deploy/local/broker.sh stop || true
}
trap cleanup EXIT

export COMPASS_BROKER_PORT="$PORT"
export COMPASS__KAFKA__BOOTSTRAP_SERVERS="127.0.0.1:$PORT"
status=0
for run in $(seq "$RUNS"); do
  stamp="$(date +%Y%m%d-%H%M%S)-$run"
  export COMPASS_BROKER_DATA="$OUT/broker-$stamp"
  bash deploy/local/broker.sh start
  prefix="latency-$stamp."
  "$BIN" topics create --brokers "127.0.0.1:$PORT" --prefix "$prefix" \
    --catalogue "$OUT/one-partition.toml" >"$OUT/topics-$stamp.log" 2>&1
  COMPASS__TOPICS__PREFIX="$prefix" COMPASS__PLANNER__GROUP="latency-$stamp" \
    "$BIN" run --config deploy/local/low-latency.toml >"$OUT/planner-$stamp.log" 2>&1 &
  planner=$!
  sleep 2
  echo "run $run of $RUNS: $RATE arrivals/s, $LIVE live, $DURATION_S s steady (log: $OUT/load-$stamp.log)"
  COMPASS__TOPICS__PREFIX="$prefix" "$BIN" load --config deploy/local/low-latency.toml \
    --scenario scale --rate "$RATE" --live "$LIVE" --duration-s "$DURATION_S" --drain-s 60 \
    --planner-pid "$planner" --report "$OUT/load-$stamp.json" 2>"$OUT/load-$stamp.log" || status=1
  broker_cpu=$(cpu_s "$(cat "$COMPASS_BROKER_DATA/broker-$PORT.pid")")
  planner_cpu=$(cpu_s "$planner")
  cleanup
  # The broker's sqlite file holds every record of the run (~100 MB); its log is kept.
  mv "$COMPASS_BROKER_DATA/broker-$PORT.log" "$OUT/broker-$stamp.log" 2>/dev/null || true
  rm -rf "$COMPASS_BROKER_DATA"
  python3 - "$OUT/load-$stamp.json" "$broker_cpu" "$planner_cpu" <<'PY' || status=1
import json, sys
r = json.load(open(sys.argv[1]))
s = r["steady_ms"]
print(f"  p50 {s['p50']:.1f} ms  p99 {s['p99']:.1f} ms  (n {s['n']})  decided {r['decided']} of "
      f"{r['arrivals']}  broker CPU {sys.argv[2]} s  planner CPU {sys.argv[3]} s  wall {r['wall_s']:.0f} s")
a, b = r["steady_to_decision_ms"], r["steady_back_ms"]
tail = r.get("steady_tail_split_ms")
print(f"  arrival -> decision p50 {a['p50']:.1f} / p99 {a['p99']:.1f} ms, decision -> read back "
      f"p50 {b['p50']:.1f} / p99 {b['p99']:.1f} ms" +
      (f"; slowest 1%: {tail[0]:.0f} + {tail[1]:.0f} ms" if tail else ""))
sys.exit(0 if r["undecided"] == 0 and r["decided"] == r["arrivals"] else 1)
PY
done
exit "$status"
