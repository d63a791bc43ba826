"""Notebook 03 run the way JupyterLab runs it (live tables), then read back from disk as a restarted kernel
or a reopened notebook sees it: every live table left its last state as ordinary output (issue 15).

papermill stands in for JupyterLab here (nbclient applies each update_display_data to the stored output, as
JupyterLab does before it saves); tests/browser checks the same in a real JupyterLab and Chromium.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import nbformat
import papermill
import pytest
import yaml

from kafkalab import kube
from kafkalab.suite import run_suite

pytestmark = pytest.mark.hermetic

ROOT = Path(__file__).resolve().parents[2]
SOURCE = os.environ.get(
    "KAFKALAB_STRIMZI_SOURCE", str(ROOT.parent / "shared/strimzi/1.2.0/install/cluster-operator")
)


def test_notebook_03_keeps_its_last_tables_as_html_and_text(kubeconfig, tmp_path, monkeypatch):
    kube.reset()
    suffix = uuid.uuid4().hex[:6]
    params = yaml.safe_load((ROOT / "tests/notebooks/hermetic.yaml").read_text())
    params.update(
        strimzi_source=SOURCE, namespace=f"kl-live-{suffix}", operator_namespace=f"kl-live-op-{suffix}"
    )
    out = tmp_path / "03.ipynb"
    monkeypatch.setenv("KAFKALAB_DISPLAY", "live")  # the kernel inherits it: tables, as in JupyterLab
    try:
        papermill.execute_notebook(
            str(ROOT / "notebooks/03-kafka-cluster.ipynb"),
            str(out),
            parameters=params,
            kernel_name="python3",
            cwd=str(tmp_path),
            progress_bar=False,
        )
    finally:
        monkeypatch.delenv("KAFKALAB_DISPLAY")
        run_suite(tmp_path / "teardown", params, notebooks=["99"])
        for ns in (params["namespace"], params["operator_namespace"]):
            kube.delete_namespace(ns, timeout=180)
    saved = nbformat.read(out, as_version=4)  # what a restart or a reopening finds
    cells = {c.get("id"): c for c in saved.cells}
    text = {}
    for cell_id in ("ensure", "watch", "wait-ready"):
        outputs = [o for o in cells[cell_id].outputs if o.output_type == "display_data"]
        assert len(outputs) == 1, f"cell {cell_id}: one table, redrawn in place ({cells[cell_id].outputs})"
        assert set(outputs[0].data) == {"text/html", "text/plain"}, f"cell {cell_id}: no widget reference"
        text[cell_id] = outputs[0].data["text/plain"]
    pods = text["watch"].splitlines()
    assert pods[1].split() == ["NAME", "READY", "STATUS", "RESTARTS"]
    assert all(line.split()[2] == "Running" for line in pods[2:-1]) and len(pods) > 4, text["watch"]
    assert pods[-1].startswith("elapsed:") and pods[-1].endswith("— done"), text["watch"]
    ready = text["wait-ready"].splitlines()
    assert ready[0] == f"Kafka {params['namespace']}/{params['cluster_name']}"
    # rows are conditions: a single ephemeral node also carries Strimzi's two KafkaStorage warnings
    assert ["Ready", "True"] in [line.split()[:2] for line in ready[2:-1]], text["wait-ready"]
    assert ready[-1].endswith("— done"), text["wait-ready"]
    # the operator, installed by this run, was waited for with a table of its own
    assert text["ensure"].startswith(f"Deployment {params['operator_namespace']}/strimzi-cluster-operator")
