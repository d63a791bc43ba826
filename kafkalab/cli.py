"""The `kafkalab` command: doctor, up, run, down — thin over the library.

Library errors (KafkalabError) are shown as their readable message (what, which object, the fix) with exit
code 1, never as a traceback: a person at a terminal needs the fix line, not our stack.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from kafkalab.errors import KafkalabError

__all__ = ["main", "Check", "doctor_checks", "parse_parameter", "hermetic_parameters"]

ROOT = Path(__file__).resolve().parent.parent  # the checkout (kafkalab is installed editable from it)
DEFAULT_STRIMZI_LOCAL = "../shared/strimzi/1.2.0/install/cluster-operator"  # relative to the checkout

INSTALL_HINTS = {
    "docker": "install Docker Desktop (macOS/Windows) or Docker Engine (Linux): https://docs.docker.com/engine/install/",
    "kind": "install kind v0.31.0: `go install sigs.k8s.io/kind@v0.31.0`, `brew install kind`, or "
    "https://kind.sigs.k8s.io/docs/user/quick-start/#installation",
    "kubectl": "install kubectl: https://kubernetes.io/docs/tasks/tools/ (or `brew install kubectl`)",
    "java": "install a Java 17+ runtime (e.g. apt-get install openjdk-17-jre-headless)",
    "mvn": "install Maven 3.6+ (e.g. apt-get install maven)",
    "go": "install Go 1.26+: https://go.dev/doc/install",
}
VERSION_COMMANDS = {
    "docker": ["docker", "--version"],  # the client only; the daemon is its own check
    "kind": ["kind", "version"],
    "kubectl": ["kubectl", "version", "--client"],
    "java": ["java", "-version"],
    "mvn": ["mvn", "--version"],
    "go": ["go", "version"],
}
PYTHON_PACKAGES = ["kubernetes", "kafka-python", "PyYAML", "click", "papermill", "ipykernel"]
MIN_MEMORY_GIB = 8  # kind node + Strimzi operator (768Mi) + one broker + the notebook kernel, with headroom


@dataclass
class Check:
    """One line of `kafkalab doctor`."""

    name: str
    ok: bool
    detail: str
    required: bool = True
    hint: str = ""


def _run(cmd: list[str], timeout: float = 15) -> tuple[int, str]:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        return 127, str(e)
    return p.returncode, (p.stdout + p.stderr).strip()


def _memory_gib() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):  # not every platform has these (Windows)
        return None


def doctor_checks(hermetic: bool = False) -> list[Check]:
    """What kafkalab needs, checked. hermetic=True: the hermetic cluster's needs instead of Docker/kind."""
    checks = [
        Check("python", sys.version_info >= (3, 10), platform.python_version(), hint="use Python 3.10+")
    ]
    for pkg in PYTHON_PACKAGES:
        try:
            checks.append(Check(pkg, True, importlib.metadata.version(pkg)))
        except importlib.metadata.PackageNotFoundError:
            checks.append(Check(pkg, False, "not installed", hint="pip install -e '.[test]' in the checkout"))
    tools = ["kubectl", "java", "mvn", "go"] if hermetic else ["docker", "kind", "kubectl"]
    for tool in tools:
        if shutil.which(tool) is None:
            checks.append(Check(tool, False, "not found on PATH", hint=INSTALL_HINTS[tool]))
            continue
        rc, out = _run(VERSION_COMMANDS[tool])
        first = out.splitlines()[0] if out else ""
        checks.append(Check(tool, rc == 0, first or f"exit code {rc}", hint=INSTALL_HINTS[tool]))
    if not hermetic and shutil.which("docker"):
        rc, out = _run(["docker", "info", "--format", "{{.ServerVersion}} {{.MemTotal}}"])
        if rc == 0 and out:
            version, _, mem = out.partition(" ")
            detail = f"daemon {version}"
            if mem.isdigit():
                detail += f", {int(mem) / 2**30:.1f} GiB for containers"
            checks.append(Check("docker daemon", True, detail))
        else:
            last = out.splitlines()[-1] if out else "no answer"
            checks.append(
                Check(
                    "docker daemon",
                    False,
                    last,
                    hint="start Docker (Docker Desktop, or `sudo systemctl start docker`)",
                )
            )
    mem = _memory_gib()
    if mem is not None:
        checks.append(
            Check(
                "memory",
                mem >= MIN_MEMORY_GIB,
                f"{mem:.1f} GiB",
                required=False,
                hint=f"{MIN_MEMORY_GIB} GiB or more recommended; close other apps or give Docker more memory",
            )
        )
    return checks


def parse_parameter(text: str) -> tuple[str, object]:
    """`key=value` → (key, value), the value read as YAML (so 100 is an int, true a bool, None/null None)."""
    import yaml

    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise click.BadParameter(f"{text!r} is not key=value")
    if raw.strip() in ("None", "null", "~"):
        return key.strip(), None
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        value = raw
    # "a: b" would read as a mapping; a parameter given on the command line meant the text
    return key.strip(), raw if isinstance(value, dict) else value


def hermetic_parameters(environ: dict | None = None) -> dict:
    """Notebook parameters for the hermetic cluster: no kind, Strimzi from a local dir, current context."""
    environ = os.environ if environ is None else environ
    source = environ.get("KAFKALAB_STRIMZI_SOURCE") or DEFAULT_STRIMZI_LOCAL
    return {"create_kind_cluster": False, "strimzi_source": _absolute_source(source), "kube_context": None}


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KafkalabError as e:
            click.secho(f"error: {e}", fg="red", err=True)
            ctx.exit(1)


@click.group(cls=_Group)
@click.version_option(package_name="kafkalab")
def main() -> None:
    """Learn Kafka on Kubernetes with Strimzi: set up, run the notebook suite, tear down."""


@main.command()
@click.option("--hermetic", is_flag=True, help="Check for the hermetic cluster (no Docker) instead of kind.")
def doctor(hermetic: bool) -> None:
    """Check Python packages, tools (docker, kind, kubectl), Docker and memory."""
    problems = 0
    for c in doctor_checks(hermetic):
        label = "ok" if c.ok else "MISSING" if c.required else "warn"
        mark = click.style(f"{label:<7}", fg="green" if c.ok else "red")
        click.echo(f"{mark} {c.name:<14} {c.detail}")
        if not c.ok:
            click.echo(f"{'':<8}{'':<14} fix: {c.hint}")
            problems += c.required
    if problems:
        click.echo(f"\n{problems} required thing(s) missing.")
        if not hermetic:
            click.echo(
                "No Docker? `make hermetic-run` runs this suite on the hermetic cluster, "
                "and `make test` runs every test there."
            )
        sys.exit(1)
    click.echo("\nAll required tools found.")


def _docker_running() -> tuple[bool, str]:
    if shutil.which("docker") is None:
        return False, "docker is not installed"
    rc, out = _run(["docker", "info", "--format", "{{.ServerVersion}}"])
    return rc == 0, (out.splitlines()[-1] if out else "docker info failed")


@main.command()
@click.option("--name", "kind_name", default="kafkalab", show_default=True, help="kind cluster name.")
@click.option("--namespace", default="kafka", show_default=True, help="Namespace of the Kafka cluster.")
@click.option("--cluster", default="my-cluster", show_default=True, help="Name of the Kafka resource.")
@click.option("--operator-namespace", default="strimzi", show_default=True)
@click.option("--strimzi-source", default=None, help="Strimzi install URL, YAML file or directory.")
@click.option("--timeout", default=900, show_default=True, help="Seconds to wait for each step.")
def up(kind_name, namespace, cluster, operator_namespace, strimzi_source, timeout) -> None:
    """Create a kind cluster, install the Strimzi operator and a single-node Kafka."""
    from kafkalab import display, kind, strimzi

    running, why = _docker_running()
    if not running:
        click.echo(f"Docker is not available ({why}); `up` needs it to run kind.", err=True)
        click.echo(
            "Without Docker, use the hermetic cluster: `make hermetic-up` (then `make test`).", err=True
        )
        sys.exit(1)
    source = strimzi_source or os.environ.get("KAFKALAB_STRIMZI_SOURCE") or strimzi.RELEASE_URL
    click.echo(f"kind cluster {kind_name} …")
    context = kind.ensure_cluster(kind_name)
    click.echo(f"Strimzi {strimzi.STRIMZI_VERSION} operator in {operator_namespace}, watching {namespace} …")
    strimzi.ensure_operator(
        namespace=operator_namespace,
        watch_namespaces=(namespace,),
        source=source,
        timeout=timeout,
        progress=display.progress(f"Deployment {operator_namespace}/{strimzi.OPERATOR_DEPLOYMENT}"),
        context=context,
    )
    click.echo(f"Kafka {namespace}/{cluster} …")
    progress = display.progress(f"Kafka {namespace}/{cluster}")
    strimzi.ensure_kafka(cluster, namespace, timeout=timeout, progress=progress, context=context)
    servers = strimzi.bootstrap_servers(cluster, namespace, context=context)
    click.echo(f"Ready (context {context}). Bootstrap servers of the external listener: {servers}")


@main.command()
@click.option(
    "--output", "-o", default=None, help="Directory for executed notebooks (default out/run-<time>)."
)
@click.option(
    "-f",
    "--parameters-file",
    type=click.Path(exists=True, dir_okay=False),
    help="YAML file of notebook parameters (e.g. tests/notebooks/kind.yaml).",
)
@click.option("-p", "--parameter", "params", multiple=True, metavar="KEY=VALUE", help="Notebook parameter.")
@click.option("--hermetic", is_flag=True, help="Parameters for the hermetic cluster (no kind).")
@click.option("--notebook", "-n", "notebooks", multiple=True, help="Only these notebooks (e.g. -n 03 -n 04).")
@click.option("--cell-timeout", default=1800, show_default=True, help="Seconds per cell.")
def run(output, parameters_file, params, hermetic, notebooks, cell_timeout) -> None:
    """Run the notebook suite in order with papermill; write executed notebooks and a summary.

    Parameters come from --parameters-file, then --hermetic, then $KAFKALAB_STRIMZI_SOURCE, then each -p.
    """
    import yaml

    from kafkalab import suite

    parameters: dict = {}
    if parameters_file:
        loaded = yaml.safe_load(Path(parameters_file).read_text()) or {}
        if not isinstance(loaded, dict):
            raise click.BadParameter("must be a YAML mapping of name: value", param_hint="--parameters-file")
        parameters.update(loaded)
    if hermetic:
        _use_hermetic_env()
        parameters.update(hermetic_parameters())
    if os.environ.get("KAFKALAB_STRIMZI_SOURCE"):
        parameters["strimzi_source"] = os.environ["KAFKALAB_STRIMZI_SOURCE"]
    for text in params:
        key, value = parse_parameter(text)
        parameters[key] = value
    if isinstance(parameters.get("strimzi_source"), str):
        parameters["strimzi_source"] = _absolute_source(parameters["strimzi_source"])
    out = Path(output or f"out/run-{dt.datetime.now():%Y%m%d-%H%M%S}")
    click.echo(f"notebooks → {out}   KUBECONFIG={os.environ.get('KUBECONFIG', '<default>')}")
    for k, v in parameters.items():
        click.echo(f"  {k} = {v!r}")
    summary = suite.run_suite(
        out,
        parameters,
        notebooks=list(notebooks) or None,
        cell_timeout=cell_timeout,
        on_start=lambda name: click.echo(f"{name} …", nl=False),
        on_result=lambda r: click.echo(
            f" {r.status} ({r.seconds:.0f}s)" + (f"\n  {r.error}" if r.error else "")
        ),
    )
    skipped = [r.notebook for r in summary.results if r.status == "skipped"]
    if skipped:
        click.echo("skipped after the failure: " + ", ".join(skipped))
    click.echo(f"summary: {out / 'summary.md'}")
    if not summary.ok:
        failed = summary.failed
        click.echo(
            f"FAILED: {failed.notebook if failed else '?'} — open it in {out} to see the cell.", err=True
        )
        sys.exit(1)
    click.echo(f"all {len(summary.results)} notebooks passed")


def _absolute_source(source: str) -> str:
    """A local Strimzi source as an absolute path: the kernels run in notebooks/, not where we started."""
    if "://" in source or os.path.isabs(os.path.expanduser(source)):
        return os.path.expanduser(source)
    here = Path.cwd() / source
    return str((here if here.exists() else ROOT / source).resolve())


def _use_hermetic_env() -> None:
    """Take KUBECONFIG/KAFKALAB_STRIMZI_SOURCE from the hermetic run dir's env file, unless already set."""
    env_file = Path(os.environ.get("KAFKALAB_HERMETIC_DIR", "/tmp/kafkalab-hermetic")) / "env"
    if not env_file.is_file():
        if os.environ.get("KUBECONFIG"):
            return  # the caller chose the cluster
        # Without it the notebooks would run against ~/.kube/config's current context, whatever that is.
        raise KafkalabError(
            f"the hermetic cluster is not up ({env_file} does not exist)",
            obj=str(env_file.parent),
            fix="`make hermetic-up` first (or set KUBECONFIG to the cluster to use)",
        )
    for line in env_file.read_text().splitlines():
        key, sep, value = line.removeprefix("export ").partition("=")
        if sep and key in ("KUBECONFIG", "KAFKALAB_STRIMZI_SOURCE") and not os.environ.get(key):
            os.environ[key] = value.strip().strip("'\"")


@main.command()
@click.option("--name", "kind_name", default="kafkalab", show_default=True, help="kind cluster name.")
@click.option("--namespace", default="kafka", show_default=True)
@click.option("--operator-namespace", default="strimzi", show_default=True)
@click.option("--strimzi-source", default=None, help="Strimzi install source the operator came from.")
@click.option(
    "--context", default=None, help="kube context (default: the kind cluster's, else the current one)."
)
@click.option("--keep-cluster", is_flag=True, help="Delete only kafkalab's namespace and operator.")
def down(kind_name, namespace, operator_namespace, strimzi_source, context, keep_cluster) -> None:
    """Delete the Kafka namespace, the operator, its namespace and (unless --keep-cluster) the kind cluster.

    With a kind cluster to delete, that alone removes everything. Otherwise (--keep-cluster, or a cluster
    that is not kind's) the objects are deleted from the cluster of --context.
    """
    from kafkalab import kind, kube, strimzi
    from kafkalab.errors import ClusterUnreachable

    has_kind = shutil.which("kind") is not None and _docker_running()[0] and kind.cluster_exists(kind_name)
    if has_kind and not keep_cluster:
        click.echo(f"deleting kind cluster {kind_name} (everything in it goes with it) …")
        kind.delete_cluster(kind_name)
        click.echo("done")
        return
    if not keep_cluster and context is None:
        # Never fall back to whatever the current context is: it may be someone's real cluster.
        click.echo(f"no kind cluster named {kind_name}: nothing to delete")
        click.echo(
            "(to remove kafkalab's namespaces from another cluster: down --keep-cluster [--context C])"
        )
        return
    if context is None and has_kind:
        context = kind.context_name(kind_name)
    try:
        kube.check_cluster(context)
        where = kube.current_context(context)
    except ClusterUnreachable as e:
        click.echo(f"no cluster to clean up ({e.summary})")
        return
    click.echo(f"cleaning up in context {where}")
    # The Kafka namespace first, while the operators still run: KafkaTopics carry the Topic Operator's
    # finalizer, and without it running their namespace would never finish terminating.
    click.echo(f"deleting namespace {namespace} …")
    kube.delete_namespace(namespace, context=context)
    source = strimzi_source or os.environ.get("KAFKALAB_STRIMZI_SOURCE") or strimzi.RELEASE_URL
    click.echo(f"uninstalling the Strimzi operator from {operator_namespace} …")
    strimzi.uninstall_operator(
        namespace=operator_namespace, watch_namespaces=(namespace,), source=source, context=context
    )
    click.echo(f"deleting namespace {operator_namespace} …")
    kube.delete_namespace(operator_namespace, context=context)
    click.echo("done")


if __name__ == "__main__":
    main()
