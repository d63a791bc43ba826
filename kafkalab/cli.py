"""The `kafkalab` command: doctor, up, run, handout, edition, down — thin over the library.

Library errors (KafkalabError) are shown as their readable message (what, which object, the fix) with exit
code 1, never as a traceback: a person at a terminal needs the fix line, not our stack.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from kafkalab import tiers
from kafkalab.errors import KafkalabError

__all__ = ["main", "Check", "doctor_checks", "notebook_requests", "parse_parameter", "hermetic_parameters"]

ROOT = Path(__file__).resolve().parent.parent  # the checkout (kafkalab is installed editable from it)

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
MIN_KIND = (0, 31, 0)  # the kind Strimzi 1.2.0's CI uses; kind.NODE_IMAGE was built for it

# What the notebooks ask Kubernetes for, besides the manifests' own requests (read from manifests/):
# - the Strimzi operator: cpu 200m as Strimzi 1.2.0's 060-Deployment requests it; memory 768Mi, the limit (and
#   request) kafkalab gives it instead of Strimzi's 384Mi, which is known to be OOMKilled on laptops;
# - kind's own pods (kubeadm's and kind's defaults, in the node image): kube-apiserver 250m,
#   kube-controller-manager 200m, kube-scheduler 100m, etcd 100m/100Mi, CoreDNS 2 x 100m/70Mi,
#   kindnet 100m/50Mi.
OPERATOR_REQUESTS = (200, 768)  # (cpu millicores, memory MiB)
KIND_SYSTEM_REQUESTS = (950, 290)
# What runs at once: notebooks 03-05 need the operator and my-cluster; notebook 06 adds secure-cluster.
NOTEBOOK_CLUSTERS = {
    "notebooks 03-05": ("kafka-single-node.yaml",),
    "notebook 06": ("kafka-single-node.yaml", "kafka-secured.yaml"),
    # 06 keeps secure-cluster by default (teardown = False), so 08's three nodes come on top of both
    "notebook 08": ("kafka-single-node.yaml", "kafka-secured.yaml", "kafka-three-brokers.yaml"),
}


@dataclass
class Check:
    """One line of `kafkalab doctor`."""

    name: str
    ok: bool
    detail: str
    required: bool = True
    hint: str = ""
    kind_only: bool = False  # only matters when kafkalab creates the kind cluster


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


def doctor_checks(
    hermetic: bool = False,
    kind_config: str | None = None,
    node_image: str | None = None,
    kind_name: str = "kafkalab",
) -> list[Check]:
    """What kafkalab needs, checked. hermetic=True: the hermetic cluster's needs instead of Docker/kind.

    kind_config and node_image: what the kind cluster will be made from (default manifests/kind-config.yaml
    and the image it names), for the checks that depend on them (cgroup v1, kubectl skew, host ports).
    """
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
        only = tool in ("docker", "kind")
        if shutil.which(tool) is None:
            checks.append(Check(tool, False, "not found on PATH", hint=INSTALL_HINTS[tool], kind_only=only))
            continue
        rc, out = _run(VERSION_COMMANDS[tool])
        first = out.splitlines()[0] if out else ""
        checks.append(
            Check(tool, rc == 0, first or f"exit code {rc}", hint=INSTALL_HINTS[tool], kind_only=only)
        )
    if not hermetic:
        checks += kind_checks(kind_config, node_image, kind_name)
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


def _docker_info() -> tuple[dict | None, str]:
    rc, out = _run(["docker", "info", "--format", "{{json .}}"])
    if rc == 0:
        try:
            info = json.loads(out.splitlines()[-1])
            if isinstance(info, dict):
                return info, ""
        except (ValueError, IndexError):
            pass
    return None, (out.splitlines()[-1] if out else "no answer")


def _version(text: str) -> tuple[int, ...] | None:
    m = re.search(r"v?(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    return tuple(int(g or 0) for g in m.groups()) if m else None


def _kind_plan(kind_config: str | None, node_image: str | None) -> tuple[dict, str]:
    """The kind config (parsed) and the node image the cluster will run."""
    import yaml

    from kafkalab import kind, strimzi

    config = yaml.safe_load(strimzi.manifest_path(kind_config or "kind-config.yaml").read_text()) or {}
    named = next((n.get("image") for n in config.get("nodes") or [] if n.get("image")), None)
    return config, node_image or named or kind.NODE_IMAGE


def notebook_requests() -> dict[str, tuple[int, int]]:
    """(CPU millicores, memory MiB) the notebooks request at once, per stage, kind's own pods included."""
    from kafkalab import strimzi

    def cpu(v) -> int:
        text = str(v or 0)
        return int(text[:-1]) if text.endswith("m") else int(float(text) * 1000)

    def mib(v) -> int:
        text = str(v or 0)
        for suffix, factor in (("Gi", 1024), ("Mi", 1), ("Ki", 1 / 1024)):
            if text.endswith(suffix):
                return round(float(text[: -len(suffix)]) * factor)
        return round(int(text) / 2**20)

    def requests(manifest: str) -> tuple[int, int]:
        total_cpu = total_mem = 0
        for obj in strimzi.load_manifest(manifest):
            spec = obj.get("spec") or {}
            parts = []
            if obj["kind"] == "KafkaNodePool":
                parts = [(spec.get("replicas", 1), spec.get("resources"))]
            elif obj["kind"] == "Kafka":
                eo = spec.get("entityOperator") or {}
                parts = [(1, (eo.get(p) or {}).get("resources")) for p in ("topicOperator", "userOperator")]
            for replicas, res in parts:
                req = (res or {}).get("requests") or {}
                total_cpu += replicas * cpu(req.get("cpu"))
                total_mem += replicas * mib(req.get("memory"))
        return total_cpu, total_mem

    out = {}
    for stage, manifests in NOTEBOOK_CLUSTERS.items():
        parts = [OPERATOR_REQUESTS, KIND_SYSTEM_REQUESTS, *(requests(m) for m in manifests)]
        out[stage] = (sum(c for c, _ in parts), sum(m for _, m in parts))
    return out


def _port_free(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET) as s:
        try:
            s.bind((address, port))
        except OSError:
            return False
    return True


def kind_checks(kind_config: str | None, node_image: str | None, kind_name: str) -> list[Check]:
    """Docker (daemon, cgroup version, CPUs, memory), kind's version, kubectl's skew, the host ports."""
    from kafkalab import kind

    checks: list[Check] = []
    config, image = _kind_plan(kind_config, node_image)
    k8s = _version(image.partition(":")[2]) or (0, 0, 0)
    checks += _tool_version_checks(k8s)
    if not shutil.which("docker"):
        return checks
    info, why = _docker_info()
    if info is None:
        checks.append(
            Check(
                "docker daemon",
                False,
                why,
                hint="start Docker (Docker Desktop, or `sudo systemctl start docker`)",
                kind_only=True,
            )
        )
        return checks
    checks.append(Check("docker daemon", True, f"daemon {info.get('ServerVersion', '?')}", kind_only=True))
    patched = "failCgroupV1: false" in json.dumps(config.get("kubeadmConfigPatches") or [])
    cgroup = str(info.get("CgroupVersion") or "")
    if cgroup == "1" and k8s >= (1, 35) and not patched:
        checks.append(
            Check(
                "docker cgroup",
                False,
                f"cgroup v1: the kubelet of {image.split('@')[0]} (Kubernetes 1.35+) refuses to start on it",
                hint="best: switch the host (or Docker Desktop's VM) to cgroup v2. Or let the kubelet run "
                f"on cgroup v1: add to a copy of manifests/kind-config.yaml\n{kind.CGROUP_V1_PATCH}\n"
                "and pass it: `kafkalab up --kind-config FILE`, `kafkalab run -p kind_config=FILE`",
                kind_only=True,
            )
        )
    else:
        note = " (kubelet patched: failCgroupV1: false)" if cgroup == "1" and patched else ""
        checks.append(Check("docker cgroup", True, f"cgroup v{cgroup or '?'}{note}", kind_only=True))
    checks += _capacity_checks(info)
    checks.append(_ports_check(config, kind_name))
    return checks


def _tool_version_checks(k8s: tuple[int, ...]) -> list[Check]:
    checks = []
    if shutil.which("kind"):
        rc, out = _run(VERSION_COMMANDS["kind"])
        have = _version(out) if rc == 0 else None
        if have is not None:
            want = ".".join(map(str, MIN_KIND))
            checks.append(
                Check(
                    "kind version",
                    have >= MIN_KIND,
                    f"v{'.'.join(map(str, have))}" + ("" if have >= MIN_KIND else f", older than v{want}"),
                    required=False,
                    hint=f"kind v{want} or newer (what Strimzi 1.2.0's CI uses): `go install "
                    f"sigs.k8s.io/kind@v{want}`; an older kind may not start the pinned node image",
                    kind_only=True,
                )
            )
    if shutil.which("kubectl") and k8s > (0, 0, 0):
        rc, out = _run(["kubectl", "version", "--client", "-o", "json"])
        try:
            have = _version(json.loads(out)["clientVersion"]["gitVersion"]) if rc == 0 else None
        except (ValueError, KeyError, TypeError):
            have = None
        if have is not None:
            skew = abs(have[1] - k8s[1]) if have[0] == k8s[0] else 99
            server = f"v{k8s[0]}.{k8s[1]}"
            checks.append(
                Check(
                    "kubectl skew",
                    skew <= 1,
                    f"kubectl v{have[0]}.{have[1]}, node image Kubernetes {server}",
                    required=False,
                    hint=f"kubectl supports API servers one minor version apart: install kubectl {server} "
                    "(https://kubernetes.io/docs/tasks/tools/)",
                    kind_only=True,
                )
            )
    return checks


def _capacity_checks(info: dict) -> list[Check]:
    need = notebook_requests()
    cpus, mem_mib = int(info.get("NCPU") or 0), int(info.get("MemTotal") or 0) // 2**20
    first, peak = need["notebooks 03-05"], need["notebook 08"]
    checks = []
    if cpus:
        ok, enough = cpus * 1000 >= peak[0], cpus * 1000 >= first[0]
        checks.append(
            Check(
                "docker cpus",
                ok,
                f"{cpus} CPUs; the notebooks request {first[0] / 1000:.2f} (03-05), {peak[0] / 1000:.2f} "
                "(08, with 06's cluster kept: three Kafka clusters), kind's own pods included",
                required=not enough,
                hint="give Docker more CPUs (Docker Desktop: Settings → Resources); with fewer, the last "
                "pods stay Pending (Insufficient cpu)",
                kind_only=True,
            )
        )
    if mem_mib:
        ok, enough = mem_mib >= peak[1], mem_mib >= first[1]
        checks.append(
            Check(
                "docker memory",
                ok,
                f"{mem_mib / 1024:.1f} GiB; the notebooks request {first[1] / 1024:.1f} GiB (03-05), "
                f"{peak[1] / 1024:.1f} GiB (08, with 06's cluster kept), kind's own pods included",
                required=not enough,
                hint="give Docker more memory (Docker Desktop: Settings → Resources). What asks for it: each "
                "Kafka node 768Mi with a 384m heap (manifests/kafka-*.yaml), the Strimzi operator 768Mi (its "
                "limit raised from Strimzi's 384Mi, the fix for it being OOMKilled), each entity operator "
                "512Mi, kind's own pods 290Mi",
                kind_only=True,
            )
        )
    return checks


def _ports_check(config: dict, kind_name: str) -> Check:
    wanted = [
        (m.get("listenAddress") or "0.0.0.0", int(m["hostPort"]))
        for n in config.get("nodes") or []
        for m in n.get("extraPortMappings") or []
        if m.get("hostPort")
    ]
    shown = ", ".join(str(p) for _, p in wanted)
    if shutil.which("kind") and kind_name in _run(["kind", "get", "clusters"])[1].split():
        return Check("host ports", True, f"{shown}: kind cluster {kind_name} exists (reused)", kind_only=True)
    busy = [f"{a}:{p}" for a, p in wanted if not _port_free(a, p)]
    return Check(
        "host ports",
        not busy,
        f"in use: {', '.join(busy)}" if busy else f"{shown} free",
        hint="another kind cluster (`kind get clusters`, `kind delete cluster --name <it>`) or program holds "
        "them (`ss -ltnp` on Linux, `lsof -iTCP -sTCP:LISTEN` on macOS); or map other ports in a copy of "
        "manifests/kind-config.yaml together with the Kafka manifests' nodePorts",
        kind_only=True,
    )


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
    """Notebook parameters for the hermetic cluster (as tests/notebooks/hermetic.yaml): no kind, the current
    context, Strimzi from $KAFKALAB_STRIMZI_SOURCE or the cached release, short waits, no in-cluster pods."""
    from kafkalab import strimzi

    environ = os.environ if environ is None else environ
    source = environ.get(strimzi.SOURCE_ENV) or strimzi.RELEASE_URL
    return {
        "create_kind_cluster": False,
        "strimzi_source": _absolute_source(source),
        "kube_context": None,
        # brokers are local JVMs and pods go Running on paper: a stuck wait should fail fast
        "timeout_s": 180,
        # pods never execute a container there: notebook 05's console producer/consumer cannot run
        "in_cluster_pods": False,
    }


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
@click.option(
    "--kind-config", default=None, help="kind config to check for (default manifests/kind-config.yaml)."
)
@click.option("--node-image", default=None, help="kind node image to check for (default: the config's).")
@click.option("--name", "kind_name", default="kafkalab", show_default=True, help="kind cluster name.")
def doctor(hermetic: bool, kind_config: str | None, node_image: str | None, kind_name: str) -> None:
    """Check Python packages, tools, Docker (cgroups, CPUs, memory), kind, kubectl and the host ports."""
    problems = warnings = 0
    for c in doctor_checks(hermetic, kind_config, node_image, kind_name):
        label = "ok" if c.ok else "MISSING" if c.required else "warn"
        mark = click.style(f"{label:<7}", fg="green" if c.ok else "red")
        click.echo(f"{mark} {c.name:<14} {c.detail}")
        if not c.ok:
            hint = c.hint.replace("\n", "\n" + " " * 28)  # a multi-line hint (a YAML snippet) stays aligned
            click.echo(f"{'':<8}{'':<14} fix: {hint}")
            problems += c.required
            warnings += not c.required
    if problems:
        click.echo(f"\n{problems} required thing(s) missing.")
        if not hermetic:
            click.echo(
                "No Docker? `make hermetic-run` runs this suite on the hermetic cluster, "
                "and `make test` runs every test there."
            )
        sys.exit(1)
    click.echo("\nAll required tools found." + (f" {warnings} warning(s) above." if warnings else ""))


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
@click.option("--kind-config", default=None, help="kind config file (default manifests/kind-config.yaml).")
@click.option("--node-image", default=None, help="kind node image (default: the one the kind config names).")
def up(
    kind_name, namespace, cluster, operator_namespace, strimzi_source, timeout, kind_config, node_image
) -> None:
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
    context = kind.ensure_cluster(kind_name, config=kind_config, image=node_image)
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
@click.option(
    "--tier",
    type=click.Choice(tiers.TIERS),
    default=None,
    help="The cluster: kind (Docker + kind, real Strimzi), hermetic (the built-in cluster, no Docker), "
    "context (the kube context as it is). Default: the best this machine can give.",
)
@click.option("--hermetic", is_flag=True, hidden=True, help="Same as --tier hermetic.")
@click.option("--notebook", "-n", "notebooks", multiple=True, help="Only these notebooks (e.g. -n 03 -n 04).")
@click.option(
    "--edition",
    default=None,
    metavar="LANG",
    help="Run a translated edition (e.g. ja: notebooks/ja, the same code with Japanese text).",
)
@click.option("--cell-timeout", default=1800, show_default=True, help="Seconds per cell.")
@click.option(
    "--check-outputs/--no-check-outputs",
    default=True,
    show_default=True,
    help="Compare the checked cells (# NBVAL_CHECK_OUTPUT) with their stored outputs, as nbval would.",
)
def run(
    output, parameters_file, params, tier, hermetic, notebooks, edition, cell_timeout, check_outputs
) -> None:
    """Run the notebook suite in order with papermill on the best cluster this machine can give; write the
    executed notebooks, summary.md/json and junit.xml.

    Parameters come from --parameters-file, then the tier's (hermetic), then $KAFKALAB_STRIMZI_SOURCE, then
    each -p. Each notebook gets the ones it declares.
    """
    import yaml

    parameters: dict = {}
    if parameters_file:
        loaded = yaml.safe_load(Path(parameters_file).read_text()) or {}
        if not isinstance(loaded, dict):
            raise click.BadParameter("must be a YAML mapping of name: value", param_hint="--parameters-file")
        parameters.update(loaded)
    given = dict(parameters)
    for text in params:
        key, value = parse_parameter(text)
        given[key] = value
    from kafkalab import suite

    # a wrong -n or --edition fails before any cluster starts
    suite.find_notebooks(suite.notebooks_dir(edition), notebooks)
    options = (notebooks, edition, cell_timeout, check_outputs)
    chosen = tiers.choose("hermetic" if hermetic and not tier else tier, given)
    click.echo(f"cluster: {chosen}")
    if chosen.name == "hermetic":
        stop = tiers.start_hermetic()
        try:
            _use_hermetic_env()
            parameters.update(hermetic_parameters())
            _run_suite(output, parameters, params, chosen, *options)
        finally:
            if stop:
                click.echo("stopping the built-in hermetic cluster (it was started for this run) …")
                tiers.stop_hermetic()
        return
    if chosen.name == "kind":
        parameters.setdefault("create_kind_cluster", True)
    else:
        parameters.setdefault("create_kind_cluster", False)
    _run_suite(output, parameters, params, chosen, *options)


def _run_suite(output, parameters, params, chosen, notebooks, edition, cell_timeout, check_outputs) -> None:
    from kafkalab import suite

    if os.environ.get("KAFKALAB_STRIMZI_SOURCE"):
        parameters["strimzi_source"] = os.environ["KAFKALAB_STRIMZI_SOURCE"]
    for text in params:
        key, value = parse_parameter(text)
        parameters[key] = value
    if isinstance(parameters.get("strimzi_source"), str):
        parameters["strimzi_source"] = _absolute_source(parameters["strimzi_source"])
    config = parameters.get("kind_config")
    if isinstance(config, str) and (Path.cwd() / config).is_file():  # else a name in manifests/
        parameters["kind_config"] = str((Path.cwd() / config).resolve())  # the kernels run in notebooks/
    out = Path(output or f"out/run-{dt.datetime.now():%Y%m%d-%H%M%S}")
    click.echo(f"notebooks → {out}   KUBECONFIG={os.environ.get('KUBECONFIG', '<default>')}")
    for k, v in parameters.items():
        click.echo(f"  {k} = {v!r}")

    def show(r) -> None:
        click.echo(f" {r.status} ({r.seconds:.0f}s)")
        if r.error:
            click.echo("\n".join("    " + line for line in r.error.splitlines()))

    summary = suite.run_suite(
        out,
        parameters,
        notebooks=list(notebooks) or None,
        cell_timeout=cell_timeout,
        on_start=lambda name: click.echo(f"{name} …", nl=False),
        on_result=show,
        check_outputs=check_outputs,
        tier=str(chosen),
        edition=edition,
    )
    if summary.unused:
        click.echo("declared by no notebook that ran, so not passed: " + ", ".join(summary.unused))
    skipped = [r.notebook for r in summary.results if r.status == "skipped"]
    if skipped:
        click.echo("skipped after the failure: " + ", ".join(skipped))
    click.echo(f"summary: {out / 'summary.md'}   JUnit: {out / 'junit.xml'}")
    if not summary.ok:
        failed = summary.failed
        click.echo(
            f"FAILED: {failed.notebook if failed else '?'} — open it in {out} to see the cell.", err=True
        )
        sys.exit(1)
    where = chosen.name + (f", {edition} edition" if edition else "")
    click.echo(f"all {len(summary.results)} notebooks passed ({where})")


def _absolute_source(source: str) -> str:
    """A local Strimzi source as an absolute path: the kernels run in notebooks/, not where we started."""
    if "://" in source or os.path.isabs(os.path.expanduser(source)):
        return os.path.expanduser(source)
    here = Path.cwd() / source
    return str((here if here.exists() else ROOT / source).resolve())


def _use_hermetic_env() -> None:
    """Point this process (and the kernels it starts) at the hermetic cluster: KUBECONFIG from its run dir's
    env file, whatever it was before (never a context the user happened to have), and its Strimzi source
    unless $KAFKALAB_STRIMZI_SOURCE names one."""
    env_file = tiers.hermetic_dir() / "env"
    if not env_file.is_file():
        raise KafkalabError(
            f"the hermetic cluster is not up ({env_file} does not exist)",
            obj=str(env_file.parent),
            fix="`make hermetic-up`, or `kafkalab run --tier hermetic` (starts it)",
        )
    for line in env_file.read_text().splitlines():
        key, sep, value = line.removeprefix("export ").partition("=")
        if sep and (key == "KUBECONFIG" or (key == "KAFKALAB_STRIMZI_SOURCE" and not os.environ.get(key))):
            os.environ[key] = value.strip().strip("'\"")


@main.command()
@click.argument("lang")
@click.option("--check", "check_only", is_flag=True, help="Only check; exit 1 listing what is not in order.")
@click.option(
    "--template",
    is_flag=True,
    help="Print the missing and stale entries as YAML skeletons (the English as comments) to fill in.",
)
@click.option("--notebook", "-n", "notebooks", multiple=True, help="--template: only these notebooks.")
def edition(lang, check_only, template, notebooks) -> None:
    """Build notebooks/LANG (e.g. ja) from the English notebooks and the catalog notebooks/i18n/LANG/.

    Markdown cells get their translation; code cells, outputs and metadata are copied unchanged. --check
    lists missing, stale (the English changed since) and orphan entries and out-of-date notebooks.
    """
    from kafkalab import edition as editions

    if template:
        text = editions.template(lang, notebooks=notebooks)
        click.echo(text.rstrip("\n") if text else f"# nothing to translate: the {lang} catalog is complete")
        return
    if check_only:
        report = editions.check(lang)
        click.echo(str(report))
        if not report.ok:
            click.echo(
                f"fix: translate with `kafkalab edition {lang} --template`, then `kafkalab edition {lang}`",
                err=True,
            )
            sys.exit(1)
        return
    written = editions.build(lang)
    report = editions.check(lang)
    base = editions.edition_dir(lang)
    click.echo(f"{len(written)} notebook(s) written to {base}" + (": " if written else ""), nl=not written)
    if written:
        click.echo(", ".join(p.name for p in written))
    english = [p for p in report.problems if p.kind in ("missing", "stale")]
    if english:
        click.echo(
            f"{len(english)} markdown cell(s) left in English (missing or stale entries): "
            f"`kafkalab edition {lang} --check` lists them"
        )
    orphans = report.of("orphan")
    if orphans:
        click.echo("orphan entries: " + "; ".join(map(str, orphans)))
    for note in report.notes:
        click.echo(str(note))


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--output", "-o", default="out/handout", show_default=True, help="Directory for the site.")
@click.option("--pdf", is_flag=True, help="Also print every page to OUTPUT/pdf/ (headless Chromium).")
def handout(run_dir, output, pdf) -> None:
    """Build the handout site (HTML, offline) from RUN_DIR, the output of `kafkalab run --output RUN_DIR`."""
    from kafkalab import handout as handouts

    made = handouts.build_handout(run_dir, output, pdf=pdf)
    click.echo(f"{len(made.pages)} pages → {made.index}")
    if made.pdfs:
        click.echo(f"{len(made.pdfs)} PDFs → {made.pdfs[0].parent}")


@main.command()
@click.option("--name", "kind_name", default="kafkalab", show_default=True, help="kind cluster name.")
@click.option("--namespace", default="kafka", show_default=True)
@click.option("--operator-namespace", default="strimzi", show_default=True)
@click.option("--strimzi-source", default=None, help="Strimzi install source the operator came from.")
@click.option(
    "--context", default=None, help="kube context (default: the kind cluster's, else the current one)."
)
@click.option("--keep-cluster", is_flag=True, help="Delete only kafkalab's objects, never the kind cluster.")
@click.option("--timeout", default=300, show_default=True, help="Seconds to wait for each step.")
def down(kind_name, namespace, operator_namespace, strimzi_source, context, keep_cluster, timeout) -> None:
    """Delete what kafkalab made: the kind cluster if kafkalab created it, else kafkalab's objects only.

    Objects go in the order Strimzi needs: users and topics (their finalizers released), Kafka and node
    pools, the operator (unless it still serves another Kafka), then the namespaces kafkalab created that
    hold nothing of anyone else's. What is left is listed with the reason.
    """
    from kafkalab import kind, kube, strimzi
    from kafkalab.errors import ClusterUnreachable

    has_kind = False
    if shutil.which("kind") is not None:
        running, why = _docker_running()
        if not running and not keep_cluster:
            # Without Docker kind cannot say whether the cluster exists: "nothing to delete" would be a guess.
            raise KafkalabError(
                f"cannot check for kind cluster {kind_name}: Docker is not running ({why})",
                obj=f"kind cluster {kind_name}",
                fix="start Docker (Docker Desktop, or `sudo systemctl start docker`), then run "
                "`kafkalab down` again",
            )
        has_kind = running and kind.cluster_exists(kind_name)
    ours = has_kind and kind.is_ours(kind_name)
    if ours and not keep_cluster and context is None:
        click.echo(f"deleting kind cluster {kind_name} (kafkalab made it; everything in it goes with it) …")
        kind.delete_cluster(kind_name)
        click.echo("done")
        return
    if has_kind and not ours:
        click.echo(f"kind cluster {kind_name} was not created by kafkalab: it stays")
    if not keep_cluster and context is None and not has_kind:
        # Never fall back to whatever the current context is: it may be someone's real cluster.
        click.echo(f"no kind cluster named {kind_name}: nothing to delete")
        click.echo("(to remove kafkalab's objects from another cluster: down --keep-cluster [--context C])")
        return
    if context is None and has_kind:
        context = kind.context_name(kind_name)
    try:
        kube.check_cluster(context)
        where = kube.current_context(context)
    except ClusterUnreachable as e:
        click.echo(f"no cluster to clean up ({e.summary})")
        return
    if not ours or context != kind.context_name(kind_name):
        click.echo(f"context {where} is not a kind cluster kafkalab made: deleting only what kafkalab marked")
    click.echo(f"cleaning up in context {where}")
    source = strimzi_source or os.environ.get("KAFKALAB_STRIMZI_SOURCE") or None
    for step, result in strimzi.teardown(namespace, operator_namespace, source, timeout, context):
        click.echo(f"{step}: {result}")
    click.echo("done")


if __name__ == "__main__":
    main()
