"""What the handout browser tests share: a static site served on 127.0.0.1, and Debian's Chromium (driven by
Playwright, never downloaded) in which every request off 127.0.0.1 is blocked and recorded."""

from __future__ import annotations

import functools
import http.server
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, sync_playwright

from kafkalab import handout

CHROMIUM = os.environ.get("KAFKALAB_CHROMIUM", "/usr/bin/chromium")


def serve(directory: Path) -> tuple[str, http.server.ThreadingHTTPServer]:
    """Serve directory on 127.0.0.1 (a free port); (base URL, server to shut down)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/", server


@contextmanager
def chromium(profile: Path) -> Iterator[BrowserContext]:
    """A headless Chromium context with a fresh profile; requests off 127.0.0.1 are aborted and listed in
    `context.blocked`."""
    blocked: list[str] = []
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=[a for a in handout.CHROMIUM_ARGS if a != "--headless"],
            viewport={"width": 1200, "height": 900},
        )

        def route(r):
            if urlsplit(r.request.url).hostname == "127.0.0.1":
                r.continue_()
            else:
                blocked.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        context.blocked = blocked
        try:
            yield context
        finally:
            context.close()
