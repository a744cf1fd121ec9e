#!/usr/bin/env python3
"""Previews and CDNs end to end: headless Chromium on release hosts, and Varnish in front.

    python3 Tests/e2e/preview_cdn_e2e.py --strata .build/debug/strata

  1. a release host: `<id>.preview.test`, its id prefix and its label serve a release that is not
     live, in Chromium; its pages link everything site-absolute (`/assets/…`, `/theme.css`,
     `/docs/`), and every response the browser got, page, scripts, styles, image and the page it
     navigated to, says `Strata-Release:` the preview's id; an unknown name is a plain 404;
  2. Varnish with its stock configuration (contrib/varnish/strata.vcl) and --shared-cache-ttl:
     pages are served from Varnish (Strata's access log shows one request for ten visits);
  3. Varnish with the xkey module (contrib/varnish/strata-xkey.vcl) and --purge: pages come from
     Varnish between flips, and within a second of `strata activate` Varnish serves the new
     release (Strata purged the channel's tag);
  4. nginx's proxy_cache (contrib/nginx/strata-cache.conf): pages micro-cached for the TTL,
     refreshed with a conditional request, the flip showing once the TTL is out.
Exits 0 when every step holds.
"""
import argparse
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from browser_e2e import Failure, expect  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, what: str) -> None:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise Failure(f"{what} did not start on port {port}")


class Strata:
    """The CLI on one store, and the servers it runs (each with its own access log)."""

    def __init__(self, binary: str, work: str):
        self.binary, self.work, self.store = binary, work, os.path.join(work, "store")
        self.servers: list[subprocess.Popen] = []

    def __call__(self, *words: str) -> str:
        result = subprocess.run([self.binary, *words, "--root", self.store], capture_output=True, text=True)
        if result.returncode != 0:
            raise Failure(f"strata {' '.join(words)} failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def serve(self, name: str, *options: str) -> tuple[int, str]:
        """Starts a server; returns its port and its access log's path."""
        log = os.path.join(self.work, f"{name}.access.log")
        server = subprocess.Popen([self.binary, "serve", "--root", self.store, "--port", "0", "--access-log", log,
                                   "--log-format", "json", *options],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.servers.append(server)
        said = []
        while True:
            line = server.stderr.readline()
            if not line:
                raise Failure(f"strata serve did not start: {''.join(said)!r}")
            said.append(line)
            match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
            if match:
                break
        threading.Thread(target=lambda: [None for _ in server.stderr], daemon=True).start()
        return int(match.group(1)), log

    def stop(self) -> None:
        for server in self.servers:
            if server.poll() is None:
                server.terminate()
                try:
                    server.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    server.kill()


def requests_for(log: str, path: str) -> int:
    """How many requests for `path` a server's access log shows."""
    time.sleep(0.2)  # the log is written as answers go out
    with open(log) as f:
        return sum(1 for line in f if json.loads(line).get("uri") == path)


def make_site(folder: str, name: str) -> str:
    """A site whose pages link everything site-absolute, as build tools emit, and differ by `name`."""
    root = os.path.join(folder, name)
    files = {
        "index.html": f"""<!doctype html><html><head><meta charset="utf-8"><title>{name}</title>
<link rel="stylesheet" href="/theme.css"><script type="module" src="/assets/app.{name}0001.js"></script></head>
<body><img src="/images/logo.svg" width="32" height="32" alt=""><h1 id="title">{name}</h1>
<p id="status">JavaScript has not run</p><a id="docs" href="/docs/">docs</a></body></html>""",
        "docs/index.html": f"""<!doctype html><html><head><meta charset="utf-8"><title>docs of {name}</title>
<link rel="stylesheet" href="/theme.css"></head><body><h1 id="title">docs of {name}</h1></body></html>""",
        f"assets/app.{name}0001.js": f"document.getElementById('status').textContent = 'app {name} ran';",
        "theme.css": f"body {{ --release: '{name}'; font-family: sans-serif; }}",
        "images/logo.svg": f'<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32"><title>{name}</title></svg>',
    }
    for path, content in files.items():
        os.makedirs(os.path.dirname(os.path.join(root, path)), exist_ok=True)
        with open(os.path.join(root, path), "w") as f:
            f.write(content)
    return root


def chromium() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=900,600",
                 "--disable-extensions", "--host-resolver-rules=MAP *.preview.test 127.0.0.1"):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(options=options, service=service)


def responses(driver) -> list[tuple[str, int, dict]]:
    """Every response the browser received since the last call: URL, status, headers (lowercase)."""
    seen = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.responseReceived":
            response = message["params"]["response"]
            seen.append((response["url"], response["status"], {k.lower(): v for k, v in response["headers"].items()}))
    return seen


def get(port: int, path: str, host: str = "localhost") -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", path, headers={"Host": host, "Accept-Encoding": "gzip"})
    response = connection.getresponse()
    body = response.read()
    headers = {k.lower(): v for k, v in response.getheaders()}
    connection.close()
    return response.status, headers, body


def release_hosts(strata: Strata, work: str, live: str, preview: str) -> None:
    port, _ = strata.serve("release-hosts", "--release-host", "*.preview.test")
    driver = chromium()
    try:
        for name in (preview, preview[:7], "pr-42"):
            responses(driver)  # drop what earlier pages left
            driver.get(f"http://{name}.preview.test:{port}/")
            WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "status").text == "app preview ran")
            expect(driver.find_element(By.ID, "title").text == "preview", f"{name}: the page is not the preview's")
            driver.find_element(By.ID, "docs").click()
            WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "title").text == "docs of preview")
            got = [(url, status, headers) for url, status, headers in responses(driver) if ".preview.test" in url]
            paths = sorted({re.sub(r"^http://[^/]+", "", url) for url, _, _ in got})
            expect({"/", "/theme.css", "/assets/app.preview0001.js", "/images/logo.svg", "/docs/"} <= set(paths),
                   f"{name}: the browser did not load every resource: {paths}")
            wrong = [(url, headers.get("strata-release")) for url, _, headers in got if headers.get("strata-release") != preview]
            expect(not wrong, f"{name}: responses not from the preview: {wrong}")
            pages = [headers for url, status, headers in got if url.endswith("/") and status == 200]
            expect(pages and all(h.get("x-robots-tag") == "noindex" for h in pages), f"{name}: preview pages are not noindex")
        driver.save_screenshot(os.path.join(work, "release-host.png"))
    finally:
        driver.quit()
    status, headers, body = get(port, "/", host=f"nope.preview.test:{port}")
    expect(status == 404 and body == b"no such release\n" and "strata-release" not in headers,
           f"an unknown release host answered {status} {body!r}")
    status, headers, _ = get(port, "/", host=f"localhost:{port}")
    expect(headers.get("strata-release") == live, "the plain host no longer serves the channel")
    print(f"step 1: {preview[:7]}….preview.test, its prefix and its label serve the preview in Chromium, every resource from it; "
          "unknown names 404")


def start_varnish(work: str, name: str, vcl_file: str, backend_port: int) -> tuple[int, str]:
    with open(os.path.join(ROOT, "contrib", "varnish", vcl_file)) as f:
        vcl = f.read().replace('.port = "8080";', f'.port = "{backend_port}";')
    path = os.path.join(work, vcl_file)
    with open(path, "w") as f:
        f.write(vcl)
    port, instance = free_port(), os.path.join(work, name)
    started = subprocess.run(["varnishd", "-a", f"127.0.0.1:{port}", "-f", path, "-n", instance, "-j", "none",
                              "-s", "malloc,32m"], capture_output=True, text=True)
    if started.returncode != 0:
        raise Failure(f"varnishd did not start with {vcl_file}: {started.stderr.strip()}")
    wait_for_port(port, "varnishd")
    return port, instance


def stock_varnish(strata: Strata, work: str, live: str) -> None:
    port, log = strata.serve("stock", "--shared-cache-ttl", "1h")
    varnish, _ = start_varnish(work, "varnish-stock", "strata.vcl", port)
    answers = [get(varnish, "/") for _ in range(10)]
    expect(all(status == 200 and headers.get("strata-release") == live for status, headers, _ in answers), "Varnish did not serve the page")
    expect(answers[-1][1].get("x-cache") == "HIT", f"the stock VCL did not keep the page: {answers[-1][1]}")
    count = requests_for(log, "/")
    expect(count == 1, f"Strata saw {count} requests for / behind stock Varnish, not 1")
    print("step 2: stock Varnish keeps pages under --shared-cache-ttl: 10 visits, 1 request to Strata")


def xkey_varnish(strata: Strata, work: str, live: str, preview: str) -> None:
    backend = free_port()  # Varnish first, so Strata can be told where to purge
    varnish, _ = start_varnish(work, "varnish-xkey", "strata-xkey.vcl", backend)
    port, log = strata.serve("xkey", "--port", str(backend), "--shared-cache-ttl", "1h", "--purge", f"http://127.0.0.1:{varnish}/")
    expect(port == backend, "strata did not take the port Varnish forwards to")
    for path in ("/", "/docs/", "/theme.css"):
        for _ in range(5):
            status, headers, _ = get(varnish, path)
            expect(status == 200 and headers.get("strata-release") == live, f"{path} via Varnish: {status} {headers}")
        expect(headers.get("x-cache") == "HIT" and "xkey" not in headers, f"{path} is not kept by Varnish: {headers}")
        expect(requests_for(log, path) == 1, f"Strata saw more than one request for {path} between flips")
    flipped = time.monotonic()
    strata("activate", preview)
    seen = None
    while time.monotonic() - flipped < 3:
        status, headers, _ = get(varnish, "/")
        if headers.get("strata-release") == preview:
            seen = time.monotonic() - flipped
            break
        time.sleep(0.02)
    expect(seen is not None and seen < 1, f"Varnish served the new release {seen and f'{seen:.2f} s' or 'not within 3 s'} after activate")
    for path in ("/docs/", "/theme.css"):
        expect(get(varnish, path)[1].get("strata-release") == preview, f"{path} was not purged with the channel")
    for _ in range(5):
        get(varnish, "/")
    expect(requests_for(log, "/") == 2, "after the purge, pages are kept again")
    print(f"step 3: Varnish with xkey keeps pages between flips (1 request each to Strata) and serves the new release "
          f"{seen * 1000:.0f} ms after activate")
    strata("activate", live)  # back, for the next step


def nginx_cache(strata: Strata, work: str, live: str, preview: str) -> None:
    backend = free_port()
    port = free_port()
    cache = os.path.join(work, "nginx-cache")
    with open(os.path.join(ROOT, "contrib", "nginx", "strata-cache.conf")) as f:
        site = f.read()
    site = (site.replace("127.0.0.1:8080", f"127.0.0.1:{backend}").replace("/var/cache/nginx/strata", cache)
            .replace("listen 80;", f"listen 127.0.0.1:{port};"))
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        # As root, nginx's workers would become nobody, who cannot enter the temporary folder.
        user = "user root;" if os.geteuid() == 0 else ""
        f.write(f"""daemon off; {user} worker_processes 1; pid {work}/nginx.pid; error_log {work}/nginx.error.log;
events {{ worker_connections 64; }}
http {{ access_log off; client_body_temp_path {work}/nginx-body; proxy_temp_path {work}/nginx-proxy;
fastcgi_temp_path {work}/nginx-fcgi; uwsgi_temp_path {work}/nginx-uwsgi; scgi_temp_path {work}/nginx-scgi;
{site}
}}
""")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    server = subprocess.Popen([nginx, "-c", conf, "-p", work], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, log = strata.serve("nginx", "--port", str(backend), "--shared-cache-ttl", "2s")
        wait_for_port(port, "nginx")
        for _ in range(10):
            status, headers, _ = get(port, "/")
            expect(status == 200 and headers.get("strata-release") == live, f"nginx: {status} {headers}")
        expect(headers.get("x-cache") == "HIT", f"nginx did not keep the page: {headers}")
        expect(requests_for(log, "/") == 1, "Strata saw more than one request for / within the TTL behind nginx")
        strata("activate", preview)
        flipped = time.monotonic()
        seen = None
        while time.monotonic() - flipped < 6:
            if get(port, "/")[1].get("strata-release") == preview:
                seen = time.monotonic() - flipped
                break
            time.sleep(0.05)
        expect(seen is not None and seen <= 3, f"nginx served the new release {seen} s after the flip (TTL 2 s)")
        print(f"step 4: nginx proxy_cache keeps pages for the TTL (1 request to Strata for 10 visits); the flip showed after {seen:.1f} s")
    except Failure:
        with open(os.path.join(work, "nginx.error.log")) as f:
            print(f.read()[-2000:], file=sys.stderr)
        raise
    finally:
        server.terminate()
        server.wait(timeout=10)


def run(strata: Strata, work: str) -> None:
    live = strata("publish", make_site(work, "live"), "--label", "live", "--activate")
    preview = strata("publish", make_site(work, "preview"), "--label", "pr-42")
    release_hosts(strata, work, live, preview)
    stock_varnish(strata, work, live)
    xkey_varnish(strata, work, live, preview)
    nginx_cache(strata, work, live, preview)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strata", default=os.path.join(ROOT, ".build", "debug", "strata"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="strata-preview-e2e-") as work:
        strata = Strata(os.path.realpath(args.strata), work)
        try:
            run(strata, work)
        except Failure as failure:
            print(f"preview and CDN e2e FAILED: {failure}", file=sys.stderr)
            return 1
        finally:
            strata.stop()
            for name in ("varnish-stock", "varnish-xkey"):
                subprocess.run(["pkill", "-f", f"varnishd.*{os.path.join(work, name)}"])
    print("preview and CDN e2e passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
