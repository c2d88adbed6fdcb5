"""The embedded AWS stand-in: moto's server for SQS, SNS, DynamoDB and S3 on one loopback port.

It keeps state in memory. Given a state folder it also answers ``POST /_toxic/snapshot`` (write
one consistent cut of its data there) and ``POST /_toxic/restore`` (load it back), which
``toxic up`` uses to keep state across restarts (see ``shared.emulator_gate`` and
``shared.emulator_state``). ``serve`` runs it in the foreground; :class:`EmulatorProcess` runs it
as a managed child of another command.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, Self

from shared.errors import ConfigurationError
from shared.settings import EmulatorSettings

__all__ = [
    "EmulatorProcess",
    "is_ready",
    "reset",
    "restore",
    "serve",
    "snapshot",
    "wait_until_ready",
]

_READY_PATH = "/moto-api/"
_RESET_PATH = "/moto-api/reset"


def is_ready(url: str, timeout: float = 1.0) -> bool:
    """True when a moto server answers at ``url``."""
    try:
        with urllib.request.urlopen(url + _READY_PATH, timeout=timeout) as response:  # noqa: S310
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def wait_until_ready(
    url: str, timeout: float = 30.0, alive: Callable[[], bool] = lambda: True
) -> None:
    """Block until the stand-in at ``url`` answers, or raise after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_ready(url):
            return
        if not alive():
            raise ConfigurationError(f"the AWS stand-in for {url} exited before it was ready")
        time.sleep(0.1)
    raise ConfigurationError(f"the AWS stand-in at {url} was not ready within {timeout:.0f}s")


def reset(url: str) -> None:
    """Erase every resource in the stand-in (tests use it between cases)."""
    request = urllib.request.Request(url + _RESET_PATH, method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        if response.status != 200:
            raise ConfigurationError(f"resetting the stand-in at {url} answered {response.status}")


def _post_state(url: str, route: str, timeout: float) -> dict[str, Any]:
    request = urllib.request.Request(f"{url}/_toxic/{route}", method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body: dict[str, Any] = json.loads(response.read())
            return body
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        raise ConfigurationError(f"the stand-in at {url} refused {route}: {detail}") from None


def snapshot(url: str, timeout: float = 60.0) -> dict[str, Any]:
    """Ask the stand-in at ``url`` to write a snapshot of its data into its state folder."""
    return _post_state(url, "snapshot", timeout)


def restore(url: str, timeout: float = 120.0) -> dict[str, Any]:
    """Ask the stand-in at ``url`` to load its state folder's snapshot into its resources."""
    return _post_state(url, "restore", timeout)


def _application(state_dir: Path | None) -> Any:
    """moto's WSGI app behind the gate; with a state folder, the snapshot routes too."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from shared.emulator_gate import Gate, StateLock, patch_long_polls
    from shared.emulator_state import Snapshotter

    lock = StateLock()
    patch_long_polls(lock)
    gate = Gate(DomainDispatcherApplication(create_backend_app), lock)
    if state_dir is not None:
        state_dir.mkdir(parents=True, exist_ok=True)
        snapshotter = Snapshotter(state_dir, lock, lambda: gate.changes)
        gate.add_route("snapshot", snapshotter.take)
        gate.add_route("restore", snapshotter.restore)
    return gate


def serve(
    settings: EmulatorSettings,
    announce: Callable[[str], None] = print,
    state_dir: Path | None = None,
) -> None:
    """Run moto's server in the foreground until SIGTERM or SIGINT."""
    # Imported here: moto's server pulls in every service backend, which only this process needs.
    from werkzeug.serving import WSGIRequestHandler, make_server

    from shared.emulator_heap import HeapFreezer
    from shared.emulator_patches import apply_patches

    apply_patches()
    HeapFreezer().start()

    class QuietHandler(WSGIRequestHandler):
        # One access-log line per AWS call drowns everything else; errors still go to stderr.
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            if str(code).startswith("5"):
                super().log_request(code, size)

    try:
        server = make_server(
            settings.host,
            settings.port,
            _application(state_dir),
            threaded=True,
            request_handler=QuietHandler,
        )
    except OSError as exc:
        raise ConfigurationError(
            f"cannot listen on {settings.host}:{settings.port} ({exc.strerror}); "
            "is another stand-in or LocalStack already running there?"
        ) from exc

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    kept = f"snapshots in {state_dir}" if state_dir is not None else "memory only"
    announce(f"AWS stand-in (moto) ready at {settings.url} (SQS, SNS, DynamoDB, S3; {kept})")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        signal.signal(signal.SIGTERM, previous)
        if state_dir is None:
            announce("AWS stand-in stopped; its state is gone")
        else:
            announce(f"AWS stand-in stopped; what it held lives on in snapshots in {state_dir}")


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ConfigurationError(
                f"port {port} on {host} is busy ({exc.strerror}); choose another with "
                "TOXIC_EMULATOR_PORT or stop what listens there"
            ) from None


class EmulatorProcess:
    """The stand-in as a child process: started, awaited until ready, and stopped on exit."""

    def __init__(
        self,
        settings: EmulatorSettings,
        *,
        startup_timeout: float = 30.0,
        state_dir: Path | None = None,
    ) -> None:
        self.settings = settings
        self._startup_timeout = startup_timeout
        self._state_dir = state_dir
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return self.settings.url

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("the stand-in has not been started")
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        if is_ready(self.url):
            raise ConfigurationError(
                f"an AWS stand-in already answers at {self.url}; stop it, or use it by setting "
                f"AWS_ENDPOINT_URL={self.url}"
            )
        _check_port_free(self.settings.host, self.settings.port)
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "services.cli",
                "emulator",
                "--host",
                self.settings.host,
                "--port",
                str(self.settings.port),
                *(["--state-dir", str(self._state_dir)] if self._state_dir else []),
            ],
            stdout=subprocess.DEVNULL,
        )
        process = self._process
        wait_until_ready(self.url, self._startup_timeout, alive=lambda: process.poll() is None)

    def stop(self, timeout: float = 10.0) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
