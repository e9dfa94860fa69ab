#!/usr/bin/env bash
# The test command (README): on a fresh machine it installs and starts everything the tests
# need, then runs formatting, lints and every test against a real Kafka-protocol broker.
#
#   1. tansu 0.6.0 broker, built once into $COMPASS_TOOLS (~9 min cold on 2 cores, then cached)
#   2. a Python venv with confluent-kafka and fastavro for the interop example, the CBC MILP
#      solver library (Debian's coinor-libcbc-dev) for the matching oracle, and libssl-dev
#      (librdkafka's TLS and SASL/SCRAM)
#   3. cargo fmt --check, cargo clippy -D warnings
#   4. cargo nextest run (or cargo test where nextest is absent), workspace-wide
#   5. the broker is stopped on exit, whatever happened
set -euo pipefail
cd "$(dirname "$0")/.."

export COMPASS_TOOLS="${COMPASS_TOOLS:-$HOME/.cache/compass-tools}"
export COMPASS_BROKER_PORT="${COMPASS_BROKER_PORT:-9092}"
export COMPASS_BROKER_DATA="${COMPASS_BROKER_DATA:-$PWD/.kafka-data}"
export COMPASS_TEST_BROKERS="127.0.0.1:$COMPASS_BROKER_PORT"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# A one-shot build gains nothing from incremental state, which doubles the target's size.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

T0=$SECONDS
declare -a TIMES=()
step() {
  local name=$1; shift
  local t=$SECONDS
  echo "==> $name"
  "$@"
  TIMES+=("$(printf '%-28s %5d s' "$name" $((SECONDS - t)))")
  echo "<== $name: $((SECONDS - t)) s"
}
summary() {
  echo "---- step durations ----"
  for line in "${TIMES[@]}"; do echo "$line"; done
  echo "total                        $((SECONDS - T0)) s"
  echo "target/ on disk: $(du -sh target 2>/dev/null | cut -f1), free: $(df -h . | awk 'NR==2 {print $4}')"
}
stop_broker() {
  local log="$COMPASS_BROKER_DATA/broker-$COMPASS_BROKER_PORT.log"
  if [ -f "$log" ] && grep -q panicked "$log"; then
    echo "!!! the broker panicked during the run; later broker failures follow from it. First panic:"
    grep -m1 -A1 panicked "$log" || true
  fi
  bash deploy/local/broker.sh stop || true
  summary
}
trap stop_broker EXIT

python_env() {
  local venv="$COMPASS_TOOLS/venv"
  if ! "$venv/bin/python" -c 'import confluent_kafka, fastavro' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check confluent-kafka fastavro
  fi
  export COMPASS_PYTHON="$venv/bin/python"
}

# Debian packages the build links: CBC (the MILP oracle) and OpenSSL (librdkafka's TLS and
# SASL/SCRAM support).
packages() {
  local want=()
  pkg-config --exists cbc 2>/dev/null || want+=(coinor-libcbc-dev)
  pkg-config --exists openssl 2>/dev/null || want+=(libssl-dev)
  if [ ${#want[@]} -eq 0 ]; then
    echo "CBC $(pkg-config --modversion cbc) and OpenSSL $(pkg-config --modversion openssl) already installed"
    return 0
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${want[@]}" >/dev/null
}

run_tests() {
  if command -v cargo-nextest >/dev/null 2>&1; then
    cargo nextest run --workspace --all-features --locked --profile ci
  else
    # Without nextest's test groups, keep broker tests from overlapping (see .config/nextest.toml).
    cargo test --workspace --all-features --locked -- --test-threads=1
  fi
}

step "broker: install" bash deploy/local/broker.sh install
step "broker: start" bash deploy/local/broker.sh start
step "python: venv" python_env
step "apt: CBC, OpenSSL" packages
step "cargo fmt --check" cargo fmt --all -- --check
step "cargo clippy" cargo clippy --workspace --all-targets --all-features --locked -- -D warnings
step "tests" run_tests
