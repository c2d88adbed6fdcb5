"""The embedded AWS stand-in: moto's server for SQS, SNS, DynamoDB and S3 on one loopback port.

It keeps state in memory only; stopping it erases everything. ``serve`` runs it in the
foreground; :class:`EmulatorProcess` runs it as a managed child of another command.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Self

from shared.errors import ConfigurationError
from shared.settings import EmulatorSettings

__all__ = ["EmulatorProcess", "is_ready", "reset", "serve", "wait_until_ready"]

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


def serve(settings: EmulatorSettings, announce: Callable[[str], None] = print) -> None:
    """Run moto's server in the foreground until SIGTERM or SIGINT."""
    # Imported here: moto's server pulls in every service backend, which only this process needs.
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import WSGIRequestHandler, make_server

    from shared.emulator_patches import apply_patches

    apply_patches()

    class QuietHandler(WSGIRequestHandler):
        # One access-log line per AWS call drowns everything else; errors still go to stderr.
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            if str(code).startswith("5"):
                super().log_request(code, size)

    try:
        server = make_server(
            settings.host,
            settings.port,
            DomainDispatcherApplication(create_backend_app),
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
    announce(f"AWS stand-in (moto) ready at {settings.url} (SQS, SNS, DynamoDB, S3; memory only)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        signal.signal(signal.SIGTERM, previous)
        announce("AWS stand-in stopped; its state is gone")


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

    def __init__(self, settings: EmulatorSettings, *, startup_timeout: float = 30.0) -> None:
        self.settings = settings
        self._startup_timeout = startup_timeout
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
