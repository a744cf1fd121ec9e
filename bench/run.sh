#!/usr/bin/env bash
# The whole benchmark suite, as `make bench` runs it: generate a site, then publish, serve and
# flip-under-load against real peers in one run on this machine. Prints the tables, writes each
# part's JSON and bench/out/results.md (the tables with the machine they ran on).
#
#   bench/run.sh [path/to/strata]          BENCH=default (5,000 files, 150 MiB) or BENCH=quick
#
# Needs wrk, nginx, caddy, rsync, GNU time and python3 (`make bench-deps` installs them), and moto
# and awscli in .build/s3-venv (`make s3-deps`).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:-.build/release/strata}")
case "${BENCH:-default}" in
    default) FILES=5000 MIB=150 ROUNDS=3 FLIPS=10 DURATION=5 SERVE_ROUNDS=3 FLIP_COUNT=1000 S3_FLIPS=200 ;;
    quick)   FILES=500  MIB=15  ROUNDS=1 FLIPS=5  DURATION=2 SERVE_ROUNDS=1 FLIP_COUNT=100 S3_FLIPS=20 ;;
    *) echo "bench: BENCH must be 'default' or 'quick', not '$BENCH'" >&2; exit 2 ;;
esac
for tool in wrk caddy rsync python3 /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "bench: $tool is missing; run make bench-deps" >&2; exit 2; }
done
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "bench: nginx is missing; run make bench-deps" >&2; exit 2; }

OUT=bench/out
WORK=$(mktemp -d /tmp/strata-bench-XXXXXX)
cleanup() {
    # The Python parts stop the servers they start; this catches any left if one was killed.
    for pidfile in "$WORK"/*.pid; do [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null; done
    chmod -R u+w "$WORK" 2>/dev/null; rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$OUT"
started=$(date +%s)

echo "Generating the site: $FILES files, $MIB MiB, and its next version with 1% changed" >&2
python3 bench/gen-site.py "$WORK/v1" --files "$FILES" --mib "$MIB" > "$OUT/site.json"
python3 bench/gen-site.py "$WORK/v2" --files "$FILES" --mib "$MIB" --revision 2 > /dev/null
cat "$WORK"/v1 "$WORK"/v2 > /dev/null 2>&1 || true

{
    echo "# Strata benchmarks — $(date -u +%Y-%m-%d), BENCH=${BENCH:-default}"
    echo
    echo "Machine: $(nproc) cores, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo),"\
         "$(free -g | awk '/Mem:/{print $2}') GiB, Linux $(uname -r)."
    echo "Peers: $( (nginx -v 2>&1 || /usr/sbin/nginx -v 2>&1) | sed 's/.*: //'), caddy $(caddy version | cut -d' ' -f1),"\
         "$(rsync --version | head -1 | awk '{print $1, $3}'), $(sha256sum --version | head -1), $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}')."
    echo "Strata: $("$BIN" version | head -1)."
    python3 -c 'import json, sys; s = json.load(open(sys.argv[1])); print("Site: %d files, %.0f MiB, seed %d (bench/gen-site.py)." % (s["files"], s["bytes"] / 1048576, s["seed"]))' "$OUT/site.json"
    echo
    python3 bench/publish.py --strata "$BIN" --v1 "$WORK/v1" --v2 "$WORK/v2" --work "$WORK" \
        --rounds "$ROUNDS" --flips "$FLIPS" --out "$OUT/publish.json"
    echo
    python3 bench/wire-bytes.py --strata "$BIN" --site "$WORK/v1" --work "$WORK/wire" --out "$OUT/wire-bytes.json"
    echo
    python3 bench/wire-bytes.py --strata "$BIN" --site "$WORK/v1" --work "$WORK/wire" --variants gzip,br,zstd \
        --out "$OUT/wire-bytes-zstd.json"
    echo
    python3 bench/serve.py --strata "$BIN" --site "$WORK/v1" --work "$WORK/serve" \
        --duration "$DURATION" --rounds "$SERVE_ROUNDS" --out "$OUT/serve.json"
    echo
    python3 bench/allocations.py --strata "$BIN" --site "$WORK/v1" --work "$WORK/allocations" --out "$OUT/allocations.json"
    echo
    python3 bench/ab-serve.py --after "$BIN" --canary 10 --site "$WORK/v1" --work "$WORK/canary" \
        --duration "$DURATION" --rounds "$SERVE_ROUNDS" --out "$OUT/canary.json"
    echo
    python3 bench/site-rules.py --strata "$BIN" --site "$WORK/v1" --work "$WORK/rules" \
        --duration "$DURATION" --rounds "$ROUNDS" --out "$OUT/site-rules.json"
    echo
    python3 bench/flip-under-load.py --strata "$BIN" --v1 "$WORK/v1" --v2 "$WORK/v2" --work "$WORK/flip" \
        --flips "$FLIP_COUNT" --out "$OUT/flip.json"
    echo
    python3 bench/object-store.py --strata "$BIN" --v1 "$WORK/v1" --v2 "$WORK/v2" --work "$WORK/s3" \
        --venv .build/s3-venv --flips "$S3_FLIPS" --out "$OUT/object-store.json"
    echo
    echo "Whole run: $(( $(date +%s) - started )) s."
} | tee "$OUT/results.md"
echo "Written: $OUT/results.md, $OUT/site.json, $OUT/publish.json, $OUT/serve.json, $OUT/flip.json, $OUT/object-store.json" >&2
