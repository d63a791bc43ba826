"""JupyterLab started as `make lab` starts it, on 127.0.0.1 in a scratch directory, and headless Chromium
(Debian's `chromium`, driven by Playwright; never Playwright's own browser downloads) that refuses any
request leaving the machine and records it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

from kafkalab import lab

CHROMIUM = os.environ.get("KAFKALAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN = "kafkalab-browser-test"


def missing() -> str | None:
    """Why the browser tests cannot run here (None when they can)."""
    if not Path(CHROMIUM).is_file():
        return f"{CHROMIUM} not found: apt-get install -y chromium (tests/run-all.sh does it as root)"
    try:
        import jupyterlab  # noqa: F401
        import playwright.sync_api  # noqa: F401
    except ImportError as e:
        return f"{e.name} not installed: .venv/bin/pip install -e '.[browser]'"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, root: Path, scratch: Path, environ: dict):
        self.root, self.port = root, _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env, args, self.says = lab.plan(environ)
        lab.configure()
        # Our own config, runtime and settings dirs: the person's ~/.jupyter plays no part in the test.
        for name in ("config", "data", "runtime", "settings", "workspaces"):
            (scratch / name).mkdir(parents=True, exist_ok=True)
        env |= {
            "JUPYTER_CONFIG_DIR": str(scratch / "config"),
            "JUPYTER_RUNTIME_DIR": str(scratch / "runtime"),
        }
        args = [a for a in args if not a.startswith("--ServerApp.root_dir=")]
        args += [
            f"--ServerApp.root_dir={root}",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={TOKEN}",
            "--ServerApp.open_browser=False",
            "--LabApp.expose_app_in_browser=True",
            f"--LabApp.user_settings_dir={scratch / 'settings'}",
            f"--LabApp.workspaces_dir={scratch / 'workspaces'}",
        ]
        self.log = scratch / "jupyterlab.log"
        jupyter = Path(sys.executable).with_name("jupyter")
        self.proc = subprocess.Popen(
            [str(jupyter), "lab", *args], env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT
        )

    def api(self, path: str, method: str = "GET", body: dict | None = None) -> dict:
        req = urllib.request.Request(
            f"{self.url}/api/{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"{}")

    def wait_up(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited ({self.proc.returncode}):\n{self._tail()}")
            try:
                self.api("status")
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"jupyter lab not up after {timeout}s:\n{self._tail()}") from None
                time.sleep(0.3)  # polling a port that is not open yet: nothing to wait on instead

    def _tail(self) -> str:
        return self.log.read_text()[-3000:]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@contextmanager
def jupyterlab(root: Path, scratch: Path, environ: dict | None = None):
    server = Server(root, scratch, dict(os.environ if environ is None else environ))
    try:
        server.wait_up()
        yield server
    finally:
        server.stop()


class Browser:
    """One page in a fresh Chromium profile; what leaves the machine is refused and listed in .outside."""

    def __init__(self, pw, profile: Path):
        self.context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        # Bounded, but generous: a page of JupyterLab on a busy 2-core machine can take a minute to load.
        self.context.set_default_timeout(180_000)
        self.outside: list[str] = []
        self.console_errors: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.pages[0] if self.context.pages else self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.console_errors.append(f"pageerror: {e}"))

    def _route(self, route):
        host = urlparse(route.request.url).hostname
        if host in ("127.0.0.1", "localhost") or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def _console(self, msg):
        if msg.type == "error":
            self.console_errors.append(msg.text)

    def close(self):
        self.context.close()


@contextmanager
def chromium(profile: Path):
    from playwright.sync_api import sync_playwright

    shutil.rmtree(profile, ignore_errors=True)
    with sync_playwright() as pw:
        browser = Browser(pw, profile)
        try:
            yield browser
        finally:
            browser.close()
