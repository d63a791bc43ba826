"""`make lab`: JupyterLab on notebooks/ with this venv's kernel, the kube settings of the tier in use, and
nothing that calls outside the machine (no news feed, no update check, no extension catalogue).

    python -m kafkalab.lab [extra jupyter lab arguments...]

Tiers: when the hermetic cluster is up ($KAFKALAB_HERMETIC_DIR/env exists, default /tmp/kafkalab-hermetic)
and KUBECONFIG is not set, its KUBECONFIG and Strimzi source are used; otherwise the notebooks create or
reuse the kind cluster they name (kind_cluster_name, context kind-<name>) or use KUBECONFIG's context.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

# JupyterLab's own switches for what it fetches from the internet (JupyterLab 4 docs, "Announcements"):
# the news feed and the update check on the server, the extension manager's PyPI catalogue.
SERVER_ARGS = [
    "--LabApp.news_url=None",
    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    "--LabApp.extension_manager=readonly",
    "--ServerApp.ip=127.0.0.1",
]
# ... and in the page: never ask about news, never check for updates, and no announcements plugin at all.
SETTINGS = {"@jupyterlab/apputils-extension:notification": {"checkForUpdates": False, "fetchNews": "false"}}
DISABLED = {"@jupyterlab/apputils-extension:announcements": True}


def hermetic_env(environ: dict | None = None) -> dict[str, str]:
    """KUBECONFIG and friends from the hermetic cluster's env file ({} when it is not up)."""
    environ = os.environ if environ is None else environ
    env_file = Path(environ.get("KAFKALAB_HERMETIC_DIR") or "/tmp/kafkalab-hermetic") / "env"
    if not env_file.is_file():
        return {}
    found = {}
    for line in env_file.read_text().splitlines():
        key, sep, value = line.strip().removeprefix("export ").partition("=")
        if sep and key.isidentifier():
            found[key] = value.strip().strip("'\"")
    return found


def configure(prefix: str | Path = sys.prefix) -> None:
    """Write the settings overrides and the disabled plugin into this environment's JupyterLab config
    (`<venv>/share/jupyter/lab/settings/overrides.json`, `<venv>/etc/jupyter/labconfig/page_config.json`),
    keeping whatever else those files hold. The user's own ~/.jupyter is left alone."""
    prefix = Path(prefix)
    for path, key, value in (
        (prefix / "share/jupyter/lab/settings/overrides.json", None, SETTINGS),
        (prefix / "etc/jupyter/labconfig/page_config.json", "disabledExtensions", DISABLED),
    ):
        data = json.loads(path.read_text()) if path.is_file() else {}
        target = data.setdefault(key, {}) if key else data
        for name, entry in value.items():
            target[name] = {**target.get(name, {}), **entry} if isinstance(entry, dict) else entry
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2) + "\n")


def plan(environ: dict | None = None, is_root: bool | None = None) -> tuple[dict, list[str], list[str]]:
    """(environment for the server and its kernels, jupyter lab arguments, lines telling the person how)."""
    environ = dict(os.environ if environ is None else environ)
    is_root = os.geteuid() == 0 if is_root is None else is_root
    says = [f"kafkalab lab: JupyterLab on {NOTEBOOKS}, kernel python3 = {_kernel_python()}"]
    if _kernel_python() != sys.executable:
        says.append("  that is not this venv's Python: kafkalab may be missing there; remove that kernelspec")
    hermetic = {} if environ.get("KUBECONFIG") else hermetic_env(environ)
    if hermetic:
        environ.update(hermetic)
        source = hermetic.get("KAFKALAB_STRIMZI_SOURCE", "<Strimzi's install/cluster-operator dir>")
        says += [
            f"  tier: hermetic cluster, KUBECONFIG={hermetic.get('KUBECONFIG')}",
            "  in each notebook's parameters cell set: create_kind_cluster = False",
            f'                                          strimzi_source = "{source}"',
        ]
    elif environ.get("KUBECONFIG"):
        says += [
            f"  tier: your cluster, KUBECONFIG={environ['KUBECONFIG']} (kube_context None: its current one)",
            "  for a cluster that is not kind, set create_kind_cluster = False in the parameters cell",
        ]
    else:
        says += [
            "  tier: kind: the notebooks create or reuse kind cluster 'kafkalab' (context kind-kafkalab)",
            "  no Docker? `make hermetic-up`, then `make lab` again uses the hermetic cluster",
        ]
    says.append("  no news, update check or extension catalogue: nothing is fetched from outside this host")
    args = ["--ServerApp.root_dir=" + str(NOTEBOOKS), *SERVER_ARGS]
    if is_root:
        args.append("--allow-root")  # Jupyter refuses root without it (containers, workshop VMs)
    # Kernels run with notebooks/ as their working directory whatever the page shows; papermill does the same.
    environ.pop("KAFKALAB_DISPLAY", None)
    return environ, args, says


def _kernel_python() -> str:
    """The Python the notebooks' kernel (python3) runs: jupyter_client puts this venv's in for "python"."""
    from jupyter_client.kernelspec import KernelSpecManager

    argv0 = KernelSpecManager().get_kernel_spec("python3").argv[0]
    own = ("python", "python3", "python{}.{}".format(*sys.version_info[:2]))
    return sys.executable if argv0 in own else argv0


def main(argv: list[str] | None = None) -> None:
    environ, args, says = plan()
    print("\n".join(says), flush=True)
    configure()
    jupyter = Path(sys.executable).with_name("jupyter")
    os.execve(str(jupyter), [str(jupyter), "lab", *args, *(sys.argv[1:] if argv is None else argv)], environ)


if __name__ == "__main__":
    main()
