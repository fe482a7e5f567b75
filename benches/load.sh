#!/usr/bin/env bash
# Builds errmap and the baseline server, then measures both side by side
# with h2load (benches/load.py; BENCHMARKS.md has the method and figures).
#
#   benches/load.sh [load.py options, e.g. --rounds 5 --only batch]
#
# Needs h2load (Debian: apt-get install nghttp2-client), taskset and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --bin errmap --example kit
exec python3 benches/load.py "$@"
