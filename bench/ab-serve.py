#!/usr/bin/env python3
"""Two strata binaries serving the same store, and nginx, in the same run: did a change slow the server?

    bench/ab-serve.py --before BIN --after BIN --site SITE --work DIR [--duration 5] [--rounds 3]
                      [--canary PERCENT] [--cases 1k,100k,300k,304,gzip,404,mixed] [--out JSON]

Publishes SITE with the --after binary, serves it with both binaries (and nginx from a copy with
`gzip -9 -k` files), then runs wrk's cases (as bench/serve.py defines them; 1 KiB, 304 and mixed unless --cases says) against
each in turns A B C, --rounds times, and prints requests/s and after ÷ before. Used to show that
metrics (issue 15) cost the hot path nothing measurable.

With --canary, a third server (the --after binary) serves a store whose channel has a canary at
that percent (SITE with one page changed), and every server is asked by a returning visitor (its
`strata-bucket` cookie sent): what a split channel costs, as canary active ÷ none.
"""
import shutil
import argparse
import os
import signal
import sys

from benchlib import log, median, run, save, table
from serve import PROBES, Case, fetch, prepare_peer_root, write_paths_file, wrk
from servers import NginxServer, StrataServer, stop_all


CASE_NAMES = ("1k", "100k", "300k", "304", "gzip", "404", "mixed")


def main() -> None:
    parser = argparse.ArgumentParser(description="strata before vs after a change, and nginx, same run")
    parser.add_argument("--before", help="the binary before the change (left out: only --after, and its canary)")
    parser.add_argument("--after", required=True)
    parser.add_argument("--site", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--canary", type=int, help="also serve a store with a canary at this percent")
    parser.add_argument("--cases", default="1k,304,mixed",
                        help=f"which cases, comma-separated, of: {','.join(CASE_NAMES)} (default: 1k,304,mixed)")
    parser.add_argument("--out")
    args = parser.parse_args()
    unknown = [name for name in args.cases.split(",") if name not in CASE_NAMES]
    if unknown:
        parser.error(f"no such case: {', '.join(unknown)} (known: {','.join(CASE_NAMES)})")
    site, work = os.path.realpath(args.site), os.path.realpath(args.work)
    os.makedirs(work, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    store, peer_root = f"{work}/store", f"{work}/peer-root"
    log("ab-serve: publishing the site and preparing nginx's folder")
    run(f"{os.path.realpath(args.after)} publish {site} --root {store} --activate")
    prepare_peer_root(site, peer_root)
    paths_file = write_paths_file(site, f"{work}/paths.txt")

    before = None
    if args.before:
        before = StrataServer(18291, work, os.path.realpath(args.before), store)
        before.name = "strata before"
    after = StrataServer(18292, work, os.path.realpath(args.after), store)
    after.name = "strata after" if before else "strata"
    nginx = NginxServer(18293, work, peer_root)
    servers = [server for server in (before, after, nginx) if server]
    canary = None
    if args.canary:
        canary_store, changed = f"{work}/store-canary", f"{work}/site-changed"
        shutil.copytree(site, changed, dirs_exist_ok=True)
        with open(f"{changed}/canary.html", "w") as f:
            f.write("<p>the canary</p>\n")
        binary = os.path.realpath(args.after)
        run(f"{binary} publish {site} --root {canary_store} --activate")
        changed_id = run(f"{binary} publish {changed} --root {canary_store}").strip()
        run(f"{binary} activate {changed_id} --canary {args.canary} --root {canary_store}")
        canary = StrataServer(18294, work, binary, canary_store)
        canary.name = f"{after.name}, canary {args.canary}%"
        servers.insert(servers.index(after) + 1, canary)
    every_case = {"1k": Case("1 KiB", PROBES["1k"]), "100k": Case("100 KiB", PROBES["100k"]),
                  "300k": Case("300 KiB", PROBES["300k"]), "304": Case("304", PROBES["js"], expected_status=304),
                  "gzip": Case("gzip", PROBES["js"], {"Accept-Encoding": "gzip"}),
                  "404": Case("404", "/no/such/page.html", expected_status=404),
                  "mixed": Case("mixed", "/", {"Accept-Encoding": "gzip"}, paths_file=paths_file)}
    cases = [every_case[name] for name in args.cases.split(",")]
    visitor = {"Cookie": "strata-bucket=0123456789abcdef"}

    def asked_by(server, case: Case) -> Case:
        """The case as a returning visitor asks it: with its cookie, whether a canary is on or not
        (a browser keeps sending it after the canary ends), so only the server's work differs.
        A 304 is asked with the server's own ETag (nginx's differ from strata's)."""
        if case.expected_status == 304:
            etag = fetch(server.port, case.path)[1]["etag"]
            case = Case(case.name, case.path, {**case.headers, "If-None-Match": etag}, expected_status=304)
        if not canary:
            return case
        return Case(case.name, case.path, {**case.headers, **visitor}, paths_file=case.paths_file,
                    expected_status=case.expected_status)

    results = []
    try:
        for server in servers:
            server.start()
        for case in cases:
            for round_number in range(args.rounds):
                order = servers if round_number % 2 == 0 else list(reversed(servers[:-1])) + [nginx]
                for server in order:
                    log(f"ab-serve: {case.name} round {round_number + 1}: {server.name}")
                    results.append({"case": case.name, "server": server.name,
                                    **wrk(server, asked_by(server, case), args.duration, args.connections)})
    finally:
        stop_all()

    rows, rates = [], {}
    for case in cases:
        for server in servers:
            runs = [r for r in results if r["case"] == case.name and r["server"] == server.name]
            rate = median([r["requests"] / (r["duration_us"] / 1e6) for r in runs])
            rates[(case.name, server.name)] = rate
            rows.append([case.name, server.name, rate, median([r["p50_us"] / 1000 for r in runs]),
                         median([r["p99_us"] / 1000 for r in runs]), max(r["rss_mib"] for r in runs),
                         sum(r["socket_errors"] + r["bad_status"] for r in runs),
                         round(median([r["cpu_us_per_request"] for r in runs]), 2)])
    print(table(["case", "server", "req/s", "p50 ms", "p99 ms", "RSS MiB", "errors", "CPU µs/req"], rows,
                f"{'Before and after' if before else 'A split channel'} (wrk -t2 -c{args.connections} -d{args.duration}s, "
                f"median of {args.rounds} rounds, the strata servers alternate going first)"))
    for case in cases:
        rate = rates[(case.name, after.name)]
        if before:
            print(f"{case.name}: after ÷ before {rate / rates[(case.name, before.name)]:.3f}")
        print(f"{case.name}: {after.name} ÷ nginx {rate / rates[(case.name, 'nginx')]:.2f}")
        if canary:
            print(f"{case.name}: canary active ÷ none {rates[(case.name, canary.name)] / rate:.3f}")
    if args.out:
        save(args.out, {"runs": results})
    if any(row[6] for row in rows):
        raise SystemExit("ab-serve: some requests failed")


if __name__ == "__main__":
    main()
