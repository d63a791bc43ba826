"""A small level-triggered work queue, as controllers use: kick a key, and it gets reconciled.

Why not kopf's own handler machinery: kopf's change handlers keep their progress in annotations and
finalizers on the resource, but a Strimzi operator leaves a Kafka's metadata alone (and must leave
resources in unwatched namespaces completely untouched). So kopf only watches, and every event kicks a key
here; the reconcile function reads the object fresh and makes the world match it. One key never runs twice
at once; a kick during a run makes it run once more afterwards; a reconcile may ask to be run again later
(by returning a delay), which is how waiting on something else (a broker, the operator) is done.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor

__all__ = ["WorkQueue"]

log = logging.getLogger("standin.queue")


class WorkQueue:
    def __init__(self, reconcile: Callable[[Hashable], float | None], workers: int = 6) -> None:
        self._reconcile = reconcile
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="reconcile")
        self._cond = threading.Condition()
        self._due: list[tuple[float, int, Hashable]] = []  # heap of (when, seq, key); stale entries skipped
        self._next: dict[Hashable, float] = {}  # the one valid due time per key (the earliest asked for)
        self._seq = 0
        self._running: set[Hashable] = set()
        self._again: set[Hashable] = set()  # kicked while running
        self._stopped = False
        self._thread = threading.Thread(target=self._dispatch, name="workqueue", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def kick(self, key: Hashable, delay: float = 0.0) -> None:
        with self._cond:
            if key in self._running and delay == 0:
                self._again.add(key)
                return
            self._schedule(key, time.monotonic() + delay)

    def _schedule(self, key: Hashable, when: float) -> None:
        # caller holds the lock; keeps only the earliest due time of a key
        if key in self._next and self._next[key] <= when:
            return
        self._next[key] = when
        self._seq += 1
        heapq.heappush(self._due, (when, self._seq, key))
        self._cond.notify_all()

    def _dispatch(self) -> None:
        with self._cond:
            while not self._stopped:
                now = time.monotonic()
                if not self._due:
                    self._cond.wait()
                    continue
                when, _, key = self._due[0]
                if when > now:
                    self._cond.wait(when - now)
                    continue
                heapq.heappop(self._due)
                if self._next.get(key) != when:
                    continue  # superseded by an earlier schedule of the same key
                del self._next[key]
                if key in self._running:
                    self._again.add(key)
                    continue
                self._running.add(key)
                self._pool.submit(self._run, key)

    def _run(self, key: Hashable) -> None:
        retry = None
        try:
            retry = self._reconcile(key)
        except Exception:  # noqa: BLE001 - a bug in one reconcile must not stop the operator
            log.exception("reconcile of %s failed; retrying in 10s", key)
            retry = 10.0
        with self._cond:
            self._running.discard(key)
            if key in self._again:
                self._again.discard(key)
                retry = 0.0
            if retry is not None and not self._stopped:
                self._schedule(key, time.monotonic() + retry)
            self._cond.notify_all()
