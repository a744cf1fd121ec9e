#!/usr/bin/env python3
"""strata serve against nginx, Caddy, h2o and lighttpd on the same files, same machine, same run, with wrk.

    bench/serve.py --strata BIN --site SITE --work DIR [--duration 5] [--connections 64] [--rounds 3] [--out JSON]

strata serves SITE published into a store (channel URLs); nginx, Caddy and h2o serve the same
files from a folder with `gzip -9 -k` files beside the text files (what their gzip_static,
precompressed and send-gzip options read); lighttpd gzips from mod_deflate's cache. The floor
(bench/floor.c, compiled here) answers every request with one prepared 1 KiB response: it takes
part in the 1 KiB case only, to show how far every server is from free. Before measuring, every server's answers are checked (status, bytes,
Content-Encoding, ETag) so no server is measured serving errors. Then, per case, servers take
turns A B C A B C with `wrk -t2 -c64 --latency`:

  1 KiB       GET of a 1,024-byte image
  100 KiB     GET of a 102,400-byte image
  300 KiB     GET of a 307,200-byte font: past what strata keeps in memory (128 KiB), so a head and a sendfile
  304         GET of a JavaScript file with If-None-Match: <that server's ETag>
  gzip        GET of the same 100 KiB JavaScript file with Accept-Encoding: gzip
  browser js  the same file with a browser's Accept-Encoding: gzip, deflate, br, zstd (Caddy and
              strata send brotli, the others gzip)
  404         GET of a path that does not exist
  mixed       every file of the site in turn (wrk Lua script), Accept-Encoding: gzip, as a browser

Reports the median over rounds of requests/s, p50 and p99 latency, the server's CPU time per
request (user and system, all its processes), the server's RSS after the run, and strata's
requests/s as a ratio of each peer's, of the best of h2o and lighttpd, and of the floor. The CPU
per request moves far less from run to run than requests/s on a shared machine.
"""
import argparse
import gzip
import hashlib
import http.client
import json
import os
import signal
import subprocess
import sys

from benchlib import cpu_seconds, log, median, rss_mib, run, save, table
from servers import CaddyServer, FloorServer, H2OServer, LighttpdServer, NginxServer, StrataServer, build_floor, stop_all

HERE = os.path.dirname(os.path.realpath(__file__))
PROBES = {"1k": "/bench/icon-1k.png", "100k": "/bench/photo-100k.jpg", "300k": "/bench/font-300k.woff2", "js": "/bench/app-100k.js"}


def prepare_peer_root(site: str, peer_root: str) -> None:
    """A copy of SITE with `gzip -9 -k` files beside its text files, for nginx's gzip_static and Caddy's precompressed,
    and brotli files at strata's default level for Caddy's `precompressed zstd br gzip` (strata makes
    no zstd variants unless asked, so neither does this folder)."""
    text = (f"find {peer_root} -type f \\( -name '*.html' -o -name '*.js' -o -name '*.css' -o -name '*.map' -o -name '*.svg' \\)"
            f" -size +255c -print0 | xargs -0 -r -P2 -n32")
    run(f"cp -a {site} {peer_root} && {text} gzip -9 -k && {text} brotli -q 8 -w 24 -k")


def write_paths_file(site: str, path: str) -> str:
    """Every file of SITE as a request path, one per line, for the mixed workload; returns PATH."""
    with open(path, "w") as f:
        for folder, _, names in sorted(os.walk(site)):
            for name in sorted(names):
                f.write("/" + os.path.relpath(os.path.join(folder, name), site) + "\n")
    return path


def fetch(port: int, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


class Case:
    def __init__(self, name: str, path: str, headers: dict | None = None, paths_file: str | None = None,
                 expected_status: int = 200):
        self.name, self.path, self.headers = name, path, headers or {}
        self.paths_file, self.expected_status = paths_file, expected_status


def check_and_build_cases(servers, site: str, paths_file: str) -> dict:
    """Checks each server answers every case correctly; returns per-server cases (ETags differ)."""
    def sha(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    expected = {key: sha(open(os.path.join(site, path.lstrip("/")), "rb").read()) for key, path in PROBES.items()}
    cases = {}
    for server in servers:
        port = server.port
        for key in ("1k", "100k", "300k", "js"):
            status, _, body = fetch(port, PROBES[key])
            if status != 200 or sha(body) != expected[key]:
                raise SystemExit(f"serve bench: {server.name} answered {PROBES[key]} with {status}, not the file")
        status, headers, body = fetch(port, PROBES["js"], {"Accept-Encoding": "gzip"})
        if headers.get("content-encoding") != "gzip" or sha(gzip.decompress(body)) != expected["js"]:
            raise SystemExit(f"serve bench: {server.name} did not send its gzip variant of {PROBES['js']}")
        etag = fetch(port, PROBES["js"])[1].get("etag")
        status, _, _ = fetch(port, PROBES["js"], {"If-None-Match": etag})
        if not etag or status != 304:
            raise SystemExit(f"serve bench: {server.name} answered a revalidation with {status}, not 304")
        if fetch(port, "/no/such/page.html")[0] != 404:
            raise SystemExit(f"serve bench: {server.name} did not answer 404 for a missing path")
        cases[server.name] = [
            Case("1 KiB", PROBES["1k"]),
            Case("100 KiB", PROBES["100k"]),
            Case("300 KiB", PROBES["300k"]),
            Case("304", PROBES["js"], {"If-None-Match": etag}, expected_status=304),
            Case("gzip", PROBES["js"], {"Accept-Encoding": "gzip"}),
            # What a current browser asks: brotli from strata and Caddy, gzip from the others.
            Case("browser js", PROBES["js"], {"Accept-Encoding": "gzip, deflate, br, zstd"}),
            Case("404", "/no/such/page.html", expected_status=404),
            Case("mixed", "/", {"Accept-Encoding": "gzip"}, paths_file=paths_file),
        ]
    return cases


def wrk(server, case: Case, duration: int, connections: int) -> dict:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s", f"{HERE}/wrk-report.lua"]
    for name, value in case.headers.items():
        command += ["-H", f"{name}: {value}"]
    env = dict(os.environ, WRK_PATHS=case.paths_file or "")
    cpu_before = cpu_seconds(server.pid)
    output = subprocess.run(command + [server.url + case.path], capture_output=True, text=True, env=env)
    cpu_used = cpu_seconds(server.pid) - cpu_before
    if output.returncode != 0:
        raise SystemExit(f"serve bench: wrk failed against {server.name}: {output.stderr.strip()}")
    report = json.loads(output.stdout.strip().splitlines()[-1])
    report["cpu_us_per_request"] = cpu_used * 1e6 / max(1, report["requests"])
    report["rss_mib"] = rss_mib(server.pid)
    # wrk counts every status >= 400 as an error; a 404 case expects them.
    report["bad_status"] = report["status"] if case.expected_status < 400 else 0
    report["socket_errors"] = report["connect"] + report["read"] + report["write"] + report["timeout"]
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description="strata serve against nginx and Caddy with wrk")
    parser.add_argument("--strata", required=True)
    parser.add_argument("--site", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out")
    args = parser.parse_args()
    site, work = os.path.realpath(args.site), os.path.realpath(args.work)
    os.makedirs(work, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    log("serve: publishing the site and preparing the peers' folder (gzip -9 -k of text files)")
    store, peer_root = f"{work}/serve-store", f"{work}/peer-root"
    run(f"{os.path.realpath(args.strata)} publish {site} --root {store} --activate")
    prepare_peer_root(site, peer_root)
    paths_file = write_paths_file(site, f"{work}/paths.txt")

    servers = [StrataServer(18091, work, os.path.realpath(args.strata), store),
               NginxServer(18092, work, peer_root), CaddyServer(18093, work, peer_root),
               H2OServer(18094, work, peer_root), LighttpdServer(18095, work, peer_root)]
    floor = FloorServer(18096, work, build_floor(work))
    results = []
    try:
        for server in servers + [floor]:
            server.start()
        cases = check_and_build_cases(servers, site, paths_file)
        # The floor answers anything with its one 1 KiB response: it takes part in that case only.
        cases["floor"] = [Case("1 KiB", PROBES["1k"])]
        for index in range(len(cases["strata"])):
            for round_number in range(args.rounds):
                for server in servers + [floor]:
                    if index >= len(cases[server.name]):
                        continue
                    case = cases[server.name][index]
                    log(f"serve: {case.name:8} round {round_number + 1}: {server.name}")
                    report = wrk(server, case, args.duration, args.connections)
                    results.append({"case": case.name, "server": server.name, "round": round_number + 1, **report})
        peaks = {server.name: rss_mib(server.pid, "VmHWM") for server in servers}
        servers.append(floor)
    finally:
        stop_all()

    rows, summary = [], []
    for case in dict.fromkeys(r["case"] for r in results):
        rate = {}
        for server in servers:
            runs = [r for r in results if r["case"] == case and r["server"] == server.name]
            if not runs:
                continue
            rate[server.name] = median([r["requests"] / (r["duration_us"] / 1e6) for r in runs])
            entry = {"case": case, "server": server.name, "requests_per_s": rate[server.name],
                     "p50_ms": median([r["p50_us"] / 1000 for r in runs]),
                     "p99_ms": median([r["p99_us"] / 1000 for r in runs]),
                     "cpu_us": median([r["cpu_us_per_request"] for r in runs]),
                     "rss_mib": max(r["rss_mib"] for r in runs),
                     "errors": sum(r["socket_errors"] + r["bad_status"] for r in runs)}
            summary.append(entry)
        for entry in summary[-len(rate):]:
            ratio = "" if entry["server"] == "strata" else f"{rate['strata'] / rate[entry['server']]:.2f}"
            entry["strata_ratio"] = ratio
            rows.append([case, entry["server"], entry["requests_per_s"], entry["p50_ms"], entry["p99_ms"],
                         entry["rss_mib"], entry["errors"], ratio, round(entry["cpu_us"], 2)])
    print(table(["case", "server", "req/s", "p50 ms", "p99 ms", "RSS MiB", "errors", "strata ÷ peer", "CPU µs/req"], rows,
                f"Serve (wrk -t2 -c{args.connections} -d{args.duration}s, median of {args.rounds} rounds; "
                "strata ÷ peer is requests/s, higher is better for strata; CPU µs/req is the server's user and "
                "system time per request; the floor is bench/floor.c)"))
    best = {}
    for entry in summary:
        if entry["server"] in ("h2o", "lighttpd"):
            best[entry["case"]] = max(best.get(entry["case"], 0), entry["requests_per_s"])
    rates = {(e["case"], e["server"]): e["requests_per_s"] for e in summary}
    cpu = {(e["case"], e["server"]): e["cpu_us"] for e in summary}
    print("\nCPU per request, nginx's ÷ strata's (above 1.0, strata spends less): " + ", ".join(
        f"{case} {cpu[(case, 'nginx')] / cpu[(case, 'strata')]:.2f}" for case in dict.fromkeys(e["case"] for e in summary)
        if cpu.get((case, "nginx")) and cpu.get((case, "strata"))))
    print("\nstrata ÷ best of h2o and lighttpd: " + ", ".join(
        f"{case} {rates[(case, 'strata')] / value:.2f}" for case, value in best.items() if value))
    if ("1 KiB", "floor") in rates:
        print(f"strata ÷ floor (1 KiB): {rates[('1 KiB', 'strata')] / rates[('1 KiB', 'floor')]:.2f}")
    print("\nPeak RSS over the whole run (MiB): " + ", ".join(f"{k} {v:.1f}" for k, v in peaks.items()))
    if args.out:
        save(args.out, {"runs": results, "summary": summary, "peak_rss_mib": peaks,
                        "duration_s": args.duration, "connections": args.connections})
    if any(entry["errors"] for entry in summary):
        raise SystemExit("serve bench: some requests failed (see the errors column)")


if __name__ == "__main__":
    main()
