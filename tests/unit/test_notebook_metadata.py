"""Committed notebooks open unmodified in JupyterLab: their stored metadata is what JupyterLab writes.

JupyterLab 4 fills in kernelspec and language_info from the kernel on open; anything it adds or changes
marks the notebook modified at once (closing it then asks to save). The browser test
(tests/browser/test_jupyterlab.py) checks the same in a real JupyterLab; this one needs no browser.
Fix a failure with: .venv/bin/python tests/notebooks/normalize_metadata.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notebooks"))
import normalize_metadata  # noqa: E402

NOTEBOOKS = sorted(normalize_metadata.NOTEBOOKS.glob("*.ipynb"))
FIX = "run .venv/bin/python tests/notebooks/normalize_metadata.py"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_stored_metadata_is_what_jupyterlab_writes(path):
    text = path.read_text()
    nb = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5), f"{path.name}: nbformat 4.5 (cell ids); {FIX}"
    assert nb.metadata.get("kernelspec") == normalize_metadata.KERNELSPEC, f"{path.name}: kernelspec; {FIX}"
    info = dict(nb.metadata.get("language_info") or {})
    version = info.pop("version", "")
    assert info == normalize_metadata.LANGUAGE_INFO, f"{path.name}: language_info incomplete; {FIX}"
    assert re.fullmatch(r"3\.\d+\.\d+", version), f"{path.name}: language_info.version {version!r}; {FIX}"
    ids = [c.get("id") for c in nb.cells]
    assert all(ids) and len(set(ids)) == len(ids), f"{path.name}: every cell needs a unique id; {FIX}"
    nbformat.validate(nb)
    # Byte for byte what Jupyter's save writes, so a save without changes changes nothing in git.
    assert normalize_metadata.normalized(text, version) == text, (
        f"{path.name}: not as Jupyter saves it; {FIX}"
    )


def test_normalize_fills_what_jupyterlab_would_add():
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3"},
        "language_info": {"name": "python"},
    }
    nb.cells = [nbformat.v4.new_code_cell("print(1)"), nbformat.v4.new_markdown_cell("# x")]
    nb.cells[1]["id"] = nb.cells[0]["id"]  # a duplicate id, as a hand merge can leave
    out = nbformat.reads(normalize_metadata.normalized(nbformat.writes(nb), "3.11.7"), as_version=4)
    assert out.metadata.kernelspec["display_name"] == "Python 3 (ipykernel)"
    assert out.metadata.language_info["version"] == "3.11.7"
    assert out.metadata.language_info["pygments_lexer"] == "ipython3"
    assert out.cells[0].id != out.cells[1].id and out.cells[0].source == "print(1)"
