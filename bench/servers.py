"""The HTTP servers the serving benchmarks start: strata, nginx, Caddy, h2o, lighttpd and the
floor (bench/floor.c), each on its own port,
each stopped by pid. Every server started here is registered, so `stop_all` can end them even
when a benchmark fails half-way."""
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request

from benchlib import stop

_started: list["Server"] = []


class Server:
    name = "server"

    def __init__(self, port: int, work: str):
        self.port = port
        self.work = work
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process
        return self.process.pid

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict:
        return dict(os.environ)

    def start(self) -> "Server":
        log = open(f"{self.work}/{self.name}.log", "wb")
        self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                        env=self.environment(), start_new_session=True)
        _started.append(self)
        self._wait_until_listening()
        return self

    def _wait_until_listening(self) -> None:
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; see {self.work}/{self.name}.log:\n"
                                   + open(f"{self.work}/{self.name}.log").read()[-2000:])
            try:
                urllib.request.urlopen(self.url + "/", timeout=1).read()
                return
            except urllib.error.HTTPError:
                return  # it answers, even if with an error status
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not listen on {self.port} within 15 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            stop(self.process.pid)
            self.process.wait()
        if self in _started:
            _started.remove(self)


class StrataServer(Server):
    name = "strata"

    def __init__(self, port: int, work: str, binary: str, store: str, extra: list[str] | None = None):
        super().__init__(port, work)
        self.binary, self.store, self.extra = binary, store, extra or []

    def command(self) -> list[str]:
        return [self.binary, "serve", "--root", self.store, "--port", str(self.port), *self.extra]


class NginxServer(Server):
    """Configured for fairness: 2 workers, sendfile, open_file_cache, no access log,
    gzip_static on (fed the same gzip -9 files), keep-alive without a request cap."""
    name = "nginx"

    def __init__(self, port: int, work: str, root: str):
        super().__init__(port, work)
        self.root = root

    def command(self) -> list[str]:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        config = f"{self.work}/nginx.conf"
        user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read the root-owned temp folder
        with open(config, "w") as f:
            f.write(f"""{user}worker_processes 2;
pid {self.work}/nginx.pid;
error_log {self.work}/nginx-error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    sendfile on; tcp_nopush on; tcp_nodelay on;
    open_file_cache max=20000 inactive=60s; open_file_cache_valid 60s;
    keepalive_requests 10000000;
    include /etc/nginx/mime.types;
    gzip_static on;
    etag on;
    server {{
        listen 127.0.0.1:{self.port};
        root {self.root};
    }}
}}
""")
        return [nginx, "-c", config, "-p", self.work, "-g", "daemon off;"]


class CaddyServer(Server):
    """Caddy's file_server (what `caddy file-server` runs), with its precompressed zstd, brotli
    and gzip files turned on; admin endpoint and automatic HTTPS off; no access log (Caddy's default)."""
    name = "caddy"

    def __init__(self, port: int, work: str, root: str):
        super().__init__(port, work)
        self.root = root

    def environment(self) -> dict:
        env = dict(os.environ)
        env.update(HOME=self.work, XDG_DATA_HOME=f"{self.work}/caddy-data", XDG_CONFIG_HOME=f"{self.work}/caddy-config")
        return env

    def command(self) -> list[str]:
        config = f"{self.work}/Caddyfile"
        with open(config, "w") as f:
            f.write(f"""{{
    admin off
    auto_https off
}}
http://127.0.0.1:{self.port} {{
    root * {self.root}
    file_server {{
        precompressed zstd br gzip
    }}
}}
""")
        return ["caddy", "run", "--config", config, "--adapter", "caddyfile"]


class H2OServer(Server):
    """h2o's static file handler at its fastest settings for this machine: 2 threads, precompressed
    gzip files sent as they are (`file.send-gzip`), no access log, keep-alive without a cap."""
    name = "h2o"

    def __init__(self, port: int, work: str, root: str):
        super().__init__(port, work)
        self.root = root

    def command(self) -> list[str]:
        config = f"{self.work}/h2o.conf"
        user = "user: root\n" if os.geteuid() == 0 else ""  # as root, h2o would switch to nobody
        with open(config, "w") as f:
            f.write(f"""{user}num-threads: 2
listen:
  host: 127.0.0.1
  port: {self.port}
pid-file: {self.work}/h2o.pid
error-log: {self.work}/h2o-error.log
file.send-gzip: ON
file.etag: ON
http1-request-timeout: 60
hosts:
  default:
    paths:
      /:
        file.dir: {self.root}
""")
        return ["h2o", "-c", config]


class LighttpdServer(Server):
    """lighttpd 1.4 at its fastest static settings: 2 workers, sendfile, an ETag per file, no
    access log, keep-alive without a practical cap, and gzip from mod_deflate's cache (it has no
    precompressed-file mode; every answer after the first comes from the cache)."""
    name = "lighttpd"

    def __init__(self, port: int, work: str, root: str):
        super().__init__(port, work)
        self.root = root

    def command(self) -> list[str]:
        config = f"{self.work}/lighttpd.conf"
        os.makedirs(f"{self.work}/lighttpd-cache", exist_ok=True)
        with open(config, "w") as f:
            f.write(f"""server.document-root = "{self.root}"
server.bind = "127.0.0.1"
server.port = {self.port}
server.pid-file = "{self.work}/lighttpd.pid"
server.errorlog = "{self.work}/lighttpd-error.log"
server.max-worker = 2
server.max-keep-alive-requests = 10000000
server.max-keep-alive-idle = 60
server.max-fds = 16384
server.modules = ("mod_deflate")
static-file.etags = "enable"
deflate.mimetypes = ("text/", "application/javascript", "image/svg+xml")
deflate.allowed-encodings = ("gzip")
deflate.cache-dir = "{self.work}/lighttpd-cache"
include_shell "/usr/share/lighttpd/create-mime.conf.pl"
""")
        return [shutil.which("lighttpd") or "/usr/sbin/lighttpd", "-D", "-f", config]


class FloorServer(Server):
    """bench/floor.c: one fixed prepared 1 KiB answer to every request, an epoll loop per thread."""
    name = "floor"

    def __init__(self, port: int, work: str, binary: str):
        super().__init__(port, work)
        self.binary = binary

    def command(self) -> list[str]:
        return [self.binary, str(self.port), "2"]


def build_floor(work: str) -> str:
    """Compiles bench/floor.c into `work`; returns the binary's path."""
    binary = f"{work}/floor"
    source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "floor.c")
    subprocess.run(["cc", "-O2", "-o", binary, source, "-lpthread"], check=True)
    return binary


def stop_all() -> None:
    for server in list(_started):
        server.stop()
