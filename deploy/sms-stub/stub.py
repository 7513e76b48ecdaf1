"""A stand-in for an SMS and voice provider, for the local stack only.

Accepts what the notification service's `http` transport POSTs (JSON with idempotency_key,
channel, destination and text or speech), answers 200, and lists what it received, newest
last, at GET /messages (optionally ?destination=+86...). Messages live in memory.
"""

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

MESSAGES = {}  # idempotency key -> message: a repeated key is the same message


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        try:
            message = json.loads(self.rfile.read(length))
            MESSAGES.setdefault(message["idempotency_key"], message)
        except (ValueError, KeyError, TypeError):
            self.send_error(400, "expected the JSON the http transport sends")
            return
        self.send_response(200)
        self.end_headers()

    def do_GET(self):
        url = urlparse(self.path)
        if url.path != "/messages":
            self.send_error(404)
            return
        destination = parse_qs(url.query).get("destination", [None])[0]
        listed = [m for m in MESSAGES.values() if destination in (None, m.get("destination"))]
        body = json.dumps(listed, ensure_ascii=False, indent=2).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)


ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
