"""A rate-limited mock of the demo API, standard library only.

Lets the demo's end-to-end tests run on any machine, and shows why pacer
paces calls: it admits `--rate` requests per second (with a burst of
`--burst`) across all clients and answers the rest with 429 and a
Retry-After header, as a real API would. Point the tests at it directly to
see them fail with 429s, or through pacer's proxy to see them pass:

    python mock_api.py --port 8765 --rate 20
    PACER_UPSTREAM_DEMO=http://127.0.0.1:8765 pacer

Endpoints: GET /health, GET /resources?limit=&offset=, GET /resources/<id>,
POST /activities, GET /activities/<id>, GET /stats.
"""

import argparse
import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

RESOURCES = [
    {"id": f"tech_{i:02d}", "name": f"Technician {i}", "status": "active" if i % 4 else "inactive", "language": "en"}
    for i in range(1, 26)
]


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up; thread-safe."""

    def __init__(self, rate, burst):
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = float(burst), time.monotonic()
        self.lock = threading.Lock()

    def take(self):
        """(True, 0) if admitted, else (False, seconds until a token is due)."""
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True, 0.0
            return False, (1 - self.tokens) / self.rate


class State:
    def __init__(self, rate, burst, latency):
        self.bucket = TokenBucket(rate, burst) if rate > 0 else None
        self.latency = latency
        self.activities = {}
        self.ids = itertools.count(1)
        self.lock = threading.Lock()
        self.stats = {"requests": 0, "admitted": 0, "rejected_429": 0}


def make_handler(state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet: tests print what matters
            pass

        def _send(self, status, payload, headers=()):
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _admit(self):
            with state.lock:
                state.stats["requests"] += 1
            if self.path == "/stats":
                return True
            if state.bucket is not None:
                ok, wait = state.bucket.take()
                if not ok:
                    with state.lock:
                        state.stats["rejected_429"] += 1
                    self._send(429, {"error": "rate limit exceeded"}, [("Retry-After", f"{wait:.3f}")])
                    return False
            with state.lock:
                state.stats["admitted"] += 1
            time.sleep(state.latency)
            return True

        def do_GET(self):
            if not self._admit():
                return
            url = urlparse(self.path)
            parts = [p for p in url.path.split("/") if p]
            if parts == ["health"]:
                return self._send(200, {"status": "ok"})
            if parts == ["stats"]:
                with state.lock:
                    return self._send(200, dict(state.stats))
            if parts == ["resources"]:
                query = parse_qs(url.query)
                limit = int(query.get("limit", ["10"])[0])
                offset = int(query.get("offset", ["0"])[0])
                return self._send(200, {"items": RESOURCES[offset : offset + limit], "total": len(RESOURCES)})
            if len(parts) == 2 and parts[0] == "resources":
                for resource in RESOURCES:
                    if resource["id"] == parts[1]:
                        return self._send(200, resource)
                return self._send(404, {"error": f"no resource {parts[1]}"})
            if len(parts) == 2 and parts[0] == "activities" and parts[1].isdigit():
                with state.lock:
                    activity = state.activities.get(int(parts[1]))
                if activity is None:
                    return self._send(404, {"error": f"no activity {parts[1]}"})
                return self._send(200, activity)
            return self._send(404, {"error": f"no route {url.path}"})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if not self._admit():
                return
            if urlparse(self.path).path != "/activities":
                return self._send(404, {"error": "no route"})
            try:
                activity = json.loads(raw)
                if activity["resource_id"] not in {r["id"] for r in RESOURCES}:
                    return self._send(422, {"error": f"unknown resource {activity['resource_id']}"})
            except (ValueError, KeyError, TypeError):
                return self._send(400, {"error": "malformed activity"})
            with state.lock:
                activity["id"] = next(state.ids)
                state.activities[activity["id"]] = activity
            return self._send(201, activity)

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second; 0 = unlimited")
    parser.add_argument("--burst", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to each admitted request")
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), make_handler(State(args.rate, args.burst, args.latency)))
    print(f"demo API on http://{args.host}:{server.server_address[1]} (rate {args.rate}/s, burst {args.burst})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
