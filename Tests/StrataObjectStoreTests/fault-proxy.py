#!/usr/bin/env python3
"""An HTTP proxy in front of an S3 endpoint that can answer 409 Conflict, which moto never does.

    fault-proxy.py UPSTREAM CONFLICTS

Forwards every request to UPSTREAM unchanged, Host header included (so SigV4 signatures still
hold), except the first CONFLICTS conditional PUTs to a `channels/` key, which get S3's 409
ConditionalRequestConflict without reaching UPSTREAM. Prints its port on the first line.
"""
import http.client
import http.server
import sys
import threading
import urllib.parse

upstream = urllib.parse.urlsplit(sys.argv[1])
remaining = [int(sys.argv[2])]
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        conditional = "If-Match" in self.headers or "If-None-Match" in self.headers
        if self.command == "PUT" and conditional and "/channels/" in self.path:
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
        connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
        connection.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for name, value in self.headers.items():
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
