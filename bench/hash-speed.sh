#!/usr/bin/env bash
# Hashing and publish speed against coreutils, measured side by side in one run.
#
#   bench/hash-speed.sh [path/to/strata]      (SIZE_MB=512 FILES=64 by default)
#
# Cases (hyperfine, page cache warm, same files):
#   sha256sum 1 proc        the floor a shell pipeline gets: read and hash every byte once
#   sha256sum 2 procs       the same on both cores (xargs -P2)
#   strata republish        `strata publish` of content already in the store: scan + hash, no writes
#   cp -a + sha256sum       a hand-written publish: copy the tree, hash every file for a manifest
#   strata publish          a first publish into an empty store: hash, copy, fsync, manifest, rename
# Prints times and ratios against "sha256sum 1 proc"; writes bench/out/hash-speed.json.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:-.build/release/strata}")
SIZE_MB=${SIZE_MB:-512}
FILES=${FILES:-64}
command -v hyperfine >/dev/null || { echo "hyperfine is needed: apt-get install -y hyperfine" >&2; exit 1; }

WORK=$(mktemp -d /tmp/strata-bench-XXXXXX)
cleanup() { chmod -R u+w "$WORK" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
mkdir -p "$WORK/site" bench/out
per_file_kb=$(( SIZE_MB * 1024 / FILES ))
for i in $(seq 1 "$FILES"); do
    mkdir -p "$WORK/site/d$(( i % 8 ))"
    head -c "${per_file_kb}K" /dev/urandom > "$WORK/site/d$(( i % 8 ))/chunk$i.bin"
done
cat "$WORK"/site/*/* > /dev/null  # warm the page cache
"$BIN" publish "$WORK/site" --root "$WORK/store" > /dev/null 2>&1

reset='chmod -R u+w '"$WORK"'/fresh '"$WORK"'/copy 2>/dev/null; rm -rf '"$WORK"'/fresh '"$WORK"'/copy'
# hyperfine pairs the Nth --prepare with the Nth command.
hyperfine --style basic --warmup 1 --runs 5 --export-json bench/out/hash-speed.json \
    --prepare true --prepare true --prepare true --prepare "$reset" --prepare "$reset" \
    -n "sha256sum 1 proc" "find $WORK/site -type f -print0 | xargs -0 sha256sum > /dev/null" \
    -n "sha256sum 2 procs" "find $WORK/site -type f -print0 | xargs -0 -P2 -n4 sha256sum > /dev/null" \
    -n "strata republish" "$BIN publish $WORK/site --root $WORK/store" \
    -n "cp -a + sha256sum" "cp -a $WORK/site $WORK/copy && (cd $WORK/copy && find . -type f -print0 | xargs -0 sha256sum > ../manifest.txt)" \
    -n "strata publish" "$BIN publish $WORK/site --root $WORK/fresh" \
    > "$WORK/hyperfine.log" 2>&1 || { cat "$WORK/hyperfine.log"; exit 1; }

python3 - "$SIZE_MB" bench/out/hash-speed.json <<'PY'
import json, sys
size_mb = float(sys.argv[1])
results = json.load(open(sys.argv[2]))["results"]
floor = results[0]["mean"]
print(f"{size_mb:.0f} MiB in {len(results)} cases; ratio = time / time of '{results[0]['command']}' (lower is faster)")
print(f"{'case':<22} {'mean s':>8} {'± s':>6} {'MiB/s':>8} {'ratio':>6}")
for r in results:
    print(f"{r['command']:<22} {r['mean']:8.3f} {r['stddev']:6.3f} {size_mb / r['mean']:8.0f} {r['mean'] / floor:6.2f}")
PY
