"""The cell supplier's declaration API of the example: paged JSON behind a bearer token.

    python examples/pipeline/supplier_api.py [--port 8765] [--token T] [--fail-first N]

GET /v1/declarations?updated_since=ISO&cursor=N&limit=N answers
{"items": [...], "next_cursor": "N" | null}; records are those of supplier/declarations.json
declared after `updated_since`, two per page by default. `--fail-first N` answers the first N
requests with 503 (to see the pipeline's retries). The tests start it on a free port.
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

HERE = Path(__file__).resolve().parent


def make_server(port: int, token: str, fail_first: int = 0, data: Path | None = None):
    declarations = json.loads((data or HERE / "supplier/declarations.json").read_text())[
        "declarations"
    ]
    failures = [fail_first]
    lock = threading.Lock()
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            return

        def _send(self, status: int, body: dict) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            url = urlsplit(self.path)
            seen.append(self.path)
            with lock:
                if failures[0] > 0:
                    failures[0] -= 1
                    self._send(503, {"error": "temporarily unavailable"})
                    return
            if url.path != "/v1/declarations":
                self._send(404, {"error": "not found"})
                return
            if self.headers.get("Authorization") != f"Bearer {token}":
                self._send(401, {"error": "bearer token required"})
                return
            query = parse_qs(url.query)
            since = query.get("updated_since", [""])[0]
            start = int(query.get("cursor", ["0"])[0])
            limit = int(query.get("limit", ["2"])[0])
            selected = [d for d in declarations if d["declared_at"] > since]
            page = selected[start : start + limit]
            following = start + limit if start + limit < len(selected) else None
            self._send(
                200,
                {"items": page, "next_cursor": str(following) if following is not None else None},
            )

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.requests = seen  # type: ignore[attr-defined]
    return server


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--token", default="example-supplier-token")
    parser.add_argument("--fail-first", type=int, default=0)
    args = parser.parse_args()
    server = make_server(args.port, args.token, args.fail_first)
    print(f"supplier API on http://127.0.0.1:{args.port}/v1/declarations", flush=True)
    server.serve_forever()
