"""Run the notebook suite with papermill, in order, the way a team re-runs it against its own cluster.

Each notebook runs in a fresh kernel with its working directory set to `notebooks/`, gets the parameters
it declares (its `parameters` cell) out of those given, and is written executed to the output directory
next to `summary.md`, `summary.json` and `junit.xml` (one test case per notebook, for CI systems). The
checked cells (`# NBVAL_CHECK_OUTPUT`) are compared with their stored outputs as nbval would
(kafkalab.checked), so one execution gives both the executed notebooks and the verdict. The suite stops at
the first failure: later notebooks build on earlier ones, so running them would only add confusing
second-order errors; they are marked skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kafkalab import checked
from kafkalab.errors import NotFound

__all__ = ["NotebookResult", "Summary", "run_suite", "find_notebooks", "notebooks_dir", "declared_parameters"]

# An error is recorded whole, as the notebook shows it (diagnosis and fix lines included), up to this much.
MAX_ERROR_LINES = 60
MAX_ERROR_CHARS = 6000
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # control characters XML 1.0 cannot carry


@dataclass
class NotebookResult:
    """How one notebook went: status is "passed", "failed" or "skipped".

    `error` is the whole error as the notebook shows it (bounded); `details` adds the traceback for JUnit.
    """

    notebook: str
    status: str
    seconds: float = 0.0
    error: str = ""
    details: str = ""

    @property
    def headline(self) -> str:
        return next((line.strip() for line in self.error.splitlines() if line.strip()), "")


@dataclass
class Summary:
    """The results of a suite run, in the order the notebooks ran."""

    output_dir: str
    parameters: dict
    results: list[NotebookResult] = field(default_factory=list)
    tier: str = ""  # the cluster the suite ran on, and why (kafkalab run fills it in)
    unused: list[str] = field(default_factory=list)  # parameters no notebook that ran declares
    edition: str = "en"  # the notebooks' language: "en", or a translated edition ("ja")

    @property
    def ok(self) -> bool:
        return all(r.status == "passed" for r in self.results)

    @property
    def failed(self) -> NotebookResult | None:
        return next((r for r in self.results if r.status == "failed"), None)

    def markdown(self) -> str:
        verdict = "passed" if self.ok else "FAILED"
        lines = [f"# kafkalab notebook suite: {verdict}", ""]
        if self.tier:
            lines += [f"Cluster: {self.tier}", ""]
        if self.edition != "en":
            lines += [f"Edition: {self.edition} (notebooks/{self.edition})", ""]
        lines += ["| notebook | status | seconds | error |", "|---|---|---:|---|"]
        for r in self.results:
            error = r.headline.replace("|", "\\|")
            lines.append(f"| {r.notebook} | {r.status} | {r.seconds:.0f} | {error} |")
        for r in self.results:
            if r.error:
                lines += ["", f"## {r.notebook}", "", "```", r.error, "```"]
        params = [f"{k} = {v!r}" for k, v in self.parameters.items()]
        lines += ["", "Parameters:", "", "```", *params, "```", ""]
        if self.unused:
            lines += [f"Declared by no notebook that ran, so not passed: {', '.join(self.unused)}", ""]
        return "\n".join(lines)

    def junit(self) -> str:
        """JUnit XML: one test case per notebook; a failure carries the cell's error and its traceback."""
        suite = ET.Element(
            "testsuite",
            name="kafkalab notebooks",
            tests=str(len(self.results)),
            failures=str(sum(r.status == "failed" for r in self.results)),
            skipped=str(sum(r.status == "skipped" for r in self.results)),
            time=f"{sum(r.seconds for r in self.results):.1f}",
        )
        if self.tier:
            props = ET.SubElement(suite, "properties")
            ET.SubElement(props, "property", name="cluster", value=self.tier)
        for r in self.results:
            case = ET.SubElement(
                suite, "testcase", classname="kafkalab.notebooks", name=r.notebook, time=f"{r.seconds:.1f}"
            )
            if r.status == "failed":
                failure = ET.SubElement(case, "failure", message=_NOT_XML.sub("", r.headline[:500]))
                failure.text = _NOT_XML.sub("", r.error + ("\n\n" + r.details if r.details else ""))
            elif r.status == "skipped":
                ET.SubElement(case, "skipped", message="not run: an earlier notebook failed")
        ET.indent(suite)
        return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"

    def __str__(self) -> str:
        width = max((len(r.notebook) for r in self.results), default=8)
        rows = [
            f"{r.notebook:<{width}}  {r.status:<7}  {r.seconds:5.0f}s  {r.headline}" for r in self.results
        ]
        return "\n".join(row.rstrip() for row in rows)


def notebooks_dir(edition: str | None = None) -> Path:
    """The suite's notebooks: `notebooks/` under the current directory when it holds some (a checkout you
    work in), else those shipped in the installed package (kafkalab/notebooks), else the checkout's beside
    the package (an editable install).

    `edition` (e.g. "ja"): the translated edition in its subdirectory (`notebooks/ja`), found the same way;
    None or "en" is the English one."""
    here = Path(__file__).resolve().parent
    sub = "" if edition in (None, "", "en") else edition
    for candidate in (Path.cwd() / "notebooks", here / "notebooks", here.parent / "notebooks"):
        if any((candidate / sub).glob("[0-9][0-9]-*.ipynb")):
            return candidate / sub if sub else candidate
    if sub:
        raise NotFound(
            f"no {sub!r} edition of the notebooks",
            obj=str(here.parent / "notebooks" / sub),
            fix="the editions are ja (notebooks/ja); in a checkout, `kafkalab edition ja` generates it",
        )
    raise NotFound(
        "cannot find the kafkalab notebooks directory",
        obj=str(here / "notebooks"),
        fix="reinstall kafkalab (`pip install .` ships the notebooks), or pass notebook_dir=",
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


def declared_parameters(path: str | os.PathLike) -> set[str]:
    """The names a notebook's `parameters` cell declares (what papermill may inject into it), read with
    papermill's own Python parser (every kafkalab notebook is Python)."""
    import nbformat
    from papermill.translators import PythonTranslator

    cells = nbformat.read(path, as_version=4).cells
    cell = next((c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    return {p.name for p in PythonTranslator.inspect(cell)} if cell else set()


def run_suite(
    output_dir: str | os.PathLike,
    parameters: dict,
    notebooks: Sequence[str] | None = None,
    kernel_name: str = "python3",
    cell_timeout: int = 1800,
    notebook_dir: str | os.PathLike | None = None,
    on_result: Callable[[NotebookResult], None] | None = None,
    on_start: Callable[[str], None] | None = None,
    check_outputs: bool = True,
    tier: str = "",
    edition: str | None = None,
) -> Summary:
    """Execute the notebooks in order with papermill; write them, summary.md/json and junit.xml to
    `output_dir`.

    Each notebook gets only the parameters it declares. With `check_outputs`, a notebook whose checked cells
    print something other than their stored outputs (after sanitizing) fails, as under nbval.
    `on_start(name)` / `on_result(result)` let a caller (the CLI) report as it goes; this function prints
    nothing itself. Returns the Summary (check `.ok`); it does not raise for a failing notebook.
    `edition` ("ja"): run that translated edition (notebooks/ja: the same code cells and stored outputs,
    so the same checks) instead of the English one; ignored when `notebook_dir` is given.
    """
    import nbformat
    import papermill

    directory = Path(notebook_dir) if notebook_dir else notebooks_dir(edition)
    paths = find_notebooks(directory, notebooks)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = Summary(str(out), dict(parameters), tier=tier, edition=edition or "en")
    patterns = checked.sanitize_patterns() if check_outputs else []
    used: set[str] = set()
    failed = False
    for path in paths:
        if failed:
            summary.results.append(NotebookResult(path.name, "skipped"))
            continue
        if on_start:
            on_start(path.name)
        start = time.monotonic()
        error = details = ""
        try:
            declared = declared_parameters(path)
            used |= declared
            with _plain_display():
                papermill.execute_notebook(
                    str(path),
                    str(out / path.name),
                    parameters={k: v for k, v in parameters.items() if k in declared},
                    kernel_name=kernel_name,
                    language="python",  # every kafkalab notebook is Python, whatever its metadata says
                    cwd=str(directory),
                    progress_bar=False,
                    execution_timeout=cell_timeout,
                    # the kernel's own start-up warnings (e.g. about TCP transport) would break up the
                    # caller's progress lines; errors still show, and cell output goes to the notebook
                    extra_arguments=["--IPKernelApp.log_level=ERROR"],
                )
            if check_outputs:
                mismatches = checked.check_notebook(
                    nbformat.read(path, as_version=4), nbformat.read(out / path.name, as_version=4), patterns
                )
                error = _bounded("\n".join(map(str, mismatches)))
        except Exception as e:  # noqa: BLE001 - any failure of a notebook is a result, not a crash of the suite
            error, details = _error_text(e)
        failed = bool(error)
        seconds = round(time.monotonic() - start, 1)
        result = NotebookResult(path.name, "failed" if error else "passed", seconds, error, details)
        summary.results.append(result)
        summary.unused = [k for k in parameters if k not in used]
        if on_result:
            on_result(result)
        _write_summary(summary, out)  # after every notebook, so a killed run still leaves a summary
    _write_summary(summary, out)
    return summary


def _bounded(text: str, max_lines: int = MAX_ERROR_LINES, max_chars: int = MAX_ERROR_CHARS) -> str:
    lines = text.rstrip().splitlines()
    cut = len(lines) > max_lines or len(text) > max_chars
    text = "\n".join(lines[:max_lines])[:max_chars]
    return text + ("\n… (cut; the executed notebook has it all)" if cut else "")


def _error_text(e: Exception) -> tuple[str, str]:
    """(the error as the notebook shows it, bounded; its traceback) for an exception from papermill.

    A failing cell gives papermill's PapermillExecutionError: the cell's number and exception class, and
    the whole message (kafkalab's errors carry the object, the diagnosis and the fix on later lines).
    """
    ename, evalue = getattr(e, "ename", None), getattr(e, "evalue", None)
    if ename:
        where = f"In [{e.exec_count}]: " if getattr(e, "exec_count", None) else ""
        text = f"{where}{ename}: {_ANSI.sub('', str(evalue))}"
        traceback = _ANSI.sub("", "\n".join(getattr(e, "traceback", None) or []))
        return _bounded(text), _bounded(traceback, max_lines=200, max_chars=20000)
    return _bounded(f"{type(e).__name__}: {_ANSI.sub('', str(e))}"), ""


def _write_summary(summary: Summary, out: Path) -> None:
    (out / "summary.md").write_text(summary.markdown())
    (out / "junit.xml").write_text(summary.junit())
    data = {
        "ok": summary.ok,
        "tier": summary.tier,
        "edition": summary.edition,
        "parameters": summary.parameters,
        "unused_parameters": summary.unused,
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
