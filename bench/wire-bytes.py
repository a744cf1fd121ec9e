#!/usr/bin/env python3
"""Bytes on the wire for the mixed workload (every file of the site once), by file type.

    bench/wire-bytes.py --strata BIN --site SITE --work DIR [--out JSON]

The site is published with the default variants (or those --variants names) and served; every file is fetched once with a
browser's `Accept-Encoding: gzip, deflate, br, zstd`, once with Safari's `gzip, deflate, br`, and
once with `gzip` alone. The reference is the gzip-only bytes before brotli and zstd: zlib level 9,
kept when it saved 10% (computed here; what strata sent until now). Every body is decoded and
checked against the file.
"""
import argparse
import http.client
import os
import subprocess
import zlib

from benchlib import log, run, save, table
from servers import StrataServer, stop_all

BROWSERS = {"chrome/firefox": "gzip, deflate, br, zstd", "safari": "gzip, deflate, br", "gzip only": "gzip"}
DECODE = {"gzip": lambda b: zlib.decompress(b, wbits=31), "br": lambda b: pipe(["brotli", "-dc"], b),
          "zstd": lambda b: pipe(["zstd", "-dcq"], b), None: lambda b: b}


def pipe(command: list[str], data: bytes) -> bytes:
    return subprocess.run(command, input=data, capture_output=True, check=True).stdout


def kind(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    return "map" if name.endswith(".js.map") else name.rsplit(".", 1)[-1]


def zlib9(data: bytes) -> int:
    packed = len(zlib.compress(data, 9, wbits=31))
    return packed if packed * 10 <= len(data) * 9 and len(data) >= 256 else len(data)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--strata", required=True)
    parser.add_argument("--site", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--port", type=int, default=18930)
    parser.add_argument("--variants", help="publish with these variants (`--variants`), not the default")
    parser.add_argument("--out")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    store = f"{args.work}/store"
    variants = f" --variants {args.variants}" if args.variants else ""
    run(f"rm -rf {store} && {args.strata} publish {args.site} --root {store} --activate{variants} > /dev/null 2>&1")
    paths = sorted("/" + os.path.relpath(os.path.join(folder, name), args.site)
                   for folder, _, names in os.walk(args.site) for name in names)
    totals: dict[str, dict[str, int]] = {}
    server = StrataServer(args.port, args.work, args.strata, store).start()
    try:
        connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
        for path in paths:
            with open(args.site + path, "rb") as f:
                plain = f.read()
            row = totals.setdefault(kind(path), {"files": 0, "identity": 0, "zlib 9": 0, **{b: 0 for b in BROWSERS}})
            row["files"] += 1
            row["identity"] += len(plain)
            row["zlib 9"] += zlib9(plain)
            for browser, accept in BROWSERS.items():
                connection.request("GET", path, headers={"Accept-Encoding": accept})
                response = connection.getresponse()
                body = response.read()
                coding = response.getheader("Content-Encoding")
                if response.status != 200 or DECODE[coding](body) != plain:
                    raise SystemExit(f"wire bytes: {path} with {accept!r} came back {response.status} {coding}, not the file")
                row[browser] += len(body)
    finally:
        server.stop()
        stop_all()
    everything = {key: sum(row[key] for row in totals.values()) for key in next(iter(totals.values()))}
    text = {key: sum(row[key] for kind_, row in totals.items() if kind_ in ("html", "js", "map", "css", "svg"))
            for key in everything}
    rows = []
    for name, row in sorted(totals.items()) + [("text (html js map css svg)", text), ("all", everything)]:
        rows.append([name, row["files"], f"{row['identity'] / 2**20:.2f}", f"{row['zlib 9'] / 2**20:.2f}"]
                    + [f"{row[b] / 2**20:.2f} ({row[b] / row['zlib 9']:.3f})" for b in BROWSERS])
    print(table(["type", "files", "MiB identity", "MiB gzip before (zlib 9)"] + [f"MiB {b} (÷ before)" for b in BROWSERS], rows,
                "Bytes on the wire, every file once, variants: " + (args.variants or "the default")
                + " (÷ before: ÷ the gzip-only bytes strata sent before brotli and zstd)"))
    if args.out:
        save(args.out, {"types": totals, "text": text, "all": everything})


if __name__ == "__main__":
    main()
