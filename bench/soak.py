#!/usr/bin/env python3
"""Soak: strata serve under a steady load for a long time, with a flip every second.

    bench/soak.py --strata BIN --work DIR [--minutes 10] [--warmup 30] [--connections 20]
                  [--delay-ms 10] [--out JSON]

Publishes site-fixtures/aurora-v1 and -v2 into a fresh store and serves it. wrk runs at a steady
rate — each connection waits --delay-ms before each request, about 2,000 requests/s with the
defaults, well under what the server can do, so this is about memory and errors over time, not
speed — over every file both releases have and both releases' versioned URLs, while
`strata activate` flips the channel between them every second. The server's RSS is taken after
the warm-up and every 10 s after. Passes (exit 0) only if RSS at the end is within 10% of RSS
after the warm-up, wrk saw no error (socket errors, statuses of 400 and above), every flip
succeeded, and the server logged no error.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import log, run, save, table
from servers import StrataServer, stop_all

HERE = os.path.dirname(os.path.realpath(__file__))
FIXTURES = os.path.join(HERE, "..", "site-fixtures")


def files(site: str) -> set[str]:
    found = set()
    for folder, _, names in os.walk(site):
        for name in names:
            if not name.startswith("."):
                found.add("/" + os.path.relpath(os.path.join(folder, name), site))
    return found


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


class Flipper(threading.Thread):
    """Flips the channel between two releases once a second until stopped."""

    def __init__(self, binary: str, store: str, releases: list[str]):
        super().__init__(daemon=True)
        self.binary, self.store, self.releases = binary, store, releases
        self.stopping = threading.Event()
        self.flips = 0
        self.failures: list[str] = []

    def run(self) -> None:
        while not self.stopping.wait(1.0):
            target = self.releases[self.flips % 2]
            result = subprocess.run([self.binary, "activate", target, "--root", self.store, "--no-check"],
                                    capture_output=True, text=True)
            if result.returncode != 0:
                self.failures.append(result.stderr.strip())
            self.flips += 1


def wrk(url: str, seconds: int, connections: int, delay_ms: int, paths: str) -> dict:
    environment = dict(os.environ, WRK_PATHS=paths, WRK_DELAY_MS=str(delay_ms))
    output = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
                             "-s", os.path.join(HERE, "wrk-report.lua"), url],
                            capture_output=True, text=True, env=environment, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--strata", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--delay-ms", type=int, default=10)
    parser.add_argument("--port", type=int, default=18400)
    parser.add_argument("--out")
    arguments = parser.parse_args()

    work = arguments.work
    run(f"rm -rf {work} && mkdir -p {work}")
    store = os.path.join(work, "store")
    v1_site, v2_site = os.path.join(FIXTURES, "aurora-v1"), os.path.join(FIXTURES, "aurora-v2")
    v1 = run(f"{arguments.strata} publish {v1_site} --root {store} --activate").strip()
    v2 = run(f"{arguments.strata} publish {v2_site} --root {store}").strip()
    paths = sorted(files(v1_site) & files(v2_site))
    paths += [f"/_v/{v1}/robots.txt", f"/_v/{v2}/robots.txt", f"/_v/{v1}/", f"/_v/{v2}/"]
    paths_file = os.path.join(work, "paths.txt")
    with open(paths_file, "w") as f:
        f.write("\n".join(paths) + "\n")

    server = StrataServer(arguments.port, work, arguments.strata, store).start()
    flipper = Flipper(arguments.strata, store, [v2, v1])
    samples: list[tuple[float, float]] = []
    try:
        flipper.start()
        log(f"soak: warm-up {arguments.warmup} s, {len(paths)} paths, {arguments.connections} connections "
            f"each every {arguments.delay_ms} ms, a flip every second")
        warm = wrk(server.url, arguments.warmup, arguments.connections, arguments.delay_ms, paths_file)
        rss_warm = rss_mib(server.pid)
        started = time.time()
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.wait(10):
                samples.append((round(time.time() - started), rss_mib(server.pid)))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        seconds = int(arguments.minutes * 60)
        log(f"soak: {seconds} s of load; RSS after warm-up {rss_warm:.1f} MiB")
        main_run = wrk(server.url, seconds, arguments.connections, arguments.delay_ms, paths_file)
        sampling.set()
        rss_end = rss_mib(server.pid)
    finally:
        flipper.stopping.set()
        flipper.join()
        stop_all()

    with open(os.path.join(work, "strata.log")) as f:
        said = f.read().splitlines()
    errors = [line for line in said if "[error]" in line]
    flips_seen = sum(1 for line in said if " now serves release " in line)
    wrk_errors = sum(main_run[key] for key in ("connect", "read", "write", "status", "timeout"))
    warm_errors = sum(warm[key] for key in ("connect", "read", "write", "status", "timeout"))
    rss_max = max([rss_warm, rss_end] + [rss for _, rss in samples])
    growth = rss_end / rss_warm - 1
    ok = abs(growth) <= 0.10 and wrk_errors == 0 and warm_errors == 0 and not flipper.failures and not errors

    result = {
        "minutes": arguments.minutes, "requests": main_run["requests"],
        "requests_per_s": round(main_run["requests"] / (main_run["duration_us"] / 1e6)),
        "p99_ms": main_run["p99_us"] / 1000, "wrk_errors": wrk_errors + warm_errors,
        "flips": flipper.flips, "flip_failures": flipper.failures[:5], "flips_seen_by_server": flips_seen,
        "server_errors": errors[:5], "rss_after_warmup_mib": round(rss_warm, 1), "rss_end_mib": round(rss_end, 1),
        "rss_max_mib": round(rss_max, 1), "rss_growth_percent": round(growth * 100, 1),
        "rss_samples": [(t, round(r, 1)) for t, r in samples], "passed": ok,
    }
    print(table(["minutes", "requests", "req/s", "p99 ms", "errors", "flips (seen)", "RSS warm", "RSS end", "RSS max", "growth", "result"],
                [[arguments.minutes, main_run["requests"], result["requests_per_s"], result["p99_ms"], result["wrk_errors"],
                  f"{flipper.flips} ({flips_seen})", f"{rss_warm:.1f} MiB", f"{rss_end:.1f} MiB", f"{rss_max:.1f} MiB",
                  f"{growth * 100:+.1f}%", "pass" if ok else "FAIL"]], title="Soak"))
    if arguments.out:
        save(arguments.out, result)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
