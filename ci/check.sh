#!/usr/bin/env bash
# The project's checks, as CI runs them and as a person runs them before pushing:
#   ci/check.sh
# Needs only the Rust toolchain (with rustfmt and clippy). Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "format"
cargo fmt --all --check

step "workspace layering (design §3: protocol and fixtures at the bottom, the simulator never knows the client)"
# Each line: crate, then workspace crates it must never depend on (normal dependencies).
check_layer() {
  local crate=$1; shift
  local deps
  deps=$(cargo tree --locked -p "$crate" -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u)
  for forbidden in "$@"; do
    if grep -qx "$forbidden" <<<"$deps"; then
      echo "layering violation: $crate depends on $forbidden" >&2
      exit 1
    fi
  done
}
check_layer pen-protocol pen-fixtures pen-client pen-simulator pen-conformance pen-testkit
check_layer pen-fixtures pen-protocol pen-client pen-simulator pen-conformance pen-testkit
# The client may read the data-only fixtures (a sample sent by name); never the simulator.
check_layer pen-client pen-simulator pen-conformance pen-testkit
check_layer pen-simulator pen-client pen-conformance pen-testkit
check_layer pen-conformance pen-testkit
echo "ok"

step "clippy (warnings are errors)"
cargo clippy --locked --workspace --all-targets -- -D warnings

step "tests"
cargo test --locked --workspace

step "the harness: the suite ten times in a row, every mutant caught, the homologation rehearsal, the user's path"
mkdir -p target/ci
# Any non-zero exit (a failure, a harness error) in any of the ten runs fails CI.
if ! cargo run --locked -q -p pen-conformance -- run --repeat 10 >target/ci/repeat.log 2>&1; then
  tail -80 target/ci/repeat.log
  exit 1
fi
grep -E '^(10 execuções|Resumo)' target/ci/repeat.log
cargo run --locked -q -p pen-conformance -- mutants
cargo run --locked -q -p pen-conformance -- homologacao --json target/ci/homologacao.json >target/ci/homologacao.log
grep -q '"requisitos_atendidos": 3' target/ci/homologacao.json
bash ci/user-path.sh

step "docs (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --locked --workspace --no-deps

step "benches compile"
# In the dev profile: the test build above already compiled every dependency that way, while the
# bench profile would compile the whole tree again optimised (about ten minutes on two cores).
# The code is the same; `cargo bench` itself builds optimised for real measurements.
cargo bench --locked -p pen-benches --no-run --profile dev

step "load smoke runs (completes and writes its JSON; nothing is timed)"
mkdir -p target/ci
rm -f target/ci/load-smoke.json target/ci/loopback-smoke.json
cargo run --locked -q -p pen-conformance -- load --smoke --json target/ci/load-smoke.json
grep -q '"throughput_per_s"' target/ci/load-smoke.json
# The loopback bench, unoptimised: a smoke run checks that it completes, its rates mean nothing.
cargo run --locked -q --profile dev -p pen-benches --bin loopback -- --smoke --json target/ci/loopback-smoke.json
test -s target/ci/loopback-smoke.json
echo "ok"
