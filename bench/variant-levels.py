#!/usr/bin/env python3
"""Bytes and time of each variant encoder at the levels worth considering, on the bench site.

    bench/variant-levels.py --strata BIN --site SITE --work DIR [--out JSON]

Each row is one `strata publish --variants <encoding> --<encoding>-level N` into an empty store:
the CPU time it took beyond a publish with `--variants none` (user + system, both cores; wall
time on this machine is mostly fsync noise), and the bytes a client accepting only that encoding
gets for the site's compressible files (files without a variant count at their own size). The
reference row is today's gzip: zlib level 9 (Python's zlib, what `gzip -9` writes), computed here.
Prints a table; the defaults in `VariantLevels.standard` were chosen from it.
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import time
import zlib

from benchlib import save, table

CONFIGS = [("gzip", 6), ("gzip", 9), ("gzip", 12), ("br", 4), ("br", 5), ("br", 6), ("br", 9), ("br", 11),
           ("zstd", 12), ("zstd", 15), ("zstd", 19), ("zstd", 22)]
FLAG = {"gzip": "--gzip-level", "br": "--brotli-level", "zstd": "--zstd-level"}


def publish(strata: str, site: str, store: str, args: list[str]) -> tuple[float, float]:
    shutil.rmtree(store, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    subprocess.run([strata, "publish", site, "--root", store, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall


def manifest(store: str) -> dict:
    releases = os.listdir(f"{store}/releases")
    with open(f"{store}/releases/{releases[0]}/.strata/manifest.json") as f:
        return json.load(f)


def compressible(files: list[dict]) -> list[dict]:
    """The files any encoding is tried on: those the gzip run gave a chance (type and size)."""
    return [f for f in files if f["size"] >= 256 and (f["type"].startswith("text/") or f["type"] in
            ("application/javascript", "application/json", "image/svg+xml", "application/manifest+json"))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--strata", required=True)
    parser.add_argument("--site", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--out")
    parser.add_argument("--only", help="encoder:level,... to measure instead of the whole list (e.g. zstd:9,br:6)")
    args = parser.parse_args()
    configs = [(c.split(":")[0], int(c.split(":")[1])) for c in args.only.split(",")] if args.only else CONFIGS
    os.makedirs(args.work, exist_ok=True)
    store = f"{args.work}/store"

    base_cpu = min(publish(args.strata, args.site, store, ["--variants", "none"])[0] for _ in range(2))
    files = compressible(manifest(store)["files"])
    plain = sum(f["size"] for f in files)
    # Today's gzip: zlib 9, kept when it saves 10%, as the server sent it before.
    reference = 0
    start = time.process_time()
    for f in files:
        with open(f"{args.site}/{f['path']}", "rb") as source:
            data = source.read()
        packed = len(zlib.compress(data, 9, wbits=31))
        reference += packed if packed * 10 <= len(data) * 9 else len(data)
    zlib_cpu = time.process_time() - start
    rows = [["gzip (zlib, today)", 9, f"{zlib_cpu:.1f}", f"{reference / 2**20:.2f}", "1.000", "-"]]
    results = []
    for encoding, level in configs:
        cpu, wall = publish(args.strata, args.site, store, ["--variants", encoding, FLAG[encoding], str(level)])
        entries = {f["path"]: f for f in manifest(store)["files"]}
        sent = sum(entries[f["path"]].get(encoding, {}).get("size", f["size"]) for f in files)
        extra = cpu - base_cpu
        rate = plain / 2**20 / extra if extra > 0 else float("inf")
        rows.append([encoding, level, f"{extra:.1f}", f"{sent / 2**20:.2f}", f"{sent / reference:.3f}", f"{rate:.0f}"])
        results.append({"encoding": encoding, "level": level, "cpu_seconds": extra, "wall_seconds": wall, "bytes": sent,
                        "ratio_to_zlib9": sent / reference})
        print(f"  {encoding} {level}: {extra:.1f} s CPU, {sent / reference:.3f} of zlib 9", flush=True)
    print(f"\n{len(files)} compressible files, {plain / 2**20:.1f} MiB; CPU beyond a publish without variants ({base_cpu:.1f} s)\n")
    print(table(["encoder", "level", "CPU s", "MiB sent", "÷ zlib 9", "MiB/s per CPU"], rows))
    if args.out:
        save(args.out, {"files": len(files), "plain_bytes": plain, "zlib9_bytes": reference, "base_cpu": base_cpu, "rows": results})


if __name__ == "__main__":
    main()
