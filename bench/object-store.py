#!/usr/bin/env python3
"""Strata on S3-compatible object storage against `aws s3 sync`, into the same moto_server.

    bench/object-store.py --strata BIN --v1 SITE --v2 SITE --work DIR --venv .build/s3-venv [--flips 200] [--out JSON]

1. Full publish of SITE: `strata publish --root s3://strata-bench/site` against `aws s3 sync`
   into its own bucket (at the bucket's top: moto 5.2 refuses listings signed for a prefix with a
   `/`, which `aws s3 sync` needs for s3://bucket/prefix).
2. The next version with 1% of files changed, in a fresh copy of the build folder (new mtimes,
   as a CI checkout has): both tools again.
3. Flip to all nodes: 3 serve nodes (`--poll 1s`, separate caches); the time from `activate`
   returning until all three answer `/` with the new Strata-Release, over 20 flips.
4. --flips flips under wrk load spread over the 3 nodes, while a checker fetches index.html from
   each node and compares every body with v1's and v2's: 0 errors and 0 torn bodies to pass.
"""
import argparse
import hashlib
import http.client
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time

from benchlib import log, save, table

HERE = os.path.dirname(os.path.realpath(__file__))


def timed(command, env):
    started = time.monotonic()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - started


def get(port, path="/"):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    release = response.getheader("Strata-Release")
    connection.close()
    return response.status, release, body


def start_moto(venv, work):
    port = 5600 + random.randint(0, 300)
    log_file = open(os.path.join(work, "moto.log"), "w")
    process = subprocess.Popen([os.path.join(venv, "bin", "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                               env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3"}, stdout=log_file, stderr=log_file)
    for _ in range(100):
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()
            break
        except OSError:
            time.sleep(0.1)
    endpoint = f"http://127.0.0.1:{port}"
    user = subprocess.run([os.path.join(venv, "bin", "python3"), os.path.join(HERE, "..", "Tests", "StrataTestSupport", "moto-user.py"), endpoint],
                          check=True, capture_output=True, text=True).stdout.split()
    return process, endpoint, user


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--strata", required=True)
    parser.add_argument("--v1", required=True)
    parser.add_argument("--v2", required=True, help="the next version (1% changed), copied fresh before publishing")
    parser.add_argument("--work", required=True)
    parser.add_argument("--venv", required=True)
    parser.add_argument("--flips", type=int, default=200)
    parser.add_argument("--out")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    venv = os.path.realpath(args.venv)
    moto, endpoint, (key, secret) = start_moto(venv, args.work)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": "us-east-1",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL_S3": endpoint, "AWS_ENDPOINT_URL": endpoint}
    aws = os.path.join(venv, "bin", "aws")
    nodes = []
    try:
        for bucket in ("strata-bench", "aws-bench"):
            subprocess.run([aws, "s3", "mb", f"s3://{bucket}"], env=env, check=True, stdout=subprocess.DEVNULL)
        root = "s3://strata-bench/site"

        # 1 and 2: full publish, then 1% changed in a fresh copy (new mtimes).
        log("object store: full publish (strata, then aws s3 sync)")
        strata_full = timed([args.strata, "publish", args.v1, "--root", root, "--label", "v1"], env)
        aws_full = timed([aws, "s3", "sync", args.v1, "s3://aws-bench/", "--only-show-errors"], env)
        fresh = os.path.join(args.work, "fresh")
        shutil.copytree(args.v2, fresh, copy_function=shutil.copyfile)  # new mtimes on every file, as a CI checkout has
        log("object store: 1% changed, fresh copy (strata, then aws s3 sync)")
        strata_patch = timed([args.strata, "publish", fresh, "--root", root, "--label", "v2"], env)
        aws_patch = timed([aws, "s3", "sync", fresh, "s3://aws-bench/", "--only-show-errors"], env)
        print(table(["case", "strata s", "aws s3 sync s", "ratio"], [
            ["full publish", round(strata_full, 2), round(aws_full, 2), round(strata_full / aws_full, 3)],
            ["1% changed, fresh copy", round(strata_patch, 2), round(aws_patch, 2), round(strata_patch / aws_patch, 3)],
        ], "Object storage: publish into moto against aws s3 sync (targets ≤ 1.0 and ≤ 0.1)"))

        # Variants in the bucket: what they cost a full publish, and what they save a node's first fill.
        # The bucket layout before them is a publish without variants whose manifest names no encodings.
        log("object store: full publish without variants, then first fills with and without them in the bucket")
        old_root = "s3://strata-bench/without-variants"
        strata_bare = timed([args.strata, "publish", args.v1, "--root", old_root, "--variants", "none"], env)
        listed = json.loads(subprocess.run([args.strata, "releases", "--root", old_root, "--json"], env=env, check=True,
                                           capture_output=True, text=True).stdout)
        old_id = (listed[0] if isinstance(listed, list) else listed["releases"][0])["id"]
        manifest_key = f"{old_id}.json"
        manifest_path = os.path.join(args.work, "old-manifest.json")
        subprocess.run([aws, "s3", "cp", f"s3://strata-bench/without-variants/releases/{manifest_key}", manifest_path,
                        "--only-show-errors"], env=env, check=True)
        with open(manifest_path) as f:
            old_manifest = json.load(f)
        old_manifest.pop("variants", None)
        with open(manifest_path, "w") as f:
            json.dump(old_manifest, f)
        subprocess.run([aws, "s3", "cp", manifest_path, f"s3://strata-bench/without-variants/releases/{manifest_key}",
                        "--only-show-errors"], env=env, check=True)
        fills = {}
        for name, bucket_root in (("variants downloaded", root), ("variants made on the node", old_root)):
            subprocess.run([args.strata, "activate", "v1" if bucket_root == root else old_id, "--root", bucket_root,
                            "--no-check"], env=env, check=True, stdout=subprocess.DEVNULL)
            cache = os.path.join(args.work, "fill-" + name.replace(" ", "-"))
            port = 8950
            started = time.monotonic()
            node = subprocess.Popen([args.strata, "serve", "--root", bucket_root, "--cache", cache, "--port", str(port)], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_until(lambda: get(port)[0] == 200, 900)
                fills[name] = time.monotonic() - started
            finally:
                node.terminate()
                node.wait()
        print()
        print(table(["case", "seconds"], [
            ["full publish with the default variants (gzip, br)", round(strata_full, 2)],
            ["full publish without variants", round(strata_bare, 2)],
            ["first fill of a serve node, variants downloaded", round(fills["variants downloaded"], 2)],
            ["first fill of a serve node, variants made on the node", round(fills["variants made on the node"], 2)],
        ], "Object storage: variants in the bucket (the bench site's release, from moto)"))
        print()

        # 3: three serve nodes, flip-to-all-nodes latency.
        subprocess.run([args.strata, "activate", "v1", "--root", root, "--no-check"], env=env, check=True, stdout=subprocess.DEVNULL)
        ports = []
        for number in range(3):
            port = 8900 + number
            cache = os.path.join(args.work, f"cache{number}")
            node = subprocess.Popen([args.strata, "serve", "--root", root, "--cache", cache, "--poll", "1s", "--port", str(port)],
                                    env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(args.work, f"node{number}.log"), "w"))
            nodes.append(node)
            ports.append(port)
        started = time.monotonic()
        wait_until(lambda: all(get(port)[0] == 200 for port in ports), 900)
        log(f"object store: 3 nodes filled their caches from the bucket in {time.monotonic() - started:.1f} s")
        id_of = {}
        for label in ("v1", "v2"):
            out = subprocess.run([args.strata, "activate", label, "--root", root, "--no-check", "--json"], env=env, check=True,
                                 capture_output=True, text=True).stdout
            id_of[label] = json.loads(out)["to"]
            wait_until(lambda: all(get(port)[1] == id_of[label] for port in ports), 60)
        latencies = []
        for flip in range(20):
            label = "v1" if flip % 2 == 0 else "v2"
            subprocess.run([args.strata, "activate", label, "--root", root, "--no-check"], env=env, check=True, stdout=subprocess.DEVNULL)
            returned = time.monotonic()
            wait_until(lambda: all(get(port)[1] == id_of[label] for port in ports), 30)
            latencies.append(time.monotonic() - returned)
        latencies.sort()
        p50, p99 = latencies[len(latencies) // 2], latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print()
        print(table(["flips", "p50 s", "p99 s", "max s"], [[len(latencies), round(p50, 2), round(p99, 2), round(latencies[-1], 2)]],
                    "Flip to all 3 serve nodes (--poll 1s): activate returns → all answer with the new release (target p99 ≤ 1.5 s)"))

        # 4: flips under load over the three nodes, with whole-body checks.
        bodies = {hashlib.sha256(open(os.path.join(site, "index.html"), "rb").read()).hexdigest() for site in (args.v1, fresh)}
        stop = threading.Event()
        checked, torn, failures = [0], [0], [0]

        def checker():
            while not stop.is_set():
                for port in ports:
                    try:
                        status, _, body = get(port, "/index.html")
                        checked[0] += 1
                        if status != 200 or hashlib.sha256(body).hexdigest() not in bodies:
                            torn[0] += 1
                    except OSError:
                        failures[0] += 1
        thread = threading.Thread(target=checker)
        thread.start()
        wrks = [subprocess.Popen(["wrk", "-t1", "-c16", "-d3600s", f"http://127.0.0.1:{port}/"], stdout=subprocess.PIPE, text=True)
                for port in ports]
        log(f"object store: {args.flips} flips under wrk load on 3 nodes")
        started = time.monotonic()
        for flip in range(args.flips):
            label = "v1" if flip % 2 == 0 else "v2"
            subprocess.run([args.strata, "activate", label, "--root", root, "--no-check"], env=env, check=True, stdout=subprocess.DEVNULL)
            time.sleep(0.2)
        elapsed = time.monotonic() - started
        for wrk in wrks:
            wrk.send_signal(2)
        outputs = [wrk.communicate()[0] for wrk in wrks]
        stop.set()
        thread.join()
        requests = sum(int(line.split()[0]) for out in outputs for line in out.splitlines() if "requests in" in line)
        errors = sum(sum(int(x) for x in line.replace(",", " ").split() if x.isdigit())
                     for out in outputs for line in out.splitlines() if "Socket errors" in line or "Non-2xx" in line)
        print()
        print(table(["flips", "seconds", "wrk requests", "errors", "body checks", "torn", "checker failures"],
                    [[args.flips, round(elapsed, 1), requests, errors, checked[0], torn[0], failures[0]]],
                    "Flips under load over 3 serve nodes (targets: 0 errors, 0 torn)"))
        flip_cost = measure_flip_cost(args, root, env, endpoint, aws)
        if args.out:
            save(args.out, {"full": [strata_full, aws_full], "patch": [strata_patch, aws_patch], "flip_to_all": latencies,
                            "full_without_variants": strata_bare, "first_fill": fills,
                            "under_load": {"flips": args.flips, "requests": requests, "errors": errors, "checks": checked[0],
                                           "torn": torn[0], "failures": failures[0]}, "flip_cost": flip_cost})
        return 0 if errors == 0 and torn[0] == 0 and failures[0] == 0 else 1
    finally:
        for node in nodes:
            node.kill()
        moto.kill()


def measure_flip_cost(args, root, env, endpoint, aws, flips=20):
    """What one `strata activate` sends and how long it takes, through a proxy that logs every
    request: the conditional-write probe (once per process), the lease lock, and the flip itself;
    beside one `aws s3api put-object` of a pointer-sized object, the least a deploy script could do."""
    log_path = os.path.join(args.work, "requests.jsonl")
    proxy = subprocess.Popen([sys.executable, os.path.join(HERE, "..", "Tests", "StrataObjectStoreTests", "fault-proxy.py"),
                              endpoint, "conflicts", "0"], env={**env, "FAULT_PROXY_LOG": log_path}, stdout=subprocess.PIPE, text=True)
    try:
        through = {**env, "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:" + proxy.stdout.readline().strip()}
        parts = {"probe": ([], []), "lock": ([], []), "flip": ([], [])}
        log(f"object store: {flips} activates through a counting proxy, then {flips} straight to the service")
        for flip in range(flips):
            open(log_path, "w").close()
            timed([args.strata, "activate", "v1" if flip % 2 == 0 else "v2", "--root", root, "--no-check"], through)
            for entry in (json.loads(line) for line in open(log_path)):
                part = "probe" if "/probes/" in entry["path"] else "lock" if "/locks/write" in entry["path"] else "flip"
                parts[part][0].append(1)
                parts[part][1].append(entry["end"] - entry["start"])
        # The wall time without the proxy in the way (it opens a connection per request).
        walls = [timed([args.strata, "activate", "v1" if flip % 2 == 0 else "v2", "--root", root, "--no-check"], env)
                 for flip in range(flips)]
        pointer = os.path.join(args.work, "pointer")
        with open(pointer, "w") as handle:
            handle.write("0123456789abcdef\n")
        puts = sorted(timed([aws, "s3api", "put-object", "--bucket", "aws-bench", "--key", "pointer", "--body", pointer], env)
                      for _ in range(5))
        rows = [[part, round(len(parts[part][0]) / flips, 1), round(1000 * sum(parts[part][1]) / flips, 1)] for part in parts]
        wall = sorted(walls)[len(walls) // 2]
        rows.append(["whole command, straight to the service (median wall)", "", round(1000 * wall, 1)])
        rows.append(["aws s3api put-object, one PUT (median wall)", 1, round(1000 * puts[len(puts) // 2], 1)])
        print()
        print(table(["part of one activate", "requests", "ms at the service"], rows,
                    f"What a flip costs on S3: probe, lock, flip (per activate, {flips} runs; ratio to one aws PUT "
                    f"{wall / puts[len(puts) // 2]:.2f})"))
        return {"walls": walls, "aws_put": puts,
                "parts": {part: {"requests": len(values[0]) / flips, "seconds": sum(values[1]) / flips} for part, values in parts.items()}}
    finally:
        proxy.kill()


def wait_until(condition, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except OSError:
            pass
        time.sleep(0.01)
    raise SystemExit(f"bench: condition not met within {seconds} s")


if __name__ == "__main__":
    sys.exit(main())
