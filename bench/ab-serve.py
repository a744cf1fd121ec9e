#!/usr/bin/env python3
"""Two strata binaries serving the same store, and nginx, in the same run: did a change slow the server?

    bench/ab-serve.py --before BIN --after BIN --site SITE --work DIR [--duration 5] [--rounds 3] [--out JSON]

Publishes SITE with the --after binary, serves it with both binaries (and nginx from a copy with
`gzip -9 -k` files), then runs wrk's 1 KiB and mixed cases (as bench/serve.py defines them) against
each in turns A B C, --rounds times, and prints requests/s and after ÷ before. Used to show that
metrics (issue 15) cost the hot path nothing measurable.
"""
import argparse
import os
import signal
import sys

from benchlib import log, median, run, save, table
from serve import PROBES, Case, prepare_peer_root, write_paths_file, wrk
from servers import NginxServer, StrataServer, stop_all


def main() -> None:
    parser = argparse.ArgumentParser(description="strata before vs after a change, and nginx, same run")
    parser.add_argument("--before", required=True)
    parser.add_argument("--after", required=True)
    parser.add_argument("--site", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--out")
    args = parser.parse_args()
    site, work = os.path.realpath(args.site), os.path.realpath(args.work)
    os.makedirs(work, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    store, peer_root = f"{work}/store", f"{work}/peer-root"
    log("ab-serve: publishing the site and preparing nginx's folder")
    run(f"{os.path.realpath(args.after)} publish {site} --root {store} --activate")
    prepare_peer_root(site, peer_root)
    paths_file = write_paths_file(site, f"{work}/paths.txt")

    before = StrataServer(18291, work, os.path.realpath(args.before), store)
    before.name = "strata before"
    after = StrataServer(18292, work, os.path.realpath(args.after), store)
    after.name = "strata after"
    nginx = NginxServer(18293, work, peer_root)
    servers = [before, after, nginx]
    cases = [Case("1 KiB", PROBES["1k"]), Case("mixed", "/", {"Accept-Encoding": "gzip"}, paths_file=paths_file)]
    results = []
    try:
        for server in servers:
            server.start()
        for case in cases:
            for round_number in range(args.rounds):
                order = servers if round_number % 2 == 0 else [after, before, nginx]
                for server in order:
                    log(f"ab-serve: {case.name} round {round_number + 1}: {server.name}")
                    results.append({"case": case.name, "server": server.name, **wrk(server, case, args.duration, args.connections)})
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
                         sum(r["socket_errors"] + r["bad_status"] for r in runs)])
    print(table(["case", "server", "req/s", "p50 ms", "p99 ms", "RSS MiB", "errors"], rows,
                f"Before and after (wrk -t2 -c{args.connections} -d{args.duration}s, median of {args.rounds} rounds, "
                "before and after alternate going first)"))
    for case in cases:
        ratio = rates[(case.name, "strata after")] / rates[(case.name, "strata before")]
        print(f"{case.name}: after ÷ before {ratio:.3f}; after ÷ nginx {rates[(case.name, 'strata after')] / rates[(case.name, 'nginx')]:.2f}")
    if args.out:
        save(args.out, {"runs": results})
    if any(row[6] for row in rows):
        raise SystemExit("ab-serve: some requests failed")


if __name__ == "__main__":
    main()
