"""Pod mode: the Cluster Operator's health endpoints on :8080 (/healthy, /ready), which the probes of
Strimzi's operator Deployment call."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["serve_health"]


def serve_health(port: int) -> ThreadingHTTPServer:
    """Serve /healthy (always 200 while the process lives) and /ready (200 once `.ready` is set)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            ok = self.path == "/healthy" or (self.path == "/ready" and server.ready)
            self.send_response(200 if ok else 503)
            self.end_headers()
            self.wfile.write(b"ok\n" if ok else b"not ready\n")

        def log_message(self, *args) -> None:
            pass  # a probe every 30 s is not news

    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    server.ready = False
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
