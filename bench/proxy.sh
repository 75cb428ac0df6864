#!/usr/bin/env bash
# Times `gostrap install VERSION` through the machine's module proxy against the go command's own
# toolchain download (`GOTOOLCHAIN=VERSION go version`), both from a fresh cache, alternating,
# and prints medians and ratios of wall time and peak RSS. Needs the network (GOPROXY).
#
#   bench/proxy.sh [go1.N.M] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-go1.25.5}
rounds=${2:-3}
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
go build -o "$tmp/gostrap" ./cmd/gostrap

measure() { # label command...: appends "seconds kilobytes" to $tmp/label
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$tmp/one" "$@" >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
  cat "$tmp/one" >> "$tmp/times.$label"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

for i in $(seq "$rounds"); do
  d="$tmp/r$i"; mkdir -p "$d/gopath" "$d/gs"
  measure gostrap "$tmp/gostrap" install "$version" --quiet --dir "$d/gs/dir" --cache-dir "$d/gs/cache" \
    --official off --mirror off
  (cd "$d" && measure gocmd env GOPATH="$d/gopath" GOMODCACHE="$d/gopath/mod" GOTOOLCHAIN="$version" go version)
  chmod -R u+w "$d"; rm -rf "$d"
done

gs_t=$(cut -d' ' -f1 "$tmp/times.gostrap" | median); go_t=$(cut -d' ' -f1 "$tmp/times.gocmd" | median)
gs_m=$(cut -d' ' -f2 "$tmp/times.gostrap" | median); go_m=$(cut -d' ' -f2 "$tmp/times.gocmd" | median)
echo "version $version, $rounds rounds, fresh caches, alternating"
printf "gostrap install:            %6.2f s  %7.1f MiB peak RSS\n" "$gs_t" "$(echo "$gs_m/1024" | bc -l)"
printf "GOTOOLCHAIN=... go version: %6.2f s  %7.1f MiB peak RSS\n" "$go_t" "$(echo "$go_m/1024" | bc -l)"
printf "ratio gostrap/go: time %.2fx, peak RSS %.2fx\n" "$(echo "$gs_t/$go_t" | bc -l)" "$(echo "$gs_m/$go_m" | bc -l)"
