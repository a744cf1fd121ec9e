#!/usr/bin/env python3
"""End to end in a real browser: headless Chromium, driven by Selenium, against `strata serve`.

    python3 Tests/e2e/browser_e2e.py --strata .build/debug/strata [--out .build/e2e]

Publishes site-fixtures/e2e-v1 and e2e-v2 into a temporary store and walks a release through
what a user sees:
  1. v1 published and active: the page renders and its module script ran;
  2. v2 published ahead of release: its versioned URL works, the channel still serves v1;
  3. v2 activated while the v1 page stays open: that page lazy-loads a chunk only v1 has, and it
     works; a reload shows v2;
  4. rollback: a reload shows v1; the plain-named files both releases share come back as 304s
     and hash-named ones are not fetched again (read from the server's access log).
A screenshot of each step goes to the output folder. Exits 0 when every step holds.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import threading
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "site-fixtures")


class Failure(Exception):
    pass


class Strata:
    """The CLI on one temporary store, and the server it runs."""

    def __init__(self, binary: str, store: str):
        self.binary, self.store = binary, store
        self.server: subprocess.Popen | None = None
        self.access_log = os.path.join(os.path.dirname(store), "access.log")
        self.port = 0

    def __call__(self, *words: str) -> str:
        result = subprocess.run([self.binary, *words, "--root", self.store], capture_output=True, text=True)
        if result.returncode != 0:
            raise Failure(f"strata {' '.join(words)} failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def serve(self) -> str:
        self.server = subprocess.Popen([self.binary, "serve", "--root", self.store, "--port", "0",
                                        "--access-log", self.access_log, "--log-format", "json"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        said = []
        match = None
        while not match:
            line = self.server.stderr.readline()
            if not line:
                raise Failure(f"strata serve did not say where it listens: {''.join(said)!r}")
            said.append(line)
            match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        self.port = int(match.group(1))
        # Keep reading its events, so the server never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in self.server.stderr], daemon=True).start()
        return f"http://127.0.0.1:{self.port}"

    def log_lines(self) -> list[dict]:
        """The access log, one JSON object per request (`--log-format json`)."""
        with open(self.access_log) as f:
            return [json.loads(line) for line in f.read().splitlines()]

    def stop(self) -> None:
        if self.server and self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.server.kill()


def browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=900,600", "--disable-extensions"):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(options=options, service=service)


def text(driver, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text


def wait_for_text(driver, element_id: str, expected: str) -> None:
    try:
        WebDriverWait(driver, 10).until(lambda d: text(d, element_id) == expected)
    except Exception:
        raise Failure(f"#{element_id} shows {text(driver, element_id)!r}, expected {expected!r} (at {driver.current_url})")


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise Failure(message)


def run(strata: Strata, out: str) -> None:
    shots = []

    def screenshot(name: str) -> None:
        path = os.path.join(out, f"{len(shots) + 1}-{name}.png")
        driver.save_screenshot(path)
        shots.append(path)

    v1 = strata("publish", os.path.join(FIXTURES, "e2e-v1"), "--label", "v1", "--activate")
    base = strata.serve()
    driver = browser()
    try:
        # 1. v1 is live: the page renders and its JavaScript ran.
        driver.get(base + "/")
        wait_for_text(driver, "title", "Aurora v1")
        wait_for_text(driver, "status", "app v1 is running")
        screenshot("v1-live")
        print(f"step 1: v1 ({v1}) renders on the channel URL and its module script ran")

        # 2. v2 is published but not live: its versioned URL works, the channel still serves v1.
        v2 = strata("publish", os.path.join(FIXTURES, "e2e-v2"), "--label", "v2")
        v1_tab = driver.current_window_handle
        driver.switch_to.new_window("tab")
        driver.get(f"{base}/_v/{v2}/")
        wait_for_text(driver, "title", "Aurora v2")
        wait_for_text(driver, "status", "app v2 is running")
        screenshot("v2-versioned-url")
        driver.get(base + "/")
        wait_for_text(driver, "title", "Aurora v1")
        screenshot("channel-still-v1")
        driver.close()
        driver.switch_to.window(v1_tab)
        print(f"step 2: v2 ({v2}) works at /_v/{v2}/ while the channel still serves v1")

        # 3. Activate v2 under the open v1 page; its v1-only chunk still loads; a reload shows v2.
        strata("activate", "v2")
        loaded = driver.execute_async_script("window.loadMore().then(arguments[0], e => arguments[0]('error: ' + e))")
        expect(loaded == "reports chunk of v1 loaded", f"the open v1 page could not lazy-load its chunk: {loaded!r}")
        wait_for_text(driver, "lazy", "reports chunk of v1 loaded")
        screenshot("v1-page-lazy-loads-after-activate")
        chunk_lines = [l for l in strata.log_lines() if l["uri"] == "/assets/reports.9e4b2c7d.js"]
        expect(chunk_lines and chunk_lines[-1]["status"] == 200 and chunk_lines[-1]["release"] == v1,
               f"the v1 chunk was not served from v1 after the flip: {chunk_lines[-1:]}")
        driver.refresh()
        wait_for_text(driver, "title", "Aurora v2")
        wait_for_text(driver, "status", "app v2 is running")
        screenshot("reload-shows-v2")
        print("step 3: after activate, the open v1 page lazy-loaded its v1-only chunk; a reload shows v2")

        # 4. Roll back; a reload shows v1; files both releases share are revalidated with 304s.
        strata("rollback")
        before = len(strata.log_lines())
        driver.refresh()
        wait_for_text(driver, "title", "Aurora v1")
        wait_for_text(driver, "status", "app v1 is running")
        screenshot("rollback-shows-v1")
        time.sleep(0.5)  # the access log is written as responses go out
        reload_lines = strata.log_lines()[before:]
        statuses = {}
        for line in reload_lines:
            if line["method"] == "GET":
                statuses[line["uri"]] = line["status"]
        # Files both releases share: plain names revalidate (no-cache) and must get 304s; hash-named
        # ones are immutable on the channel URL too, so the browser need not ask at all.
        for shared in ("/theme.css", "/images/logo.svg"):
            expect(statuses.get(shared) == 304,
                   f"{shared} was not revalidated with a 304 after the rollback: {statuses}")
        for immutable in ("/assets/shared.7b3e0f21.js", "/assets/style.4c1d2e9a.css", "/assets/app.1f0c9d3a.js"):
            expect(statuses.get(immutable, 304) == 304,
                   f"{immutable} was downloaded again although the browser had it: {statuses}")
        expect(statuses.get("/") == 200, f"the rolled-back page itself should come whole (200): {statuses}")
        print(f"step 4: rollback; a reload shows v1; revalidations: {statuses}")
    finally:
        driver.quit()
    print(f"screenshots: {', '.join(os.path.relpath(s, ROOT) for s in shots)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strata", default=os.path.join(ROOT, ".build", "debug", "strata"))
    parser.add_argument("--out", default=os.path.join(ROOT, ".build", "e2e"))
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(args.out)
    with tempfile.TemporaryDirectory(prefix="strata-e2e-") as work:
        strata = Strata(os.path.realpath(args.strata), os.path.join(work, "store"))
        try:
            run(strata, args.out)
        except Failure as failure:
            print(f"e2e FAILED: {failure}", file=sys.stderr)
            return 1
        finally:
            strata.stop()
            subprocess.run(["chmod", "-R", "u+w", work])
    print("e2e passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
