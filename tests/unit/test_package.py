"""`pip install .` (not editable) gives a working kafkalab: the wheel is built here offline from a copy of
the repository's files, installed into a fresh venv, and its CLI run from a directory that is not the
checkout. The venv borrows the dependencies of the running one through a .pth line, so nothing is fetched.

About 40 s (the wheel build, and one notebook run by the installed CLI).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ["pyproject.toml", "README.md", "kafkalab", "manifests", "notebooks"]


def run(cmd, cwd, **kw):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300, **kw)
    return p.returncode, p.stdout + p.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv bin dir, wheel path) of kafkalab installed from its wheel."""
    tmp = tmp_path_factory.mktemp("package")
    src = tmp / "src"
    src.mkdir()
    for name in SHIPPED:  # a copy: the build must not leave build/ or *.egg-info in the checkout
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, src / name)
    rc, out = run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(tmp / "dist"),
            str(src),
        ],
        cwd=tmp,
    )
    assert rc == 0, out
    (wheel,) = (tmp / "dist").glob("kafkalab-*.whl")
    venv = tmp / "venv"
    rc, out = run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp)
    assert rc == 0, out
    rc, out = run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        cwd=tmp,
    )
    assert rc == 0, out
    # the dependencies: this venv's site-packages, appended as a plain path (its .pth files, among them
    # the editable kafkalab's finder, are not processed that way)
    site = run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        cwd=tmp,
    )[1].strip()
    Path(site, "borrowed-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv / "bin", wheel


def test_the_wheel_ships_manifests_notebooks_and_the_sanitize_file(installed):
    _, wheel = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for manifest in (ROOT / "manifests").glob("*.yaml"):
        assert f"kafkalab/manifests/{manifest.name}" in names
    for notebook in (ROOT / "notebooks").glob("*.ipynb"):
        assert f"kafkalab/notebooks/{notebook.name}" in names
        assert f"kafkalab/notebooks/ja/{notebook.name}" in names  # `kafkalab run --edition ja`
    assert "kafkalab/sanitize.cfg" in names and "kafkalab/__main__.py" in names
    assert not [n for n in names if n.startswith("tests/")]


def test_the_installed_package_finds_its_own_files_from_anywhere(installed, tmp_path):
    bin_dir, _ = installed
    code = (
        "import kafkalab, sys\n"
        "from kafkalab import checked, strimzi, suite\n"
        "print(kafkalab.__file__)\n"
        "print(suite.notebooks_dir())\n"
        "print(suite.notebooks_dir('ja'))\n"
        "print(strimzi.manifest_path('kafka-single-node.yaml'))\n"
        "print(checked.SANITIZE_FILE.is_file())\n"
    )
    rc, out = run([str(bin_dir / "python"), "-c", code], cwd=tmp_path)
    assert rc == 0, out
    package = str(Path(out.splitlines()[0]).parent)
    assert "/venv/" in package and not package.startswith(str(ROOT))
    assert out.splitlines()[1:] == [
        f"{package}/notebooks",
        f"{package}/notebooks/ja",
        f"{package}/manifests/kafka-single-node.yaml",
        "True",
    ]


def test_the_installed_cli_and_python_m(installed, tmp_path):
    bin_dir, _ = installed
    rc, out = run([str(bin_dir / "kafkalab"), "--version"], cwd=tmp_path)
    assert rc == 0 and "kafkalab, version" in out, out
    rc, out = run([str(bin_dir / "python"), "-m", "kafkalab", "run", "--help"], cwd=tmp_path)
    assert rc == 0 and "Usage: kafkalab run" in out and "--tier [kind|hermetic|context]" in out, out


def test_the_installed_cli_runs_a_packaged_notebook_from_any_directory(installed, tmp_path):
    bin_dir, _ = installed
    cmd = [str(bin_dir / "kafkalab"), "run", "--tier", "context", "-n", "00", "-o", "out"]
    rc, out = run([*cmd, "-p", "create_kind_cluster=false", "-p", "namespace=ignored-here"], cwd=tmp_path)
    assert rc == 0, out
    assert out.splitlines()[0].startswith("cluster: context")
    assert "00-prerequisites.ipynb … passed" in out
    cases = ET.parse(tmp_path / "out" / "junit.xml").getroot().findall("testcase")
    assert [(c.get("name"), list(c)) for c in cases] == [("00-prerequisites.ipynb", [])]


def test_the_installed_cli_says_the_hermetic_tier_needs_the_checkout(installed, tmp_path):
    bin_dir, _ = installed
    rc, out = run([str(bin_dir / "kafkalab"), "run", "--tier", "hermetic"], cwd=tmp_path)
    assert rc == 1, out
    assert "--tier hermetic cannot run here" in out and "use the kafkalab repository checkout" in out
    assert "Traceback" not in out
