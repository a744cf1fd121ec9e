#!/usr/bin/env bash
# Publishing from a large archive against the pipeline a team writes by hand, side by side in one
# run, with peak memory; then gzip variant ratios for the fixture sites.
#
#   bench/archive-publish.sh [path/to/strata]      (SIZE_MB=1024 by default; ROUNDS=2)
#
# The archive: a generated site, 70% incompressible binaries (images, fonts), 30% text-like
# assets that compress (~25%), packed with GNU tar and gzip -1. Cases, alternated each round:
#   gzip -dc            the floor: decompress every byte once, nothing written
#   by hand             tar -xzf into a folder, sha256sum of every file, gzip -9 -k of the text
#                       files on both cores (what strata publish does, done with coreutils)
#   strata publish      strata publish of the archive into an empty store (stream, hash, write,
#                       gzip, brotli and zstd variants on both cores, manifest, syncfs, rename)
# Prints wall time, ratio to "by hand" and peak RSS; writes bench/out/archive-publish.json.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:-.build/release/strata}")
SIZE_MB=${SIZE_MB:-1024}
ROUNDS=${ROUNDS:-2}
[ -x /usr/bin/time ] || { echo "GNU time is needed: apt-get install -y time" >&2; exit 1; }

WORK=$(mktemp -d /tmp/strata-bench-XXXXXX)
cleanup() { chmod -R u+w "$WORK" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
mkdir -p bench/out "$WORK/site"

# Generate the site: 4 MiB files, so 1 GiB is 256 files; every tenth file is text-like.
files=$(( SIZE_MB / 4 ))
for i in $(seq 1 "$files"); do
    dir="$WORK/site/assets/d$(( i % 16 ))"
    mkdir -p "$dir"
    if [ $(( i % 10 )) -lt 3 ]; then
        head -c 3M /dev/urandom | base64 -w 120 > "$dir/chunk$i.js"
    else
        head -c 4M /dev/urandom > "$dir/image$i.png"
    fi
done
echo '<!doctype html><h1>bench</h1>' > "$WORK/site/index.html"
tar -C "$WORK/site" -I 'gzip -1' -cf "$WORK/site.tar.gz" .
archive_mb=$(( $(stat -c %s "$WORK/site.tar.gz") / 1048576 ))
site_mb=$(du -sm --apparent-size "$WORK/site" | cut -f1)
rm -rf "$WORK/site"
cat "$WORK/site.tar.gz" > /dev/null

measure() {  # name, command → appends "name seconds max_rss_kib" to results
    local name=$1; shift
    sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
    cat "$WORK/site.tar.gz" > /dev/null
    /usr/bin/time -f "%e %M" -o "$WORK/time.txt" bash -c "$*" > /dev/null 2>"$WORK/err.txt" \
        || { cat "$WORK/err.txt" >&2; exit 1; }
    echo "$name $(cat "$WORK/time.txt")" >> "$WORK/results.txt"
}
reset() { chmod -R u+w "$WORK/out" "$WORK/store" 2>/dev/null || true; rm -rf "$WORK/out" "$WORK/store"; }

for round in $(seq 1 "$ROUNDS"); do
    measure "gzip-dc" "gzip -dc '$WORK/site.tar.gz' > /dev/null"
    reset
    measure "by-hand" "mkdir '$WORK/out' && tar -xzf '$WORK/site.tar.gz' -C '$WORK/out' \
        && (cd '$WORK/out' && find . -type f -print0 | xargs -0 sha256sum > ../manifest.txt \
        && find . -name '*.js' -print0 | xargs -0 -P2 -n4 gzip -9 -k) && sync"
    reset
    measure "strata-publish" "'$BIN' publish '$WORK/site.tar.gz' --root '$WORK/store'"
    reset
done

python3 - "$WORK/results.txt" "$archive_mb" "$site_mb" bench/out/archive-publish.json <<'PY'
import json, sys
rows = [line.split() for line in open(sys.argv[1])]
archive_mb, site_mb = int(sys.argv[2]), int(sys.argv[3])
cases = {}
for name, seconds, rss in rows:
    cases.setdefault(name, []).append((float(seconds), int(rss)))
best = {name: (min(s for s, _ in runs), max(r for _, r in runs)) for name, runs in cases.items()}
peer = best["by-hand"][0]
print(f"archive {archive_mb} MiB (tar.gz), site {site_mb} MiB; best of {len(rows) // len(cases)} runs; ratio = time / 'by-hand' time")
print(f"{'case':<16} {'seconds':>8} {'ratio':>6} {'peak RSS MiB':>13}")
for name in ["gzip-dc", "by-hand", "strata-publish"]:
    seconds, rss = best[name]
    print(f"{name:<16} {seconds:8.2f} {seconds / peer:6.2f} {rss / 1024:13.1f}")
json.dump({"archiveMiB": archive_mb, "siteMiB": site_mb,
           "cases": {n: {"seconds": s, "peakRssKiB": r} for n, (s, r) in best.items()}},
          open(sys.argv[4], "w"), indent=2)
PY

# Variants on the fixture sites: how much gzip saves, and what it costs against gzip -9 itself.
for site in aurora-v1 aurora-v2; do
    "$BIN" publish "site-fixtures/$site" --root "$WORK/fixtures" > /dev/null 2>&1
done
python3 - "$WORK/fixtures" <<'PY'
import json, os, sys
root = sys.argv[1]
print("\nfixture variants (gzip level 9, kept when they save >= 10%)")
print(f"{'release':<18} {'files':>5} {'with gz':>7} {'bytes':>8} {'gz bytes':>8} {'saved':>6}")
for rid in sorted(os.listdir(root + "/releases")):
    m = json.load(open(f"{root}/releases/{rid}/.strata/manifest.json"))
    gz = [f for f in m["files"] if "gzip" in f]
    plain = sum(f["size"] for f in gz); packed = sum(f["gzip"]["size"] for f in gz)
    print(f"{rid:<18} {m['fileCount']:>5} {len(gz):>7} {plain:>8} {packed:>8} {100 * (1 - packed / plain):5.1f}%")
PY
