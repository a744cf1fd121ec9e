#!/usr/bin/env bash
# strata serve against nginx on the same files, same machine, same run, with wrk.
#
#   bench/serve-vs-nginx.sh [path/to/strata]      (DURATION=5 CONNECTIONS=64 ROUNDS=2)
#
# nginx is set up for fairness: 2 workers, sendfile, open_file_cache, access log off,
# gzip_static on (fed the same .gz files), etag on. Servers alternate A B A B per case; the best
# round of each counts. Cases: a 1 KiB file, a 100 KiB file, a 304 revalidation, a gzip variant,
# a 404. Prints requests/s, p99 latency, server RSS after the run, and strata/nginx ratios;
# writes bench/out/serve-vs-nginx.json. Stops every server it started, even on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:-.build/release/strata}")
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-64}
ROUNDS=${ROUNDS:-2}
for tool in wrk nginx; do
    command -v $tool >/dev/null || PATH=$PATH:/usr/sbin command -v $tool >/dev/null || {
        SUDO=$( [ "$(id -u)" -eq 0 ] || echo sudo )
        $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq wrk nginx-light >/dev/null
    }
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

WORK=$(mktemp -d /tmp/strata-serve-bench-XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
    sleep 0.3; chmod -R u+w "$WORK" 2>/dev/null; rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/site/assets" bench/out

head -c 1024 /dev/urandom | base64 -w 0 | head -c 1024 > "$WORK/site/small.txt"
head -c 76800 /dev/urandom | base64 -w 100 | head -c 102400 > "$WORK/site/assets/app.3f9a12c4.js"
echo '<!doctype html><h1>bench</h1>' > "$WORK/site/index.html"
echo '<!doctype html><h1>not found</h1>' > "$WORK/site/404.html"
"$BIN" publish "$WORK/site" --root "$WORK/store" --activate > /dev/null 2>&1
ID=$(cat "$WORK/store/channels/current")
RELEASE="$WORK/store/releases/$ID"

# nginx serves the same release folder; gzip_static wants name.gz beside the file.
mkdir -p "$WORK/nginx-root"
cp -a "$RELEASE/." "$WORK/nginx-root/"
chmod -R u+w "$WORK/nginx-root"
JS_SHA=$(sha256sum "$WORK/site/assets/app.3f9a12c4.js" | cut -d' ' -f1)
cp "$RELEASE/.strata/variants/$JS_SHA.gz" "$WORK/nginx-root/assets/app.3f9a12c4.js.gz"
cat > "$WORK/nginx.conf" <<CONF
worker_processes 2;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on; tcp_nopush on; tcp_nodelay on;
    open_file_cache max=10000 inactive=60s; open_file_cache_valid 60s;
    keepalive_requests 1000000;
    include /etc/nginx/mime.types;
    gzip_static on;
    etag on;
    server {
        listen 127.0.0.1:18081;
        root $WORK/nginx-root;
        error_page 404 /404.html;
    }
}
CONF
"$NGINX" -c "$WORK/nginx.conf" -p "$WORK"
"$BIN" serve --root "$WORK/store" --port 18080 2>/dev/null &
PIDS+=($!)
sleep 1
STRATA_PID=${PIDS[0]}
NGINX_MASTER=$(cat "$WORK/nginx.pid")

etag_for() { curl -sI "$1" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}'; }
S_ETAG=$(etag_for http://127.0.0.1:18080/small.txt)
N_ETAG=$(etag_for http://127.0.0.1:18081/small.txt)

rss_kib() {  # total RSS of a process and its children
    local pids="$1 $(pgrep -P "$1" | tr '\n' ' ')"
    local total=0
    for pid in $pids; do total=$(( total + $(awk '/VmRSS/{print $2}' /proc/$pid/status 2>/dev/null || echo 0) )); done
    echo $total
}

run_case() {  # server name, port, case, path, extra header args...
    local server=$1 port=$2 name=$3 path=$4; shift 4
    local out
    out=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" "http://127.0.0.1:$port$path" 2>&1)
    local rps p99 rss
    rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
    p99=$(echo "$out" | awk '$1=="99%"{print $2}')
    [ "$server" = strata ] && rss=$(rss_kib "$STRATA_PID") || rss=$(rss_kib "$NGINX_MASTER")
    echo "$name $server $rps $p99 $rss" >> "$WORK/results.txt"
}

for round in $(seq 1 "$ROUNDS"); do
    for server in strata nginx; do
        port=$([ $server = strata ] && echo 18080 || echo 18081)
        etag=$([ $server = strata ] && echo "$S_ETAG" || echo "$N_ETAG")
        run_case $server $port "1KiB" /small.txt
        run_case $server $port "100KiB" /assets/app.3f9a12c4.js
        run_case $server $port "304" /small.txt -H "If-None-Match: $etag"
        run_case $server $port "gzip" /assets/app.3f9a12c4.js -H "Accept-Encoding: gzip"
        run_case $server $port "404" /missing.html
    done
done

python3 - "$WORK/results.txt" bench/out/serve-vs-nginx.json "$CONNECTIONS" "$DURATION" <<'PY'
import json, sys
def ms(text):
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit): return float(text[: -len(unit)]) * factor
    return float(text)
best = {}
for line in open(sys.argv[1]):
    case, server, rps, p99, rss = line.split()
    key = (case, server)
    row = (float(rps), ms(p99), int(rss))
    if key not in best or row[0] > best[key][0]: best[key] = row
print(f"wrk -t2 -c{sys.argv[3]} -d{sys.argv[4]}s, best of rounds; ratio = strata / nginx (req/s: higher is better, p99: lower)")
print(f"{'case':<8} {'strata req/s':>13} {'nginx req/s':>12} {'ratio':>6} {'strata p99':>11} {'nginx p99':>10} {'strata RSS':>11} {'nginx RSS':>10}")
out = {}
for case in ["1KiB", "100KiB", "304", "gzip", "404"]:
    s, n = best[(case, "strata")], best[(case, "nginx")]
    print(f"{case:<8} {s[0]:13.0f} {n[0]:12.0f} {s[0] / n[0]:6.2f} {s[1]:9.2f}ms {n[1]:8.2f}ms {s[2] / 1024:9.1f}Mi {n[2] / 1024:8.1f}Mi")
    out[case] = {"strata": {"rps": s[0], "p99ms": s[1], "rssKiB": s[2]}, "nginx": {"rps": n[0], "p99ms": n[1], "rssKiB": n[2]}}
json.dump(out, open(sys.argv[2], "w"), indent=2)
PY
