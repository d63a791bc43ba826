"""What a person sees while kafkalab waits: live tables in JupyterLab, one plain line per change elsewhere.

Where output goes decides the form. A kernel that a Jupyter server (JupyterLab, Jupyter Notebook) started
for an open notebook has `JPY_SESSION_NAME` in its environment and a frontend that renders widgets, so it
gets a table updated in place. papermill, nbval and plain Python have no such frontend: a widget would be
stored as a placeholder, so they get lines (also readable in an executed notebook or a CI log). Other
frontends fall back to lines too. `KAFKALAB_DISPLAY=plain` or `=widget` overrides the guess.
"""

from __future__ import annotations

import html
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable

from kafkalab import kube

__all__ = [
    "progress",
    "watch_pods",
    "show_conditions",
    "use_widgets",
    "summarize",
    "pod_state",
    "kubectl",
    "pods_run_containers",
]


def use_widgets() -> bool:
    """True when output goes to a live notebook frontend that renders ipywidgets."""
    forced = os.environ.get("KAFKALAB_DISPLAY", "").strip().lower()
    if forced in ("plain", "widget"):
        return forced == "widget"
    # Jupyter servers set JPY_SESSION_NAME for a notebook's kernel; papermill and nbval do not.
    if not os.environ.get("JPY_SESSION_NAME"):
        return False
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


# Condition types that are good news when True: their messages ("Deployment has minimum availability.")
# only add noise to a progress line. Any other condition's message (NotReady, Warning, X=False) is shown.
_POSITIVE = {"Ready", "Available", "Progressing", "Established", "NamesAccepted", "Initialized"}


def summarize(obj: dict) -> tuple[str, str]:
    """(state, message) of a Kubernetes object from its status, e.g. ("NotReady (Creating)", "").

    A Pod (waits pass the pods they watch too) reads as `kubectl get pods` shows it, with the kubelet's
    message: ("0/1 ErrImagePull", "rpc error: ... not found").
    """
    if obj.get("kind") == "Pod":
        return kube.pod_status(obj)
    status = obj.get("status") or {}
    parts, message = [], ""
    for cond in status.get("conditions") or []:
        text = cond.get("type", "?")
        if cond.get("status") != "True":
            text += f"={cond.get('status')}"
        if cond.get("reason"):
            text += f" ({cond['reason']})"
        parts.append(text)
        happy = cond.get("type") in _POSITIVE and cond.get("status") == "True"
        if not message and not happy and cond.get("message"):
            message = cond["message"]
    if "replicas" in status or "readyReplicas" in status:
        parts.append(f"{status.get('readyReplicas', 0)}/{status.get('replicas', 0)} ready")
    return (", ".join(parts) or "no status yet"), message


def _ref(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    where = f"{meta['namespace']}/" if meta.get("namespace") else ""
    return f"{obj.get('kind', '?')} {where}{meta.get('name', '?')}"


class _Lines:
    """Prints one line when something changed; never the same line twice in a row."""

    def __init__(self) -> None:
        self.last: dict[str, str] = {}

    def show(self, key: str, line: str, elapsed: float) -> None:
        if self.last.get(key) != line:
            self.last[key] = line
            print(f"[{elapsed:4.0f}s] {line}", file=sys.stdout, flush=True)


class _Table:
    """An ipywidgets HTML table shown once and then redrawn in place."""

    def __init__(self, columns: list[str], title: str = "") -> None:
        import ipywidgets
        from IPython.display import display

        self.columns, self.title, self.rows = columns, title, {}
        self.widget = ipywidgets.HTML()
        display(self.widget)

    def set(self, key: str, row: list[str], footer: str = "") -> None:
        self.rows[key] = row
        self.redraw(footer)

    def drop(self, key: str) -> None:
        self.rows.pop(key, None)

    def redraw(self, footer: str = "") -> None:
        esc = html.escape
        head = "".join(f"<th style='text-align:left'>{esc(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td style='text-align:left'>{esc(str(v))}</td>" for v in row) + "</tr>"
            for row in self.rows.values()
        )
        title = f"<b>{esc(self.title)}</b>" if self.title else ""
        self.widget.value = f"{title}<table><tr>{head}</tr>{body}</table><small>{esc(footer)}</small>"


class Progress:
    """Callback for `kube.wait_for(progress=...)`: called with the object each time it changes (or None)."""

    def __init__(self, what: str = "", widgets: bool | None = None) -> None:
        self.what = what
        self.start = time.monotonic()
        self.widgets = use_widgets() if widgets is None else widgets
        self._table: _Table | None = None
        self._lines = _Lines()

    def __call__(self, obj: dict | None) -> None:
        elapsed = time.monotonic() - self.start
        if obj is None:
            ref, state, message = self.what or "object", "not created yet", ""
        else:
            ref = _ref(obj)
            state, message = summarize(obj)
        if not self.widgets:
            line = f"{ref}: {state}" + (f" — {_short(message)}" if message else "")
            self._lines.show(ref, line, elapsed)
            return
        if self._table is None:
            self._table = _Table(["object", "state", "message"])
        self._table.set(ref, [ref, state, _short(message, 160)], footer=f"{elapsed:.0f}s")


def progress(what: str = "", widgets: bool | None = None) -> Progress:
    """A progress callback for kafkalab waits (`what` names the object while it does not exist yet)."""
    return Progress(what, widgets)


def pod_state(pod: dict) -> tuple[str, str, int]:
    """(ready "1/1", status like kubectl's STATUS column, restarts) for a pod dict."""
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready"))
    total = len(spec.get("containers") or statuses)
    restarts = sum(int(c.get("restartCount") or 0) for c in statuses)
    state = status.get("reason") or status.get("phase") or "Pending"
    for c in status.get("initContainerStatuses") or []:
        waiting = (c.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") and waiting["reason"] != "PodInitializing":
            state = f"Init:{waiting['reason']}"
    for c in statuses:
        st = c.get("state") or {}
        reason = (st.get("waiting") or {}).get("reason") or (st.get("terminated") or {}).get("reason")
        if reason:
            state = reason
    if meta.get("deletionTimestamp"):
        state = "Terminating"
    return f"{ready}/{total}", state, restarts


def watch_pods(
    namespace: str,
    label_selector: str | None = None,
    until: Callable[[list[dict]], bool] | None = None,
    timeout: float = 300,
    context: str | None = None,
    widgets: bool | None = None,
) -> list[dict]:
    """Show pods of `namespace` live, like `kubectl get pods -w`, until `until(pods)` is true or `timeout`.

    Watch-based: the API server pushes each change. Returns the pods (dicts, as `kubectl get -o json` shows
    them) at the end. Reaching the timeout is not an error here; the wait that follows reports problems.
    """
    from kubernetes import client, watch
    from kubernetes.client.rest import ApiException

    api_client = kube.api(context)
    core = client.CoreV1Api(api_client)
    widgets = use_widgets() if widgets is None else widgets
    start = time.monotonic()
    deadline = start + timeout
    title = f"pods in {namespace}" + (f" ({label_selector})" if label_selector else "")
    table = _Table(["NAME", "READY", "STATUS", "RESTARTS"], title) if widgets else None
    lines = _Lines()
    pods: dict[str, dict] = {}

    def show(name: str, pod: dict | None) -> None:
        elapsed = time.monotonic() - start
        if pod is None:
            if table:
                table.drop(name)
                table.redraw(f"{elapsed:.0f}s")
            else:
                lines.show(name, f"{name}  deleted", elapsed)
            return
        ready, state, restarts = pod_state(pod)
        if table:
            table.set(name, [name, ready, state, restarts], footer=f"{elapsed:.0f}s")
        else:
            lines.show(name, f"{name}  {ready}  {state}  restarts={restarts}", elapsed)

    def done() -> bool:
        return until is not None and bool(until(list(pods.values())))

    version = None
    while True:
        if version is None:  # (re)list: the first time, and when the server says our version is too old
            listing = core.list_namespaced_pod(namespace, label_selector=label_selector, _request_timeout=30)
            version = listing.metadata.resource_version
            fresh = {p.metadata.name: api_client.sanitize_for_serialization(p) for p in listing.items}
            for name in set(pods) - set(fresh):
                show(name, None)
            pods = fresh
            for name, pod in sorted(pods.items()):
                show(name, pod)
        if done() or time.monotonic() >= deadline:
            break
        w = watch.Watch()
        try:
            for event in w.stream(
                core.list_namespaced_pod,
                namespace,
                label_selector=label_selector,
                resource_version=version,
                allow_watch_bookmarks=True,
                timeout_seconds=max(1, int(deadline - time.monotonic())),
                _request_timeout=timeout + 30,
            ):
                pod = event["raw_object"]
                version = (pod.get("metadata") or {}).get("resourceVersion") or version
                if event["type"] == "BOOKMARK":
                    continue
                name = pod["metadata"]["name"]
                if event["type"] == "DELETED":
                    pods.pop(name, None)
                    show(name, None)
                else:
                    pods[name] = pod
                    show(name, pod)
                if done():
                    break
        except ApiException as e:
            if e.status != 410:  # 410 Gone: history compacted; list again
                raise
            version = None
        finally:
            w.stop()
        if done() or time.monotonic() >= deadline:
            break
    if not widgets and until is not None and not done():
        print(f"[{time.monotonic() - start:4.0f}s] stopped watching {title} after {timeout:.0f}s", flush=True)
    return list(pods.values())


def show_conditions(obj: dict | None, widgets: bool | None = None) -> None:
    """Show an object's status conditions as a small table (HTML in JupyterLab, text elsewhere)."""
    if obj is None:
        print("(object does not exist)")
        return
    rows = [
        [c.get("type", ""), c.get("status", ""), c.get("reason", ""), _short(c.get("message", ""), 100)]
        for c in (obj.get("status") or {}).get("conditions") or []
    ]
    cols = ["TYPE", "STATUS", "REASON", "MESSAGE"]
    if not rows:
        print(f"{_ref(obj)}: no conditions yet")
        return
    if use_widgets() if widgets is None else widgets:
        from IPython.display import HTML, display

        esc = html.escape
        head = "".join(f"<th style='text-align:left'>{c}</th>" for c in cols)
        body = "".join(
            "<tr>" + "".join(f"<td style='text-align:left'>{esc(v)}</td>" for v in r) + "</tr>" for r in rows
        )
        display(HTML(f"<b>{esc(_ref(obj))}</b><table><tr>{head}</tr>{body}</table>"))
        return
    widths = [max(len(str(r[i])) for r in [cols, *rows]) for i in range(len(cols))]
    print(_ref(obj))
    for r in [cols, *rows]:
        print("  " + "  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


def _short(text: str, limit: int = 100) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# kubectl verbs that need a container actually running (KWOK's pods exist only on paper).
_CONTAINER_VERBS = ("logs", "exec", "attach", "port-forward", "cp")


def pods_run_containers(context: str | None = None) -> bool:
    """False when every node is a KWOK node (the hermetic tier): its pods go Running on paper, run nothing."""
    nodes = kube.list_objects("v1", "Node", context=context)
    on_paper = ["kwok.x-k8s.io/node" in (n["metadata"].get("annotations") or {}) for n in nodes]
    return not nodes or not all(on_paper)


def kubectl(command: str, context: str | None = None, timeout: float = 30) -> None:
    """Run `kubectl <command>` as a learner would in a terminal; print its output and a failing exit code.

    `context` is passed as `--context` (None: kubectl's current context, as for kafkalab). The command is
    killed after `timeout` seconds. Prints one line instead, without running anything, when kubectl is not
    installed or when the command needs running containers (`logs`, `exec`, ...) and the cluster's pods
    have none (the hermetic test cluster). Returns nothing, so a notebook cell shows only kubectl's output.
    """
    argv = shlex.split(command)
    if shutil.which("kubectl") is None:
        print(
            f"skipped `kubectl {command}`: kubectl is not installed (https://kubernetes.io/docs/tasks/tools/)"
        )
        return
    if argv and argv[0] in _CONTAINER_VERBS and not pods_run_containers(context):
        print(f"skipped `kubectl {command}`: this cluster's pods run no containers (KWOK, the hermetic tier)")
        return
    if context:
        argv = ["--context", context, *argv]
    try:
        done = subprocess.run(
            ["kubectl", *argv], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        print(f"`kubectl {command}` did not finish within {timeout:g} s and was stopped")
        return
    print((done.stdout + done.stderr).rstrip("\n"))
    if done.returncode:
        print(f"(kubectl exited with code {done.returncode})")
