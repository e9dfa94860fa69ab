#!/usr/bin/env bash
# Local Kafka-protocol broker for development and tests: tansu 0.6.0 with sqlite storage.
#
#   deploy/local/broker.sh install   build tansu from the crates registry once, cache it
#   deploy/local/broker.sh start     start it on 127.0.0.1 (installs first if needed), wait until it answers
#   deploy/local/broker.sh stop      stop it by PID and wait until it has exited
#   deploy/local/broker.sh status    say whether it runs, exit 0 if it does
#   deploy/local/broker.sh path      print the tansu binary's path
#
# Watchdog: tansu 0.6.0's sqlite engine sometimes panics inside a request task ("more or less
# than one row", tansu-storage lite.rs:503); the process keeps running but every later produce
# fails. `start` therefore also starts a watchdog that restarts tansu on the same data (nothing
# is lost: topics, records and offsets are in the sqlite file) when a new panic shows in its
# log, and says so in the log. Tests that were talking to it at that moment fail once; the CI
# profile retries broker tests (.config/nextest.toml), and nextest reports them as flaky.
#
# Why tansu: no Apache Kafka or Redpanda distribution can be installed on these machines; tansu speaks
# the Kafka wire protocol, and with the `libsql` feature it persists topics, records and group offsets
# in sqlite across restarts. Its default crate features carry no storage engine, hence the features below.
# It supports no transactions (EndTxn) and breaks on snappy batches: Compass uses neither.
#
# Environment:
#   COMPASS_TOOLS        cache folder for the built binary (default: ~/.cache/compass-tools); kept
#                        between runs so that a second run on the same machine takes seconds
#   COMPASS_BROKER_PORT  listener port on 127.0.0.1 (default 9092)
#   COMPASS_BROKER_DATA  folder for the sqlite file, log and PID (default: ./.kafka-data)
#   COMPASS_TANSU_PROFILE  "debug" (default: about 10 min cold on 2 cores) or "release" (about 18 min)
set -euo pipefail

TANSU_VERSION=0.6.0
TOOLS="${COMPASS_TOOLS:-$HOME/.cache/compass-tools}"
PORT="${COMPASS_BROKER_PORT:-9092}"
DATA="${COMPASS_BROKER_DATA:-$PWD/.kafka-data}"
PROFILE="${COMPASS_TANSU_PROFILE:-debug}"
BIN="$TOOLS/bin/tansu"

log() { printf '[broker] %s\n' "$*" >&2; }

installed() {
  [ -x "$BIN" ] && "$BIN" --help 2>/dev/null | grep -q 'Storage engines: .*libsql'
}

install() {
  if installed; then
    log "tansu $TANSU_VERSION already cached at $BIN"
    return 0
  fi
  log "building tansu $TANSU_VERSION (features dynostore,libsql; profile $PROFILE) into $TOOLS; this takes minutes once"
  local extra=()
  [ "$PROFILE" = "debug" ] && extra+=(--debug)
  local t0=$SECONDS
  cargo install tansu --version "$TANSU_VERSION" --locked "${extra[@]}" \
    --no-default-features --features dynostore,libsql --root "$TOOLS" --quiet
  installed || { log "error: tansu built but reports no libsql storage engine"; exit 1; }
  log "tansu built in $((SECONDS - t0)) s"
}

pidfile() { echo "$DATA/broker-$PORT.pid"; }

running() {
  local pf; pf=$(pidfile)
  [ -f "$pf" ] && kill -0 "$(cat "$pf")" 2>/dev/null
}

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

launch() {
  (
    cd "$DATA"
    RUST_LOG="${RUST_LOG:-warn}" exec "$BIN" broker \
      --listener-url "tcp://127.0.0.1:$PORT" \
      --advertised-listener-url "tcp://127.0.0.1:$PORT" \
      --storage-engine "sqlite://tansu-$PORT.db"
  ) >>"$DATA/broker-$PORT.log" 2>&1 &
  echo $! >"$(pidfile)"
}

# tansu 0.6.0's sqlite schema has no index on its header table, and it looks up each fetched
# record's headers by (topition, offset_id): every fetch of a record scans every header the
# broker holds, so reading a topic of header-carrying records (the dead-letter topic) slows
# quadratically (20,000 dead letters did not read back in minutes). An index fixes it; the
# broker's own queries are unchanged. Idempotent.
index_headers() {
  python3 - "$DATA/tansu-$PORT.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=30)
db.execute("create index if not exists compass_header_record on header (topition, offset_id)")
db.commit()
PY
}

panics() {
  local n; n=$(grep -c "panicked at" "$DATA/broker-$PORT.log" 2>/dev/null || true)
  echo "${n:-0}"
}

# Restart tansu whenever its log shows a panic it has not been restarted for.
# $1: the log's panic count when this tansu was launched.
watch() {
  local seen="${1:-$(panics)}"
  while running; do
    sleep 0.5
    local now; now=$(panics)
    if [ "${now:-0}" -gt "${seen:-0}" ]; then
      log "watchdog: tansu panicked (known tansu 0.6.0 sqlite defect); restarting it on the same data" \
        2>>"$DATA/broker-$PORT.log"
      local pid; pid=$(cat "$(pidfile)")
      kill -9 "$pid" 2>/dev/null || true
      # Wait until the port is free (a killed process may linger as a zombie).
      for _ in $(seq 100); do answers || break; sleep 0.05; done
      launch
      seen=$now
    fi
  done
}

start() {
  install
  mkdir -p "$DATA"
  if running; then
    log "already running (pid $(cat "$(pidfile)")) on 127.0.0.1:$PORT"
    return 0
  fi
  if answers; then
    log "error: something else already listens on 127.0.0.1:$PORT"
    log "hint: stop it, or set COMPASS_BROKER_PORT to a free port"
    exit 1
  fi
  local base; base=$(panics)
  launch
  for _ in $(seq 200); do
    if answers; then
      index_headers || log "warning: could not index the header table (reads of headers stay slow)"
      nohup bash "$0" watch "$base" >/dev/null 2>&1 &
      echo $! >"$DATA/watchdog-$PORT.pid"
      log "tansu running (pid $(cat "$(pidfile)")) on 127.0.0.1:$PORT, data in $DATA"
      return 0
    fi
    running || break
    sleep 0.05
  done
  log "error: broker did not answer on 127.0.0.1:$PORT; last log lines:"
  tail -n 20 "$DATA/broker-$PORT.log" >&2 || true
  exit 1
}

stop() {
  if [ -f "$DATA/watchdog-$PORT.pid" ]; then
    kill "$(cat "$DATA/watchdog-$PORT.pid")" 2>/dev/null || true
    rm -f "$DATA/watchdog-$PORT.pid"
  fi
  if ! running; then
    log "not running"
    rm -f "$(pidfile)"
    return 0
  fi
  local pid; pid=$(cat "$(pidfile)")
  kill "$pid"
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "broker did not exit within 10 s of SIGTERM; sending SIGKILL"
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$(pidfile)"
  log "stopped (pid $pid)"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  watch) watch ;;
  status) if running; then log "running (pid $(cat "$(pidfile)")) on 127.0.0.1:$PORT"; else log "not running"; exit 1; fi ;;
  path) echo "$BIN" ;;
  *) echo "usage: $0 install|start|stop|status|path" >&2; exit 2 ;;
esac
