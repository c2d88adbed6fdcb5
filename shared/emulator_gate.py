"""One consistent cut of the stand-in's state: every AWS request holds a shared lock, a snapshot
holds it exclusively.

A snapshot must never see half a request: an SNS publish that reached the logger's queue but not
yet the monitoring's, or a monitoring transaction whose markers are written but not its counters.
So :class:`Gate` wraps moto's WSGI app and runs each request under :meth:`StateLock.shared`;
``snapshot`` and ``restore`` take :meth:`StateLock.exclusive`, which waits until no request is
inside moto and keeps new ones out until it is done (writer preference, so a busy stand-in cannot
starve a snapshot).

An SQS long poll sleeps inside moto for up to 20 s; holding the shared lock that long would stall
every snapshot behind it. While it sleeps it touches nothing, so :func:`patch_long_polls` lets it
step out of the lock for the wait and back in before it looks at the queue again.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

__all__ = ["Gate", "Route", "StateLock", "patch_long_polls"]

# A route answers (status, JSON body); it runs outside the shared lock and takes what it needs.
Route = Callable[[], tuple[int, dict[str, Any]]]

_ROUTE_PREFIX = "/_toxic/"
# Actions that read only: a stand-in that served nothing else since a snapshot has not changed.
_READ_ONLY_ACTIONS = ("Get", "List", "Describe", "Query", "Scan", "BatchGet", "Head")


class StateLock:
    """A readers-writer lock; readers are requests, the writer is a snapshot or a restore."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0
        self._local = threading.local()

    def _depth(self) -> int:
        return int(getattr(self._local, "depth", 0))

    def _acquire_shared(self) -> None:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1

    def _release_shared(self) -> None:
        with self._cond:
            self._readers -= 1
            if self._readers == 0:
                self._cond.notify_all()

    @contextmanager
    def shared(self) -> Iterator[None]:
        """Hold the lock with other requests; re-entrant within a thread."""
        depth = self._depth()
        if depth == 0:
            self._acquire_shared()
        self._local.depth = depth + 1
        try:
            yield
        finally:
            self._local.depth = depth
            if depth == 0:
                self._release_shared()

    @contextmanager
    def suspended(self) -> Iterator[None]:
        """Step out of this thread's shared hold for the block (a wait that touches no state)."""
        depth = self._depth()
        if depth == 0:
            yield
            return
        self._local.depth = 0
        self._release_shared()
        try:
            yield
        finally:
            self._acquire_shared()
            self._local.depth = depth

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the lock alone: no request is inside moto until the block ends."""
        if self._depth():
            raise RuntimeError("a thread holding the shared lock cannot take it exclusively")
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writer or self._readers:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


def patch_long_polls(lock: StateLock) -> None:
    """Let an SQS long poll release ``lock`` while it waits for messages."""
    from moto.sqs.models import Queue

    original = Queue.wait_for_messages
    if getattr(original, "_releases_state_lock", False):
        return

    def wait_for_messages(self: Any, timeout: int) -> None:
        with lock.suspended():
            original(self, timeout)

    wait_for_messages._releases_state_lock = True  # type: ignore[attr-defined]
    Queue.wait_for_messages = wait_for_messages  # type: ignore[method-assign]


def _action(environ: Mapping[str, Any]) -> str:
    """The AWS action a request names (JSON protocols' target header or the query string)."""
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    if target:
        return target.rsplit(".", 1)[-1]
    query = str(environ.get("QUERY_STRING", ""))
    for part in query.split("&"):
        if part.startswith("Action="):
            return part[len("Action=") :]
    return ""


def _received(body: bytes) -> bool:
    """Whether a ReceiveMessage answer holds messages (JSON or XML protocol)."""
    return b'"Messages"' in body or b"<Message>" in body


class Gate:
    """WSGI middleware: requests under the shared lock, ``/_toxic/*`` routes beside them."""

    def __init__(self, app: Any, lock: StateLock) -> None:
        self._app = app
        self._lock = lock
        self._routes: dict[str, Route] = {}
        self._changes = 0
        self._counter = threading.Lock()

    def add_route(self, name: str, route: Route) -> None:
        """Answer ``POST /_toxic/<name>`` with ``route``."""
        self._routes[name] = route

    @property
    def changes(self) -> int:
        """How many requests that may have changed state have been served."""
        return self._changes

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO", ""))
        if path.startswith(_ROUTE_PREFIX):
            return self._route(path[len(_ROUTE_PREFIX) :], environ, start_response)
        method = str(environ.get("REQUEST_METHOD", "GET"))
        action = _action(environ)
        changes = method not in ("GET", "HEAD") and not action.startswith(_READ_ONLY_ACTIONS)
        with self._lock.shared():
            try:
                result = self._app(environ, start_response)
                try:
                    # Read the whole body inside the lock: moto may build it from its state.
                    body = b"".join(result)
                finally:
                    close = getattr(result, "close", None)
                    if close is not None:
                        close()
                if action == "ReceiveMessage" and not _received(body):
                    # Idle long polls end every 20 s per consumer and change nothing. (One may
                    # move a message past its receive limit to its DLQ: until another change
                    # is snapshotted, a restore only puts it back to be moved again.)
                    changes = False
                return [body]
            finally:
                if changes:
                    # Counted inside the hold, after the effect: a snapshot that reads the count
                    # holds the lock alone, so every counted effect is in its cut.
                    with self._counter:
                        self._changes += 1

    def _route(
        self, name: str, environ: Mapping[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        route = self._routes.get(name)
        if route is None:
            status, body = 404, {"error": f"no route {name!r}; have {sorted(self._routes)}"}
        elif environ.get("REQUEST_METHOD") != "POST":
            status, body = 405, {"error": "use POST"}
        else:
            try:
                status, body = route()
            except Exception as exc:  # the caller gets the reason; the stand-in stays up
                status, body = 500, {"error": f"{type(exc).__name__}: {exc}"}
        data = json.dumps(body).encode()
        reason = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict"}
        start_response(
            f"{status} {reason.get(status, 'Error')}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
        )
        return [data]
