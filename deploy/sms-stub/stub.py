"""A stand-in for an SMS and voice provider and a push provider, for the local stack only.

POST /messages takes what the notification service's `http` transport sends (JSON with
idempotency_key, channel, destination and text or speech); POST /pushes takes what its `http`
push transport sends (FCM's HTTP v1 shape, {"message": {"token": ..., "data": {...}}}, keyed
by the Idempotency-Key header). Both answer 200 and keep one entry per key, so a repeated key
is the same message. GET /messages (optionally ?destination=+86...) and GET /pushes
(optionally ?token=...) list what was received, newest last. Everything lives in memory.
"""

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

MESSAGES = {}  # idempotency key -> message
PUSHES = {}  # idempotency key -> push


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        path = urlparse(self.path).path
        try:
            body = json.loads(self.rfile.read(length))
            if path == "/messages":
                MESSAGES.setdefault(body["idempotency_key"], body)
            elif path == "/pushes":
                key = self.headers["Idempotency-Key"]
                if not key or not body["message"]["token"]:
                    raise KeyError("token")
                PUSHES.setdefault(key, body)
            else:
                self.send_error(404)
                return
        except (ValueError, KeyError, TypeError):
            self.send_error(400, "expected the JSON the notification service sends")
            return
        self.send_response(200)
        self.end_headers()

    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        if url.path == "/messages":
            destination = query.get("destination", [None])[0]
            listed = [m for m in MESSAGES.values() if destination in (None, m.get("destination"))]
        elif url.path == "/pushes":
            token = query.get("token", [None])[0]
            listed = [p for p in PUSHES.values() if token in (None, p["message"].get("token"))]
        else:
            self.send_error(404)
            return
        body = json.dumps(listed, ensure_ascii=False, indent=2).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)


ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
