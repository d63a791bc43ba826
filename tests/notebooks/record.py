"""Record the reference outputs of the teaching notebooks from a real run.

    tests/notebooks/run.sh --record [--params FILE] [NOTEBOOK...]    (resolves parameters, then calls this)

Each notebook is executed with papermill against a live cluster; only when it ran cleanly is it written back
into notebooks/ with the outputs of the `# NBVAL_CHECK_OUTPUT` cells kept (they are what nbval compares) and
everything else stripped: other outputs, execution counts of unchecked cells, papermill's injected-parameters
cell and its metadata. nbval only checks a cell whose stored execution_count is set, so checked cells keep a
stable count (their position among the code cells).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

import nbformat
import papermill
import yaml

from kafkalab.suite import declared_parameters
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import normalize_metadata  # noqa: E402  (beside this file, not a package)

CHECK = "NBVAL_CHECK_OUTPUT"


def is_checked(cell) -> bool:
    return cell.cell_type == "code" and any(
        line.strip().lstrip("#").strip() == CHECK for line in cell.source.splitlines()
    )


def _coalesce(outputs):
    """Merge consecutive stdout chunks into one output, as a reader expects one block per cell (nbval
    compares coalesced streams too, so this changes nothing it checks)."""
    merged = []
    for out in outputs:
        last = merged[-1] if merged else None
        if last and out.output_type == last.output_type == "stream" and out.name == last.name:
            last.text += out.text
        else:
            merged.append(out)
    return merged


def strip(nb, name: str):
    """Return nb without papermill's traces and with outputs only in checked cells (raises on a bad one)."""
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    # JupyterLab's own stored metadata, so the notebook opens unmodified (normalize_metadata.py)
    language_info = {**normalize_metadata.LANGUAGE_INFO, "version": platform.python_version()}
    kernelspec = normalize_metadata.KERNELSPEC
    nb.metadata = nbformat.from_dict({"kernelspec": kernelspec, "language_info": language_info})
    position = 0
    for cell in nb.cells:
        # Keep what the author set (tags; `jupyter.source_hidden` folds a solution), drop papermill's timings.
        kept = {key: cell.metadata[key] for key in ("tags", "jupyter") if cell.metadata.get(key)}
        cell.metadata = nbformat.from_dict(kept)
        if cell.cell_type != "code":
            continue
        position += 1
        if not is_checked(cell):
            cell.outputs, cell.execution_count = [], None
            continue
        bad = [o for o in cell.outputs if o.output_type == "error" or o.get("name") == "stderr"]
        if bad or not cell.outputs:
            sys.exit(
                f"record.py: {name} cell {cell.get('id')}: a checked cell must print to stdout only "
                f"(got {'no output' if not cell.outputs else [o.output_type for o in bad]})\n"
                "  fix: move warnings/progress into an unchecked cell"
            )
        cell.execution_count = position
        cell.outputs = _coalesce(cell.outputs)
        for out in cell.outputs:
            if out.output_type == "execute_result":
                out.execution_count = position
    return nb


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", required=True, help="resolved papermill parameter YAML")
    ap.add_argument("--out", required=True, help="directory for the executed notebooks")
    ap.add_argument("notebooks", nargs="+")
    args = ap.parse_args(argv)
    with open(args.params) as f:
        params = yaml.safe_load(f) or {}
    os.makedirs(args.out, exist_ok=True)
    for src in args.notebooks:
        name = os.path.basename(src)
        executed = os.path.join(args.out, name)
        print(f"record.py: executing {name}", file=sys.stderr, flush=True)
        # Raises PapermillExecutionError on a failing cell: nothing is written back then.
        declared = declared_parameters(src)  # only these: papermill warns about the others
        papermill.execute_notebook(
            src,
            executed,
            parameters={k: v for k, v in params.items() if k in declared},
            kernel_name="python3",
            cwd=args.out,
            progress_bar=False,
            log_output=True,
        )
        nb = strip(nbformat.read(executed, as_version=4), name)
        nbformat.validate(nb)
        nbformat.write(nb, src)
        print(f"record.py: wrote {src}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
