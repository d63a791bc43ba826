"""The kafkalab exception family.

Every error names the object it is about and one line of what to do next, because a learner reading a
notebook traceback should not have to decode an HTTP body to know where to look.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for the annotation; kube imports this module, not the other way round
    from kafkalab.kube import Diagnosis

__all__ = [
    "KafkalabError",
    "ClusterUnreachable",
    "ManifestRejected",
    "ResourceFailed",
    "WaitTimeout",
    "MissingTool",
    "NotFound",
    "KafkaUnreachable",
]


class KafkalabError(Exception):
    """Base of every error kafkalab raises on purpose."""

    def __init__(self, summary: str, *, obj: str | None = None, fix: str | None = None):
        super().__init__(summary)
        self.summary = summary
        self.obj = obj
        self.fix = fix

    def __str__(self) -> str:
        lines = [self.summary]
        if self.obj:
            lines.append(f"  object: {self.obj}")
        if self.fix:
            lines.append(f"  fix: {self.fix}")
        return "\n".join(lines)


class ClusterUnreachable(KafkalabError):
    """The Kubernetes API server cannot be reached (no kube config, wrong context, cluster down)."""

    def __init__(
        self, summary: str, *, context: str | None = None, obj: str | None = None, fix: str | None = None
    ):
        super().__init__(summary, obj=obj, fix=fix)
        self.context = context


class ManifestRejected(KafkalabError):
    """The API server refused an object on apply (HTTP 4xx); carries the server's own message."""

    def __init__(self, summary: str, *, status: int | None = None, server_message: str = "", **kw):
        super().__init__(summary, **kw)
        self.status = status
        self.server_message = server_message


class ResourceFailed(KafkalabError):
    """A resource (or one of its pods) failed in a way waiting will not heal; `diagnosis` shows the pods."""

    def __init__(
        self,
        summary: str,
        *,
        reason: str = "",
        message: str = "",
        diagnosis: Diagnosis | None = None,
        **kw,
    ):
        super().__init__(summary, **kw)
        self.reason = reason
        self.message = message
        self.diagnosis = diagnosis

    def __str__(self) -> str:
        return _with_diagnosis(super().__str__(), self.diagnosis)


class WaitTimeout(KafkalabError):
    """A wait ran out of time; `diagnosis` holds conditions, recent events and log lines."""

    def __init__(
        self, summary: str, *, diagnosis: Diagnosis | None = None, timeout: float | None = None, **kw
    ):
        super().__init__(summary, **kw)
        self.diagnosis = diagnosis
        self.timeout = timeout

    def __str__(self) -> str:
        return _with_diagnosis(super().__str__(), self.diagnosis)


class MissingTool(KafkalabError):
    """A command-line tool kafkalab needs (docker, kind, kubectl) is not on PATH."""

    def __init__(self, tool: str, install: str):
        super().__init__(f"`{tool}` is not installed or not on PATH", obj=tool, fix=install)
        self.tool = tool
        self.install = install


class NotFound(KafkalabError):
    """Something kafkalab was asked to use does not exist (an object, a listener, a file)."""


class KafkaUnreachable(KafkalabError):
    """A Kafka client could not connect to, or log in at, a listener's bootstrap address."""


def _with_diagnosis(text: str, diagnosis: Diagnosis | None) -> str:
    return text if diagnosis is None else text + "\n" + _indent(str(diagnosis), "  ")


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())
