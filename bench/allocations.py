#!/usr/bin/env python3
"""Heap allocations per request of strata serve: calls to libc's malloc, counted by a perf
uprobe while wrk requests one URL, divided by the requests wrk made.

    bench/allocations.py --strata BIN --site SITE --work DIR [--out FILE]

Needs root (uprobes) and perf (`make bench-deps` installs linux-perf). Where perf cannot place the
probe, it says why and exits 0: the rest of `make bench` does not depend on it.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from benchlib import log, run, save, table  # noqa: E402
from servers import StrataServer, stop_all  # noqa: E402

LIBC_CANDIDATES = ["/lib/x86_64-linux-gnu/libc.so.6", "/lib/aarch64-linux-gnu/libc.so.6", "/usr/lib/libc.so.6"]
EVENT = "probe_libc:malloc"


def place_probe() -> str | None:
    """Adds the malloc uprobe; returns why it could not, or None."""
    libc = next((path for path in LIBC_CANDIDATES if os.path.exists(path)), None)
    if libc is None:
        return "libc.so.6 not found"
    listed = subprocess.run(["perf", "probe", "-l"], capture_output=True, text=True)
    if EVENT in listed.stdout:
        return None
    added = subprocess.run(["perf", "probe", "-x", libc, "malloc"], capture_output=True, text=True)
    return None if added.returncode == 0 else added.stderr.strip().splitlines()[-1] if added.stderr.strip() else "perf probe failed"


def count(pid: int, url: str, headers: list[str], seconds: int = 2) -> tuple[int, int]:
    """(mallocs, requests) over one wrk run against url."""
    perf = subprocess.Popen(["perf", "stat", "-x", ",", "-e", EVENT, "-p", str(pid), "--", "sleep", str(seconds + 1)],
                            stderr=subprocess.PIPE, text=True)
    wrk = ["wrk", "-t1", "-c4", f"-d{seconds}s"] + [part for header in headers for part in ("-H", header)] + [url]
    output = subprocess.run(wrk, capture_output=True, text=True, check=True).stdout
    _, stderr = perf.communicate()
    mallocs = next(int(line.split(",")[0]) for line in stderr.splitlines() if EVENT in line)
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    return mallocs, requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strata", required=True)
    parser.add_argument("--site", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--out")
    args = parser.parse_args()
    work = os.path.realpath(args.work)
    os.makedirs(work, exist_ok=True)

    problem = place_probe()
    if problem:
        print(f"Allocations per request: not measured here ({problem}).")
        return
    store = f"{work}/store"
    run(f"{os.path.realpath(args.strata)} publish {os.path.realpath(args.site)} --root {store} --activate")
    server = StrataServer(18097, work, os.path.realpath(args.strata), store).start()
    try:
        script = "/bench/app-100k.js"
        etag = urllib.request.urlopen(server.url + script).headers["ETag"]
        cases = [("cached 1 KiB GET", "/bench/icon-1k.png", []),
                 ("304 (If-None-Match)", script, [f"If-None-Match: {etag}"]),
                 ("404", "/no/such/page.html", []),
                 ("gzip (Accept-Encoding: gzip)", script, ["Accept-Encoding: gzip"])]
        rows, results = [], {}
        for name, path, headers in cases:
            log(f"allocations: {name}")
            count(server.pid, server.url + path, headers, seconds=1)  # warm: every file read once
            mallocs, requests = count(server.pid, server.url + path, headers)
            per_request = mallocs / max(requests, 1)
            results[name] = {"mallocs": mallocs, "requests": requests, "per_request": per_request}
            rows.append([name, f"{requests:,}", f"{mallocs:,}", f"{per_request:.3f}"])
        print(table(["request", "requests", "mallocs", "per request"], rows,
                    "Allocations per request (libc malloc calls in the server, perf uprobe, wrk -t1 -c4 -d2s)"))
        if args.out:
            save(args.out, results)
    finally:
        server.stop()
        stop_all()


if __name__ == "__main__":
    main()
