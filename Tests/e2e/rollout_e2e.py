#!/usr/bin/env python3
"""Gradual releases end to end: headless Chromium (Selenium) and Varnish against `strata serve`.

    python3 Tests/e2e/rollout_e2e.py --strata .build/debug/strata [--out .build/e2e]

Three releases whose page, un-hashed script and un-hashed stylesheet each name their release, so
a page that mixes releases shows it (the page compares the three and says "mixed"):
  1. a canary at 10%, widened to 50% and then to 100%, with 24 visitors (each its own cookie
     jar): no page ever mixes, and no visitor ever goes from the canary back to stable;
  2. a canary ended by `strata rollback` (an abort): every visitor is back on stable, unmixed;
  3. the same visitors behind Varnish told to cache every page it may: while a canary is
     active nothing of one visitor's release reaches another; versioned URLs stay shared;
  4. a rollout of a release whose script throws in the browser: the pages' reports to
     /_strata/beacon make it abort, with "browser errors per page view" in the history.
Exits 0 when every step holds.
"""
import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from browser_e2e import Failure, Strata, browser, expect  # noqa: E402

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><meta name="release" content="{name}"><title>{name}</title>
<link rel="stylesheet" href="/style.css">
<script src="/_strata/rollout.js"></script>
<script src="/app.js" defer></script></head>
<body><h1 id="html">{name}</h1><p id="js">(no script)</p><p id="css"></p><p id="verdict">pending</p></body></html>
"""
SCRIPT = """document.getElementById("js").textContent = "{name}";
var css = getComputedStyle(document.body).getPropertyValue("--release").trim().replace(/"/g, "");
document.getElementById("css").textContent = css;
var html = document.querySelector('meta[name=release]').content;
document.getElementById("verdict").textContent = (html === "{name}" && css === "{name}") ? "whole " + html : "mixed";
{extra}
"""


def make_site(folder: str, name: str, throws: bool = False) -> str:
    site = os.path.join(folder, name)
    os.makedirs(site)
    files = {
        "index.html": PAGE.format(name=name),
        "about/index.html": PAGE.format(name=name),
        "app.js": SCRIPT.format(name=name, extra='setTimeout(function () { throw new Error("broken ' + name + '"); }, 0);' if throws else ""),
        "style.css": 'body { --release: "%s"; }\n' % name,
        "favicon.ico": "icon",
    }
    for path, text in files.items():
        os.makedirs(os.path.dirname(os.path.join(site, path)), exist_ok=True)
        with open(os.path.join(site, path), "w") as f:
            f.write(text)
    return site


class Visitors:
    """Visitors with their own cookie jars, taking turns in one browser."""

    def __init__(self, driver, base: str, count: int):
        self.driver, self.base = driver, base
        self.jars: list[list[dict]] = [[] for _ in range(count)]

    def visit(self, number: int, path: str = "/") -> str:
        """Loads `path` as visitor `number`; returns the release its page says it is whole of."""
        driver = self.driver
        driver.get(self.base + "/favicon.ico")  # on the site's origin, to set its cookies
        driver.delete_all_cookies()
        for cookie in self.jars[number]:
            driver.add_cookie({k: cookie[k] for k in ("name", "value", "path") if k in cookie})
        driver.get(self.base + path)
        deadline = time.time() + 10
        verdict = "pending"
        while time.time() < deadline:
            verdict = driver.find_element("id", "verdict").text
            if verdict != "pending":
                break
            time.sleep(0.02)
        self.jars[number] = driver.get_cookies()
        expect(verdict.startswith("whole "), f"visitor {number} got a {verdict!r} page at {path}")
        return verdict[len("whole "):]


def start_varnish(work: str, backend_port: int) -> int:
    """varnishd in front of strata, told to cache every answer it may for 5 s (like a CDN
    with "cache everything"): only `private` (or a Set-Cookie) keeps an answer out."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    vcl = os.path.join(work, "cache-everything.vcl")
    with open(vcl, "w") as f:
        f.write("""vcl 4.1;
backend strata { .host = "127.0.0.1"; .port = "%d"; }
sub vcl_recv {
    if (req.method != "GET" && req.method != "HEAD") { return (pass); }
    return (hash);  # cookies or not: one copy for everyone, unless the answer says private
}
sub vcl_backend_response {
    if (beresp.http.Cache-Control ~ "private" || beresp.http.Set-Cookie) {
        set beresp.uncacheable = true;
        set beresp.ttl = 1s;
        return (deliver);
    }
    set beresp.ttl = 5s;
    return (deliver);
}
sub vcl_deliver {
    if (obj.hits > 0) { set resp.http.X-Cache = "HIT"; } else { set resp.http.X-Cache = "MISS"; }
}
""" % backend_port)
    name = os.path.join(work, "varnish")
    started = subprocess.run(["varnishd", "-a", f"127.0.0.1:{port}", "-f", vcl, "-n", name, "-j", "none", "-s", "malloc,32m",
                              "-p", "default_grace=0"], capture_output=True, text=True)
    if started.returncode != 0:
        raise Failure(f"varnishd did not start: {started.stderr.strip()}")
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return port
        except OSError:
            time.sleep(0.1)
    raise Failure("varnishd did not start")


def head(port: int, path: str, cookie: str | None = None) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    response = connection.getresponse()
    response.read()
    headers = {k.lower(): v for k, v in response.getheaders()}
    connection.close()
    return headers


def run(strata: Strata, work: str) -> None:
    sites = os.path.join(work, "sites")
    stable = strata("publish", make_site(sites, "stable"), "--activate")
    canary = strata("publish", make_site(sites, "canary"))
    broken = strata("publish", make_site(sites, "broken", throws=True))
    names = {stable: "stable", canary: "canary", broken: "broken"}
    base = strata.serve()
    driver = browser()
    varnish_name = os.path.join(work, "varnish")
    try:
        # 1. 10% -> 50% -> 100%: no page mixes; nobody goes back from the canary.
        strata("activate", canary, "--canary", "10")
        visitors = Visitors(driver, base, 24)
        seen = {}
        for number in range(24):
            got = {visitors.visit(number), visitors.visit(number, "/about/"), visitors.visit(number)}
            expect(len(got) == 1, f"visitor {number} changed release without a flip: {got}")
            seen[number] = got.pop()
        at10 = sum(1 for r in seen.values() if r == "canary")
        strata("activate", canary, "--canary", "50")
        at50 = {}
        for number in range(24):
            at50[number] = visitors.visit(number)
            expect(not (seen[number] == "canary" and at50[number] != "canary"), f"visitor {number} went back to stable when widening")
        strata("activate", canary)
        for number in range(24):
            expect(visitors.visit(number) == "canary", f"visitor {number} is not on the release at 100%")
        print(f"step 1: 24 visitors, canary {at10} at 10%, {sum(1 for r in at50.values() if r == 'canary')} at 50%, all at 100%; no page mixed")

        # 2. An abort: `strata rollback` during a canary sends everyone back to stable.
        strata("activate", broken, "--canary", "50")
        for number in range(24):
            visitors.visit(number)
        strata("rollback")
        history = json.loads(strata("history", "--json"))
        expect(history[-1]["action"] == "abort", f"the rollback was not an abort: {history[-1]}")
        for number in range(24):
            expect(visitors.visit(number) == "canary", f"visitor {number} is not back on the stable release after the abort")
        print("step 2: rollback during a canary is an abort; every visitor is back on the stable release, unmixed")

        # 3. Behind Varnish: pages are shared without a canary, never during one; versioned URLs always.
        varnish = start_varnish(work, strata.port)
        vbase = f"http://127.0.0.1:{varnish}"
        head(varnish, "/about/")
        expect(head(varnish, "/about/").get("x-cache") == "HIT", "the cache in front does not share pages at all: the test would prove nothing")
        strata("activate", stable, "--canary", "50")
        time.sleep(6)  # what the cache kept before the canary expires (its ttl)
        behind = Visitors(driver, vbase, 16)
        first = {}
        for number in range(16):
            got = {behind.visit(number), behind.visit(number), behind.visit(number, "/about/")}
            expect(len(got) == 1, f"visitor {number} behind the cache got more than one release: {got}")
            first[number] = got.pop()
        expect(set(first.values()) == {"stable", "canary"}, f"behind the cache, visitors did not split: {first}")
        for path in ("/", "/app.js", "/style.css"):
            headers = head(varnish, path, "strata-release=canary")
            expect(headers.get("x-cache") == "MISS" and "private" in headers.get("cache-control", ""),
                   f"{path} was shared by the cache during a canary: {headers}")
        versioned = f"/_v/{canary}/app.js"
        head(varnish, versioned)
        expect(head(varnish, versioned).get("x-cache") == "HIT", "a versioned URL is not shared during a canary")
        strata("rollback")
        print(f"step 3: behind Varnish, 16 visitors split {sorted(first.values()).count('canary')} canary, never mixed; versioned URLs stay shared")

        # 4. A rollout of a release whose script throws: aborted from the browsers' reports.
        # Ten canary requests are two page loads: the first one's report has then had a page
        # load's time to arrive. With one (five requests), a report still in flight at the
        # step's end let a loaded CI machine judge the canary healthy on no evidence.
        rollout = subprocess.Popen([strata.binary, "rollout", broken, "--root", strata.store, "--steps", "50,100", "--every", "4s",
                                    "--watch", base, "--min-requests", "10"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        browsing = Visitors(driver, base, 200)
        number = 0
        deadline = time.time() + 90
        while rollout.poll() is None and time.time() < deadline:
            try:
                driver.get(base + "/favicon.ico")
                driver.delete_all_cookies()
                driver.get(base + "/")
                time.sleep(2)  # the script reports a second after the error (a loaded machine runs timers late)
            except Exception:
                pass
            number += 1
        out, err = rollout.communicate(timeout=30)
        expect(rollout.returncode == 2, f"the rollout did not abort (exit {rollout.returncode}): {out}{err}")
        last = json.loads(strata("history", "--json"))[-1]
        expect(last["action"] == "abort" and "browser errors per page view" in last.get("reason", ""),
               f"the abort does not name the browser errors: {last}")
        expect(open(strata.store + "/channels/current").read() == canary + "\n", "the channel is not back on its stable release")
        print(f"step 4: a rollout of a throwing release aborted after {number} page loads: {last['reason']}")
        del browsing, names, vbase
    finally:
        driver.quit()
        if os.path.isdir(varnish_name):
            subprocess.run(["pkill", "-f", f"varnishd.*{varnish_name}"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strata", default=os.path.join(os.path.dirname(__file__), "..", "..", ".build", "debug", "strata"))
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="strata-rollout-e2e-") as work:
        strata = Strata(os.path.realpath(args.strata), os.path.join(work, "store"))
        try:
            run(strata, work)
        except Failure as failure:
            print(f"rollout e2e FAILED: {failure}", file=sys.stderr)
            return 1
        finally:
            strata.stop()
            subprocess.run(["chmod", "-R", "u+w", work])
    print("rollout e2e passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
