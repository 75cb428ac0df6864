#!/usr/bin/env bash
# Times gostrap against the baselines and writes docs/performance.md. Options pass through:
#   bench/perf.sh [-rounds 5] [-proxy]      (-proxy needs the network: the real GOPROXY)
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./bench/perf "$@"
