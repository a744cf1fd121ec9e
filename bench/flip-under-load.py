#!/usr/bin/env python3
"""Flip a channel between two releases many times while strata serve is under load.

    bench/flip-under-load.py --strata BIN --v1 SITE --v2 SITE --work DIR [--flips 120] [--out JSON]

While wrk hammers the channel URL `/` (64 connections), `strata activate` flips the channel
between v1 and v2 --flips times. A second client meanwhile downloads, over and over, every file
whose content differs between the two releases (index.html, a 1.5 MB image, the changed pages)
and checks each body is exactly v1's or v2's file: no torn or mixed responses. Passes only if
wrk saw no error of any kind and every body matched; exits 1 otherwise.
"""
import argparse
import hashlib
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time

from benchlib import log, run, save, table
from servers import StrataServer, stop_all

HERE = os.path.dirname(os.path.realpath(__file__))


def digests(site: str) -> dict[str, str]:
    found = {}
    for folder, _, names in os.walk(site):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                found["/" + os.path.relpath(path, site)] = hashlib.sha256(f.read()).hexdigest()
    return found


class BodyChecker(threading.Thread):
    """Downloads the files that differ between releases until told to stop; counts what it got."""

    def __init__(self, port: int, expected: dict[str, set[str]]):
        super().__init__(daemon=True)
        self.port, self.expected = port, expected
        self.stopping = threading.Event()
        self.downloads = self.matched_v1 = self.matched_v2 = 0
        self.mismatches: list[str] = []

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        while not self.stopping.is_set():
            for path, (v1, v2) in self.expected.items():
                try:
                    connection.request("GET", path)
                    response = connection.getresponse()
                    body = response.read()
                except (OSError, http.client.HTTPException) as error:
                    self.mismatches.append(f"{path}: {error!r}")
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                    continue
                digest = hashlib.sha256(body).hexdigest()
                self.downloads += 1
                if response.status == 200 and digest == v1:
                    self.matched_v1 += 1
                elif response.status == 200 and digest == v2:
                    self.matched_v2 += 1
                else:
                    self.mismatches.append(f"{path}: status {response.status}, {len(body)} bytes, sha256 {digest[:12]}")


def main() -> None:
    parser = argparse.ArgumentParser(description="flip the channel under load; every response must be whole")
    parser.add_argument("--strata", required=True)
    parser.add_argument("--v1", required=True)
    parser.add_argument("--v2", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--flips", type=int, default=120)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--out")
    args = parser.parse_args()
    strata, work = os.path.realpath(args.strata), os.path.realpath(args.work)
    store = f"{work}/flip-store"
    os.makedirs(work, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    run(f"{strata} publish {args.v1} --root {store} --label v1 --activate")
    run(f"{strata} publish {args.v2} --root {store} --label v2")
    one, two = digests(args.v1), digests(args.v2)
    differing = {path: (one[path], two[path]) for path in sorted(one) if path in two and one[path] != two[path]}
    differing["/"] = differing["/index.html"]
    log(f"flip: {len(differing)} paths differ between v1 and v2; flipping {args.flips} times under load")

    server = StrataServer(18094, work, strata, store)
    wrk = None
    try:
        server.start()
        checker = BodyChecker(server.port, differing)
        # wrk runs longer than the flips take (about 20–40 ms each); it is stopped with SIGINT after.
        wrk = subprocess.Popen(["wrk", "-t2", f"-c{args.connections}", "-d600s", "-s", f"{HERE}/wrk-report.lua",
                                server.url + "/"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        checker.start()
        time.sleep(1)
        started = time.perf_counter()
        for flip in range(args.flips):
            run(f"{strata} activate {'v2' if flip % 2 == 0 else 'v1'} --root {store}")
        flipping = time.perf_counter() - started
        time.sleep(1)
        wrk.send_signal(signal.SIGINT)
        output, errors = wrk.communicate(timeout=30)
        checker.stopping.set()
        checker.join(timeout=30)
    finally:
        if wrk and wrk.poll() is None:
            wrk.kill()
        stop_all()
    try:
        report = json.loads(output.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise SystemExit(f"flip bench: wrk printed no report: {output} {errors}")
    history = run(f"{strata} history --root {store}").strip().splitlines()
    wrk_errors = sum(report[k] for k in ("connect", "read", "write", "timeout", "status"))
    result = {"flips": args.flips, "flip_seconds": flipping, "flips_in_history": len(history),
              "wrk_requests": report["requests"], "wrk_errors": wrk_errors, "wrk_p99_ms": report["p99_us"] / 1000,
              "checked_downloads": checker.downloads, "matched_v1": checker.matched_v1,
              "matched_v2": checker.matched_v2, "mismatches": checker.mismatches[:20],
              "mismatch_count": len(checker.mismatches)}
    print(table(["flips", "flip s", "wrk requests", "wrk errors", "wrk p99 ms", "whole-body checks",
                 "= v1", "= v2", "mismatched"],
                [[args.flips, flipping, report["requests"], wrk_errors, report["p99_us"] / 1000,
                  checker.downloads, checker.matched_v1, checker.matched_v2, len(checker.mismatches)]],
                f"Flip under load ({len(differing)} differing paths checked whole; wrk on / with "
                f"{args.connections} connections)"))
    if args.out:
        save(args.out, result)
    if wrk_errors or checker.mismatches or not (checker.matched_v1 and checker.matched_v2):
        for line in checker.mismatches[:10]:
            log(f"  {line}")
        raise SystemExit("flip bench: FAILED (errors, torn bodies, or one release never seen)")


if __name__ == "__main__":
    main()
