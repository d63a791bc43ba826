"""Run the notebook suite with papermill, in order, the way a team re-runs it against its own cluster.

Each notebook runs in a fresh kernel with its working directory set to `notebooks/`, gets the same
parameters injected, and is written executed to the output directory next to `summary.md` and
`summary.json`. The suite stops at the first failure: later notebooks build on earlier ones, so running them
would only add confusing second-order errors; they are marked skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kafkalab.errors import NotFound

__all__ = ["NotebookResult", "Summary", "run_suite", "find_notebooks", "notebooks_dir"]


@dataclass
class NotebookResult:
    """How one notebook went: status is "passed", "failed" or "skipped"."""

    notebook: str
    status: str
    seconds: float = 0.0
    error: str = ""


@dataclass
class Summary:
    """The results of a suite run, in the order the notebooks ran."""

    output_dir: str
    parameters: dict
    results: list[NotebookResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.status == "passed" for r in self.results)

    @property
    def failed(self) -> NotebookResult | None:
        return next((r for r in self.results if r.status == "failed"), None)

    def markdown(self) -> str:
        verdict = "passed" if self.ok else "FAILED"
        lines = [
            f"# kafkalab notebook suite: {verdict}",
            "",
            "| notebook | status | seconds | error |",
            "|---|---|---:|---|",
        ]
        for r in self.results:
            error = r.error.replace("|", "\\|")
            lines.append(f"| {r.notebook} | {r.status} | {r.seconds:.0f} | {error} |")
        params = [f"{k} = {v!r}" for k, v in self.parameters.items()]
        lines += ["", "Parameters:", "", "```", *params, "```", ""]
        return "\n".join(lines)

    def __str__(self) -> str:
        width = max((len(r.notebook) for r in self.results), default=8)
        rows = [f"{r.notebook:<{width}}  {r.status:<7}  {r.seconds:5.0f}s  {r.error}" for r in self.results]
        return "\n".join(row.rstrip() for row in rows)


def notebooks_dir() -> Path:
    """The `notebooks/` directory: under the current directory if there is one, else beside the package."""
    for candidate in (Path.cwd() / "notebooks", Path(__file__).resolve().parent.parent / "notebooks"):
        if candidate.is_dir():
            return candidate
    raise NotFound(
        "cannot find the kafkalab notebooks directory",
        obj="notebooks/",
        fix="run from the kafkalab checkout (where notebooks/ is), or pass notebook_dir=",
    )


def find_notebooks(directory: Path, names: Sequence[str] | None = None) -> list[Path]:
    """The suite's notebooks (`NN-*.ipynb`, sorted), or those named: "05", "05-pubsub" or a file name."""
    every = sorted(directory.glob("[0-9][0-9]-*.ipynb"))
    if not names:
        return every
    picked = []
    for name in names:
        stem = Path(name).name.removesuffix(".ipynb")
        match = [p for p in every if p.stem == stem or p.stem.split("-", 1)[0] == stem]
        if not match:
            raise NotFound(
                f"no notebook matches {name!r}",
                obj=str(directory),
                fix="use a number like 05 or a file name from: " + ", ".join(p.name for p in every),
            )
        picked += [p for p in match if p not in picked]
    return picked


def run_suite(
    output_dir: str | os.PathLike,
    parameters: dict,
    notebooks: Sequence[str] | None = None,
    kernel_name: str = "python3",
    cell_timeout: int = 1800,
    notebook_dir: str | os.PathLike | None = None,
    on_result: Callable[[NotebookResult], None] | None = None,
    on_start: Callable[[str], None] | None = None,
) -> Summary:
    """Execute the notebooks in order with papermill; write them and summary.md/json to `output_dir`.

    `on_start(name)` / `on_result(result)` let a caller (the CLI) report as it goes; this function prints
    nothing itself. Returns the Summary (check `.ok`); it does not raise for a failing notebook.
    """
    import papermill

    directory = Path(notebook_dir) if notebook_dir else notebooks_dir()
    paths = find_notebooks(directory, notebooks)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = Summary(str(out), dict(parameters))
    failed = False
    for path in paths:
        if failed:
            summary.results.append(NotebookResult(path.name, "skipped"))
            continue
        if on_start:
            on_start(path.name)
        start = time.monotonic()
        error = ""
        try:
            with _plain_display():
                papermill.execute_notebook(
                    str(path),
                    str(out / path.name),
                    parameters=dict(parameters),
                    kernel_name=kernel_name,
                    language="python",  # every kafkalab notebook is Python, whatever its metadata says
                    cwd=str(directory),
                    progress_bar=False,
                    execution_timeout=cell_timeout,
                    # the kernel's own start-up warnings (e.g. about TCP transport) would break up the
                    # caller's progress lines; errors still show, and cell output goes to the notebook
                    extra_arguments=["--IPKernelApp.log_level=ERROR"],
                )
        except Exception as e:  # noqa: BLE001 - any failure of a notebook is a result, not a crash of the suite
            error = _error_line(e)
            failed = True
        seconds = round(time.monotonic() - start, 1)
        result = NotebookResult(path.name, "failed" if error else "passed", seconds, error)
        summary.results.append(result)
        if on_result:
            on_result(result)
        _write_summary(summary, out)  # after every notebook, so a killed run still leaves a summary
    _write_summary(summary, out)
    return summary


def _error_line(e: Exception) -> str:
    """One line saying what went wrong: the exception raised in the notebook's cell, or papermill's own."""
    ename, evalue = getattr(e, "ename", None), getattr(e, "evalue", None)
    text = f"{ename}: {evalue}" if ename else f"{type(e).__name__}: {e}"
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(e).__name__)
    return first[:300]


def _write_summary(summary: Summary, out: Path) -> None:
    (out / "summary.md").write_text(summary.markdown())
    data = {
        "ok": summary.ok,
        "parameters": summary.parameters,
        "results": [asdict(r) for r in summary.results],
    }
    (out / "summary.json").write_text(json.dumps(data, indent=2, default=str) + "\n")


@contextlib.contextmanager
def _plain_display() -> Iterator[None]:
    """Kernels papermill starts inherit our environment; make kafkalab.display print lines there.

    Without this, a suite started from inside JupyterLab would pass JPY_SESSION_NAME on and the notebooks
    would emit widgets that no one can see.
    """
    saved = {k: os.environ.get(k) for k in ("KAFKALAB_DISPLAY", "JPY_SESSION_NAME")}
    os.environ["KAFKALAB_DISPLAY"] = "plain"
    os.environ.pop("JPY_SESSION_NAME", None)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
