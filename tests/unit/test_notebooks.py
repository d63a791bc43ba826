"""Static checks of the teaching notebooks (no cluster, no kernel).

They guard the conventions nbval and papermill rely on (DESIGN.md §4): a `parameters` cell with the common
names, outputs stored only in `# NBVAL_CHECK_OUTPUT` cells (and every such cell carrying the output it is
compared against), checked outputs that do not depend on parameters, no secret in a notebook, and every
kafkalab function a notebook calls existing in the library with the arguments the notebook passes.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("[0-9]*.ipynb"))
IDS = [p.name for p in NOTEBOOKS]

COMMON_PARAMETERS = {
    "kube_context",
    "create_kind_cluster",
    "kind_cluster_name",
    "kind_config",
    "kind_node_image",
    "strimzi_source",
    "operator_namespace",
    "namespace",
    "cluster_name",
    "listener",
    "timeout_s",
    "teardown",
}
# Parameters whose values a team changes: a checked output must not contain them (DESIGN.md §4).
NAME_PARAMETERS = ("cluster_name", "kind_cluster_name", "namespace", "operator_namespace", "topic_name")
COUNT_PARAMETERS = ("message_count",)

SECRET_PATTERNS = {
    "PEM block": re.compile(r"-----BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)-----"),
    "password value": re.compile(r"password\s*[=:]\s*[\"']?(?![<{*])[A-Za-z0-9+/_-]{8,}", re.I),
    "JAAS config with credentials": re.compile(r"ScramLoginModule required .*password=\"[^\"<]", re.I),
    "JWT / service-account token": re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
    "long base64 blob": re.compile(r"(?=[A-Za-z0-9+/]*\d)(?=[A-Za-z0-9+/]*[A-Z])[A-Za-z0-9+/]{40,}={0,2}"),
}


def load(path: Path):
    return nbformat.read(path, as_version=4)


def is_checked(cell) -> bool:
    return cell.cell_type == "code" and any(
        line.strip().lstrip("#").strip() == "NBVAL_CHECK_OUTPUT" for line in cell.source.splitlines()
    )


def code_of(cell) -> str:
    """Cell source as Python: IPython magics and shell escapes blanked out (same line numbers)."""
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in cell.source.splitlines()
    )


def parameters_cell(nb):
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"expected exactly one cell tagged 'parameters', found {len(cells)}"
    return cells[0]


def parameter_values(nb) -> dict:
    values = {}
    for node in ast.parse(parameters_cell(nb).source).body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1, (
            f"parameters cell line {node.lineno}: only `name = literal` lines (papermill overrides them)"
        )
        values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


def test_there_are_notebooks():
    names = {p.name[:2] for p in NOTEBOOKS}
    assert {"00", "01", "02", "03", "04", "05", "08", "99"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_valid_nbformat_with_stable_cell_ids(path):
    nb = load(path)
    nbformat.validate(nb)
    assert nb.nbformat == 4 and nb.nbformat_minor >= 5, "cell ids need nbformat 4.5"
    ids = [c.get("id") for c in nb.cells]
    assert all(ids) and len(set(ids)) == len(ids), "every cell needs a unique id"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_parameters_cell_has_the_common_names(path):
    nb = load(path)
    values = parameter_values(nb)
    missing = COMMON_PARAMETERS - set(values)
    assert not missing, f"parameters cell lacks {sorted(missing)}"
    first_code = next(
        c for c in nb.cells if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])
    )
    assert nb.cells.index(parameters_cell(nb)) < nb.cells.index(first_code), "parameters come before any code"
    assert isinstance(values["timeout_s"], int | float) and values["timeout_s"] > 0
    assert values["teardown"] is False, "a notebook must not delete what it made unless asked to"


STANDALONE = [p for p in NOTEBOOKS if p.name[:2] not in ("00", "99")]  # 00 needs nothing, 99 removes all


@pytest.mark.parametrize("path", STANDALONE, ids=[p.name for p in STANDALONE])
def test_first_code_cell_ensures_what_the_notebook_needs(path):
    # DESIGN.md §4: a learner can open any notebook cold, so its first cell brings what it needs into being
    nb = load(path)
    cells = [c for c in nb.cells if c.cell_type == "code"]
    first = cells[cells.index(parameters_cell(nb)) + 1]
    assert "ensure_" in first.source, (
        f"the first code cell after `parameters` should call an ensure_...(), not:\n{first.source[:300]}"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_default_strimzi_source_is_the_release(path):
    from kafkalab import strimzi

    assert parameter_values(load(path))["strimzi_source"] == strimzi.RELEASE_URL


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_outputs_only_in_checked_cells(path):
    for cell in load(path).cells:
        if cell.cell_type != "code":
            continue
        if is_checked(cell):
            assert cell.outputs, f"checked cell {cell.id} has no stored output to compare against"
            # nbval skips the comparison for a cell whose stored execution_count is None
            assert cell.execution_count is not None, f"checked cell {cell.id} has no execution_count"
            bad = [
                o.output_type for o in cell.outputs if o.output_type == "error" or o.get("name") == "stderr"
            ]
            assert not bad, f"checked cell {cell.id} stores {bad}: print the lesson's proof to stdout only"
        else:
            assert not cell.outputs, f"unchecked cell {cell.id} has stored outputs (strip them)"
            assert cell.execution_count is None, f"unchecked cell {cell.id} has an execution_count"


def _output_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        parts.extend(v for v in out.get("data", {}).values() if isinstance(v, str))
    return "".join(parts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_checked_outputs_do_not_show_parameter_values(path):
    nb = load(path)
    values = parameter_values(nb)
    for cell in filter(is_checked, nb.cells):
        text = _output_text(cell)
        for name in NAME_PARAMETERS:
            if isinstance(values.get(name), str):
                # whole words: "strimzi" in quay.io/strimzi/operator or strimzi-cluster-operator is not it
                word = re.compile(rf"(?<![\w./:-]){re.escape(values[name])}(?![\w./:-])")
                assert not word.search(text), f"checked cell {cell.id} prints {name}={values[name]!r}"
        for name in COUNT_PARAMETERS:
            if isinstance(values.get(name), int):
                assert not re.search(rf"(?<![\d.]){values[name]}(?![\d.])", text), (
                    f"checked cell {cell.id} prints {name}={values[name]}; print the invariant instead"
                )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_secret_looking_text(path):
    for cell in load(path).cells:
        for label, text in (("source", cell.source), ("output", _output_text(cell))):
            for what, pattern in SECRET_PATTERNS.items():
                match = pattern.search(text)
                assert not match, f"cell {cell.id} {label} contains a {what}: {match.group(0)[:12]}…"


def _kafkalab_names(tree: ast.Module) -> dict[str, object]:
    """Local name -> kafkalab module or object, from the notebook's imports."""
    names: dict[str, object] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "kafkalab":
            module = importlib.import_module(node.module)
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                try:
                    target = importlib.import_module(sub)
                except ModuleNotFoundError:
                    assert hasattr(module, alias.name), (
                        f"`from {node.module} import {alias.name}`: no such name"
                    )
                    target = getattr(module, alias.name)
                names[alias.asname or alias.name] = target
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "kafkalab":
                    names[alias.asname or alias.name] = importlib.import_module(alias.name)
    return names


def _check_call(call: ast.Call, func, where: str):
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return
    try:
        sig.bind_partial(*[None] * len(call.args), **{k.arg: None for k in call.keywords})
    except TypeError as exc:
        pytest.fail(f"{where}: {exc} (signature {sig})")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_kafkalab_calls_exist_in_the_library(path):
    nb = load(path)
    tree = ast.Module(body=[], type_ignores=[])
    for cell in nb.cells:
        if cell.cell_type == "code":
            try:
                tree.body.extend(ast.parse(code_of(cell)).body)
            except SyntaxError as exc:
                pytest.fail(f"{path.name} cell {cell.id} is not valid Python: {exc}")
    names = _kafkalab_names(tree)
    used = 0
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in names:
            owner = names[node.value.id]
            if inspect.ismodule(owner):
                where = f"{path.name}: {node.value.id}.{node.attr}"
                assert hasattr(owner, node.attr), f"{where} does not exist in {owner.__name__}"
                public = getattr(owner, "__all__", None)
                assert public is None or node.attr in public, f"{where} is not in {owner.__name__}.__all__"
                used += 1
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id in names:
                owner = names[f.value.id]
                if inspect.ismodule(owner) and hasattr(owner, f.attr):
                    _check_call(node, getattr(owner, f.attr), f"{path.name}: {f.value.id}.{f.attr}(...)")
            elif isinstance(f, ast.Name) and f.id in names and callable(names[f.id]):
                _check_call(node, names[f.id], f"{path.name}: {f.id}(...)")
    assert used or path.name.startswith("00"), "a notebook should use the kafkalab helpers it teaches"


# ---- the plumbing: sanitize file and the recorder ------------------------------------------------------

NOTEBOOK_TESTS = Path(__file__).resolve().parents[1] / "notebooks"


def test_sanitize_file_parses_and_masks_only_what_varies():
    from nbval.plugin import get_sanitize_patterns

    # nbval silently ignores a malformed entry, which would leave a varying value unmasked
    patterns = get_sanitize_patterns((NOTEBOOK_TESTS / "sanitize.cfg").read_text())
    entries = (NOTEBOOK_TESTS / "sanitize.cfg").read_text().count("\nregex: ")
    assert len(patterns) == entries >= 5

    def sanitize(text):
        for regex, replace in patterns:
            text = re.sub(regex, replace, text)
        return text

    assert sanitize("at 127.0.0.1:29942 and localhost:32100") == "at HOST:PORT and HOST:PORT"
    assert sanitize("since 2026-11-27T18:37:56Z, took 12.5 s") == "since TIMESTAMP, took DURATION"
    assert sanitize("clusterId: uHMMX0-JSrOCUo1ZaoehMg") == "clusterId: KAFKA_ID"
    invariant = "partitions: 3\nretention.ms: 7200000\nlost: 0, duplicated: 0, order per key kept: True"
    assert sanitize(invariant) == invariant


def _recorder():
    spec = importlib.util.spec_from_file_location("record", NOTEBOOK_TESTS / "record.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


KERNEL = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def _executed(checked_output):
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    nb = new_notebook(metadata={"kernelspec": KERNEL, "papermill": {"duration": 1.0}})
    injected = new_code_cell("namespace = 'x'", metadata={"tags": ["injected-parameters"]})
    one = new_output("stream", name="stdout", text="1\n")
    plain = new_code_cell("print(1)", execution_count=3, outputs=[one])
    plain.metadata["papermill"] = {"duration": 0.1}
    checked = new_code_cell("# NBVAL_CHECK_OUTPUT\nprint('ok')", execution_count=4, outputs=[checked_output])
    nb.cells = [injected, plain, checked]
    return nb


def test_recorder_keeps_only_checked_outputs():
    from nbformat.v4 import new_output

    nb = _recorder().strip(_executed(new_output("stream", name="stdout", text="ok\n")), "x.ipynb")
    nbformat.validate(nb)
    assert "papermill" not in nb.metadata and len(nb.cells) == 2  # the injected cell is gone
    plain, checked = nb.cells
    assert plain.outputs == [] and plain.execution_count is None and "papermill" not in plain.metadata
    assert checked.outputs[0].text == "ok\n" and checked.execution_count is not None


def test_recorder_refuses_stderr_in_a_checked_cell():
    from nbformat.v4 import new_output

    with pytest.raises(SystemExit, match="stdout only"):
        _recorder().strip(_executed(new_output("stream", name="stderr", text="WARNING\n")), "x.ipynb")


# ---- the course around the checks (issue 11): objectives, key points, exercises, console options ----

DOC_SITES = r"strimzi\.io/docs/operators/1\.2\.0/|kafka\.apache\.org/43/|strimzi\.io/|kind\.sigs\.k8s\.io/"
DOC_LINK = re.compile(rf"\]\((https://({DOC_SITES})[^)]*)\)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_opens_with_objectives_and_ends_with_key_points(path):
    nb = load(path)
    by_id = {c.id: c for c in nb.cells}
    objectives = by_id.get("objectives")
    assert objectives is not None and objectives.cell_type == "markdown", (
        "a markdown cell `objectives` is missing"
    )
    assert nb.cells.index(objectives) <= 1, "the objectives come right after the title"
    goals = [line for line in objectives.source.splitlines() if line.startswith("- ")]
    assert 3 <= len(goals) <= 4, f"3–4 objectives, found {len(goals)}"
    assert "**Prerequisites:**" in objectives.source and "**Duration:**" in objectives.source
    points = by_id.get("key-points")
    assert points is not None and points.source.startswith("## Key points"), "a `key-points` cell is missing"
    code_after = [c for c in nb.cells[nb.cells.index(points) :] if c.cell_type == "code"]
    assert all(c.id == "teardown" or "teardown" in c.source for c in code_after), (
        "only the clean-up may follow the key points"
    )
    links = DOC_LINK.findall(points.source)
    assert 2 <= len(links) <= 3, f"2–3 links to the pinned Strimzi 1.2.0 / Kafka 4.3 docs, found {len(links)}"


EXERCISED = [p for p in NOTEBOOKS if "03" <= p.name[:2] <= "08"]


@pytest.mark.parametrize("path", EXERCISED, ids=[p.name for p in EXERCISED])
def test_exercises_have_folded_solutions(path):
    nb = load(path)
    tasks = [c for c in nb.cells if c.cell_type == "markdown" and "**Exercise " in c.source]
    assert 1 <= len(tasks) <= 3, f"1–3 exercises per notebook, found {len(tasks)}"
    for task in tasks:
        following = nb.cells[nb.cells.index(task) + 1]
        assert following.cell_type == "code" and "solution" in following.metadata.get("tags", []), (
            f"exercise cell {task.id} must be followed by its solution (a code cell tagged `solution`)"
        )
    for cell in nb.cells:
        if "solution" in cell.metadata.get("tags", []):
            assert cell.metadata.get("jupyter", {}).get("source_hidden") is True, (
                f"solution {cell.id} is not folded"
            )
            assert "parameters" not in cell.metadata.get("tags", [])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_console_tools_use_kafka_4_3_options(path):
    # Kafka 4.3 deprecates the console tools' `--property` for --reader-property / --formatter-property
    for cell in load(path).cells:
        used = re.search(r"--property\s+\w", cell.source)
        assert not used, f"cell {cell.id} uses the deprecated --property"
