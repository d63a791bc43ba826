"""Give the teaching notebooks the stored metadata JupyterLab writes, so they open unmodified.

JupyterLab fills in `kernelspec` and `language_info` from the kernel when it opens a notebook; whatever it
adds or changes marks the notebook modified at once, and closing it asks to save. This writes exactly what
JupyterLab 4 writes for the python3 kernel, with this Python's version (CI runs Python 3.11; a learner on
another version still sees `version` change, which JupyterLab does for every notebook), gives every cell an
id, and leaves cell sources, outputs and cell metadata alone.

    .venv/bin/python tests/notebooks/normalize_metadata.py [--check] [NOTEBOOK.ipynb...]
"""

from __future__ import annotations

import platform
import sys
import uuid
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
}


def normalized(text: str, version: str) -> str:
    """`text` with the metadata JupyterLab stores (and cell ids), serialised as Jupyter saves it."""
    nb = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
    nb.nbformat, nb.nbformat_minor = 4, 5
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {**LANGUAGE_INFO, "version": version}
    seen = set()
    for cell in nb.cells:
        cell.setdefault("metadata", {})
        if not cell.get("id") or cell["id"] in seen:
            cell["id"] = uuid.uuid4().hex[:8]
        seen.add(cell["id"])
    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"  # jupyter_server's save ends the file with a newline too


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [Path(a) for a in argv if a != "--check"] or sorted(NOTEBOOKS.glob("*.ipynb"))
    version = platform.python_version()
    stale = []
    for path in paths:
        text = path.read_text()
        new = normalized(text, version)
        if new != text:
            stale.append(path.name)
            if not check:
                path.write_text(new)
    verb = "need normalising" if check else "normalised"
    print(f"{verb}: {', '.join(stale) or 'none'}")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
