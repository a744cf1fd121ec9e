#!/usr/bin/env python3
"""An HTTP proxy in front of an S3 endpoint that misbehaves in ways moto never does.

    fault-proxy.py UPSTREAM MODE [ARG]

Forwards every request to UPSTREAM unchanged, Host header included (so SigV4 signatures still
hold), except what MODE changes. Prints its port on the first line.

    conflicts N          the first N conditional PUTs to a `channels/` key get S3's 409
                         ConditionalRequestConflict without reaching UPSTREAM
    ignore-conditions    a service that accepts If-Match / If-None-Match on PUT and ignores them:
                         the headers are dropped and the request signed again without them (with
                         AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from the environment)
    delay-pointers S     conditional PUTs to a `channels/` key wait S seconds before going on
    delay-content S      GETs of a `content/` key wait S seconds before going on

With FAULT_PROXY_LOG=FILE, each request is appended to FILE as one JSON line (method, path,
status, start and end times), so a benchmark can count what a command sends.
"""
import datetime
import hashlib
import hmac
import json
import http.client
import http.server
import os
import sys
import threading
import time
import urllib.parse

upstream = urllib.parse.urlsplit(sys.argv[1])
mode = sys.argv[2]
argument = sys.argv[3] if len(sys.argv) > 3 else "0"
if mode.isdigit():  # the original form: fault-proxy.py UPSTREAM CONFLICTS
    mode, argument = "conflicts", mode
remaining = [int(argument) if mode == "conflicts" else 0]
lock = threading.Lock()
CONDITIONS = ("if-match", "if-none-match")


def resign(method, path, headers, payload_hash):
    """SigV4 again over the headers that are left (the proxy knows the test's credentials)."""
    access, secret = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
    authorization = headers["Authorization"]
    scope = authorization.split("Credential=")[1].split(",")[0].split("/", 1)[1]
    day, region, service, _ = scope.split("/")
    names = [n for n in authorization.split("SignedHeaders=")[1].split(",")[0].split(";") if n not in CONDITIONS]
    lowered = {name.lower(): value for name, value in headers.items()}
    amz_date = lowered["x-amz-date"]
    raw_path, _, query = path.partition("?")
    canonical = "\n".join([method, raw_path, query,
                           "".join(f"{n}:{' '.join(lowered[n].split())}\n" for n in names),
                           ";".join(names), payload_hash])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"AWS4-HMAC-SHA256 Credential={access}/{scope}, SignedHeaders={';'.join(names)}, Signature={signature}"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def forward(self):
        started = time.time()
        self.status_sent = 0
        try:
            self.relay()
        finally:
            if os.environ.get("FAULT_PROXY_LOG"):
                with lock, open(os.environ["FAULT_PROXY_LOG"], "a") as log:
                    log.write(json.dumps({"method": self.command, "path": self.path, "status": self.status_sent,
                                          "start": started, "end": time.time()}) + "\n")

    def send_response(self, code, message=None):
        self.status_sent = code
        super().send_response(code, message)

    def relay(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        conditional = "If-Match" in self.headers or "If-None-Match" in self.headers
        headers = list(self.headers.items())
        if mode == "conflicts" and self.command == "PUT" and conditional and "/channels/" in self.path:
            with lock:
                conflict = remaining[0] > 0
                remaining[0] -= conflict
            if conflict:
                payload = b"<Error><Code>ConditionalRequestConflict</Code><Message>conflict</Message></Error>"
                self.send_response(409)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
        if mode == "delay-pointers" and self.command == "PUT" and conditional and "/channels/" in self.path:
            time.sleep(float(argument))
        if mode == "delay-content" and self.command == "GET" and "/content/" in self.path:
            time.sleep(float(argument))
        if mode == "ignore-conditions" and self.command == "PUT" and conditional:
            kept = {name: value for name, value in headers if name.lower() not in CONDITIONS}
            kept["Authorization"] = resign(self.command, self.path, kept, kept.get("x-amz-content-sha256") or kept.get("X-Amz-Content-Sha256"))
            headers = list(kept.items())
        connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
        connection.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        payload = response.read()
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in ("transfer-encoding", "connection", "content-length", "server", "date"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = forward


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
