#!/usr/bin/env python3
"""A stand-in for a CDN's purge endpoint that writes down every request it gets.

    purge-recorder.py RECORD_FILE [--fail N | --always-fail]

Listens on 127.0.0.1 on a free port and prints `port N` on its first line. Each request (any
method) is appended to RECORD_FILE as one JSON object: method, path, headers (names lowercased)
and body. The first N requests (or all, with --always-fail) are answered 500; the others 200
with `{"success": true}`, as Cloudflare's and Fastly's APIs say it.
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

record, failures, always = sys.argv[1], 0, "--always-fail" in sys.argv
if "--fail" in sys.argv:
    failures = int(sys.argv[sys.argv.index("--fail") + 1])
seen = 0


class Handler(BaseHTTPRequestHandler):
    def handle_any(self):
        global seen
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        with open(record, "a") as out:
            out.write(json.dumps({"method": self.command, "path": self.path, "body": body,
                                  "headers": {k.lower(): v for k, v in self.headers.items()}}) + "\n")
        seen += 1
        failing = always or seen <= failures
        answer = b'{"success": false, "errors": [{"message": "try later"}]}' if failing else b'{"success": true}'
        self.send_response(500 if failing else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST = do_PURGE = do_BAN = handle_any

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"port {server.server_address[1]}", flush=True)
server.serve_forever()
