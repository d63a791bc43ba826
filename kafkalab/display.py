"""What a person sees while kafkalab waits: a live table in JupyterLab, one plain line per change elsewhere.

In a notebook a person has open, each wait shows one table, displayed once and then redrawn in place
through its display id. The table is ordinary output (text/html with a text/plain copy), so its last state
stays in the saved notebook: it survives a kernel restart, reopening the notebook the next day, and static
renderers (nbconvert, handout sites). A widget would not: a saved notebook keeps only a reference to a
widget model that died with the kernel ("Error displaying widget: model not found").

Where output goes decides the form. A kernel that a Jupyter server (JupyterLab, Jupyter Notebook) started
for an open notebook has `JPY_SESSION_NAME` in its environment: it gets live tables. papermill, nbval and
plain Python do not: they get one line per change (readable in an executed notebook and a CI log).
`KAFKALAB_DISPLAY=plain` or `=live` overrides the guess.
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
    "is_live",
    "summarize",
    "pod_state",
    "kubectl",
    "pods_run_containers",
]


def is_live() -> bool:
    """True when output goes to a notebook a person has open (tables redrawn in place), not to a log."""
    forced = os.environ.get("KAFKALAB_DISPLAY", "").strip().lower()
    if forced in ("plain", "live"):
        return forced == "live"
    # Jupyter servers set JPY_SESSION_NAME for a notebook's kernel; papermill and nbval do not.
    if not os.environ.get("JPY_SESSION_NAME"):
        return False
    return _kernel() is not None


def _kernel():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return shell if shell is not None and getattr(shell, "kernel", None) is not None else None


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
    parts += [_replicas(obj)] if _replicas(obj) else []
    return (", ".join(parts) or "no status yet"), message


def _replicas(obj: dict) -> str:
    status = obj.get("status") or {}
    if "replicas" in status or "readyReplicas" in status:
        return f"{status.get('readyReplicas', 0)}/{status.get('replicas', 0)} ready"
    return ""


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


# ----------------------------------------------------------------------------------------------------
# Tables: one rendering for live and static output


_CELL = "text-align:left;vertical-align:top;padding:3px 14px 3px 0;white-space:pre-wrap"


def render(
    title: str, columns: list[str], rows: list[list], note: str = "", empty: str = "", widths=None
) -> dict:
    """A table as a display bundle: text/html for notebooks, text/plain (aligned like kubectl) for the rest.

    `widths` (characters per column) only ever grow in a live table, so columns do not jump as rows change.
    """
    cells = [[str(v) for v in row] for row in rows]
    widths = list(widths or [0] * len(columns))
    for row in [columns, *cells]:
        widths = [max(w, len(v)) for w, v in zip(widths, row, strict=True)]
    esc = html.escape
    head = "".join(
        f"<th style='{_CELL};min-width:{w}ch;border-bottom:1px solid #bbb'>{esc(c)}</th>"
        for c, w in zip(columns, widths, strict=True)
    )
    body = "".join("<tr>" + "".join(f"<td style='{_CELL}'>{esc(v)}</td>" for v in r) + "</tr>" for r in cells)
    if not cells and empty:
        body = f"<tr><td style='{_CELL};font-style:italic' colspan='{len(columns)}'>{esc(empty)}</td></tr>"
    html_out = (
        f"<div class='kafkalab-table'><div style='font-weight:bold;margin-bottom:2px'>{esc(title)}</div>"
        f"<table style='border-collapse:collapse;margin:0;font-variant-numeric:tabular-nums'>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        + (f"<div style='font-size:smaller;margin-top:3px'>{esc(note)}</div>" if note else "")
        + "</div>"
    )
    lines = [title]
    for row in [columns, *cells]:
        lines.append("  " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    if not cells and empty:
        lines.append(f"  ({empty})")
    if note:
        lines.append(note)
    return {"text/html": html_out, "text/plain": "\n".join(lines)}


class _LiveTable:
    """A table displayed once, then redrawn in place through its display id (never a second output)."""

    def __init__(self, title: str, columns: list[str], empty: str = "") -> None:
        self.title, self.columns, self.empty = title, columns, empty
        self.rows: dict[str, list] = {}
        self.widths = [len(c) for c in columns]
        self.handle = None

    def draw(self, note: str = "", rows: list[list] | None = None) -> None:
        rows = [self.rows[k] for k in sorted(self.rows)] if rows is None else rows
        for row in rows:
            self.widths = [max(w, len(str(v))) for w, v in zip(self.widths, row, strict=True)]
        self.show(render(self.title, self.columns, rows, note, self.empty, self.widths))

    def show(self, bundle: dict) -> None:
        from IPython.display import display

        if self.handle is None:
            self.handle = display(bundle, raw=True, display_id=True)
        else:
            self.handle.update(bundle, raw=True)


def _elapsed(seconds: float) -> str:
    return f"elapsed: {seconds:.0f} s"


# ----------------------------------------------------------------------------------------------------
# Waits on one object: kube.wait_for(progress=...)

_CONDITION_COLUMNS = ["TYPE", "STATUS", "REASON", "MESSAGE"]


def _condition_rows(obj: dict | None, limit: int = 120) -> list[list[str]]:
    conditions = ((obj or {}).get("status") or {}).get("conditions") or []
    return [
        [c.get("type", ""), c.get("status", ""), c.get("reason", ""), _short(c.get("message", ""), limit)]
        for c in conditions
    ]


# The last live wait of the running cell: show_conditions() of the same object right after it redraws that
# table instead of adding a near-copy below it (one table per wait).
_last_wait: tuple[object, str, Progress] | None = None


def _cell_id():
    """Which cell is running: the kernel's execution count (None outside a kernel)."""
    shell = _kernel()
    return None if shell is None else shell.execution_count


class Progress:
    """Callback for `kube.wait_for(progress=...)`: called with the object each time it changes (or None).

    Live, it shows the object's conditions as one table, redrawn on each change with the elapsed time;
    kube calls `finished(obj)` when the wait succeeds. An object that was already done when the wait began
    gets one line instead of a table (an operator that was already there is no news).
    """

    def __init__(self, what: str = "", live: bool | None = None) -> None:
        self.what = what
        self.start = time.monotonic()
        self.live = is_live() if live is None else live
        self.changes = 0
        self.last: dict | None = None
        self._table: _LiveTable | None = None
        self._lines = _Lines()

    def __call__(self, obj: dict | None) -> None:
        elapsed = time.monotonic() - self.start
        self.changes += 1
        self.last = obj
        ref = _ref(obj) if obj is not None else (self.what or "object")
        if not self.live:
            if obj is None:
                state, message = "not created yet", ""
            else:
                state, message = summarize(obj)
            line = f"{ref}: {state}" + (f" — {_short(message)}" if message else "")
            self._lines.show(ref, line, elapsed)
            return
        self._draw(obj, f"{_elapsed(elapsed)} (at the last change)")

    def _draw(self, obj: dict | None, note: str) -> None:
        global _last_wait
        ref = _ref(obj) if obj is not None else (self.what or "object")
        title = ref + (f" · {_replicas(obj)}" if obj is not None and _replicas(obj) else "")
        empty = "not created yet" if obj is None else "no conditions yet"
        if self._table is None:
            self._table = _LiveTable(title, _CONDITION_COLUMNS, empty)
        self._table.title, self._table.empty = title, empty
        self._table.draw(note, _condition_rows(obj))
        _last_wait = (_cell_id(), ref, self)

    def finished(self, obj: dict | None) -> None:
        """The wait is over and succeeded with `obj` (kube calls this after the last progress call)."""
        if not self.live or self._table is None:
            return
        elapsed = time.monotonic() - self.start
        if self.changes == 1 and obj is not None:
            state = summarize(obj)[0]
            line = f"{_ref(obj)}: already there — {state}"
            self._table.show({"text/html": f"<div>{html.escape(line)}</div>", "text/plain": line})
            return
        self._draw(obj, f"{_elapsed(elapsed)} — done")


def progress(what: str = "", live: bool | None = None) -> Progress:
    """A progress callback for kafkalab waits (`what` names the object while it does not exist yet)."""
    return Progress(what, live)


# ----------------------------------------------------------------------------------------------------
# Pods


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
    live: bool | None = None,
) -> list[dict]:
    """Show pods of `namespace` live, like `kubectl get pods -w`, until `until(pods)` is true or `timeout`.

    Watch-based: the API server pushes each change. Returns the pods (dicts, as `kubectl get -o json` shows
    them) at the end. Reaching the timeout is not an error here; the wait that follows reports problems.
    """
    from kubernetes import client, watch
    from kubernetes.client.rest import ApiException

    api_client = kube.api(context)
    core = client.CoreV1Api(api_client)
    live = is_live() if live is None else live
    start = time.monotonic()
    deadline = start + timeout
    title = f"pods in {namespace}" + (f" ({label_selector})" if label_selector else "")
    table = _LiveTable(title, ["NAME", "READY", "STATUS", "RESTARTS"], "no pods yet") if live else None
    lines = _Lines()
    pods: dict[str, dict] = {}

    def show(name: str, pod: dict | None) -> None:
        elapsed = time.monotonic() - start
        if pod is None:
            if table:
                table.rows.pop(name, None)
            else:
                lines.show(name, f"{name}  deleted", elapsed)
        elif table:
            table.rows[name] = [name, *pod_state(pod)]
        else:
            ready, state, restarts = pod_state(pod)
            lines.show(name, f"{name}  {ready}  {state}  restarts={restarts}", elapsed)
        if table:
            table.draw(f"{_elapsed(elapsed)} (at the last change) — watching")

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
            if table and not pods:
                table.draw(f"{_elapsed(time.monotonic() - start)} — watching")
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
    elapsed = time.monotonic() - start
    stopped = until is not None and not done()
    if table:
        end = f"stopped watching after {timeout:.0f} s" if stopped else "done"
        table.draw(f"{_elapsed(elapsed)} — {end}")
    elif stopped:
        print(f"[{elapsed:4.0f}s] stopped watching {title} after {timeout:.0f}s", flush=True)
    return list(pods.values())


# ----------------------------------------------------------------------------------------------------
# Conditions


def show_conditions(obj: dict | None, live: bool | None = None) -> None:
    """Show an object's status conditions as a small table (HTML in JupyterLab, text elsewhere).

    Right after a live wait on the same object in the same cell, the wait's table is redrawn with them
    instead: one table per wait, not a near-copy below it.
    """
    if obj is None:
        print("(object does not exist)")
        return
    rows = _condition_rows(obj, 100)
    if not rows:
        print(f"{_ref(obj)}: no conditions yet")
        return
    if not (is_live() if live is None else live):
        print(render(_ref(obj), _CONDITION_COLUMNS, rows)["text/plain"])
        return
    if _last_wait is not None and _last_wait[:2] == (_cell_id(), _ref(obj)):
        wait = _last_wait[2]
        wait._draw(obj, f"{_elapsed(time.monotonic() - wait.start)} — done")
        return
    from IPython.display import display

    display(render(_ref(obj), _CONDITION_COLUMNS, rows), raw=True)


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
