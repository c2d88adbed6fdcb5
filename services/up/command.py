"""``toxic up`` end to end: start everything in order, keep it running, stop it in order.

Start: the stand-in (unless AWS endpoints are configured) from its last snapshot, the
infrastructure, stale replica queues removed, MLflow, a first model when there is no champion,
the admin and moderator keys, then the services; a table of URLs once they are healthy.
Run: crashed services restart with backoff; the stand-in's data is snapshotted every few seconds.
Stop (Ctrl-C, SIGTERM): the apps and the API first (the API drains its outbox to the bus), then
the consumers, then a last snapshot, then MLflow and the stand-in.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from services.up import children, steps
from services.up.settings import UpSettings
from services.up.state import StateFolder
from services.up.supervisor import Supervisor
from shared.emulator import restore, snapshot
from shared.errors import ConfigurationError
from shared.settings import AwsSettings

__all__ = ["main", "run_up"]

Echo = Callable[[str], None]

_STOP_ORDER = (("frontend", "dashboard", "api"), ("logger", "monitoring", "training", "train"))
_PORT_HINTS = {
    "stand-in": "--emulator-port or TOXIC_EMULATOR_PORT",
    "MLflow": "--mlflow-port or TOXIC_MLFLOW_PORT",
    "api": "--api-port or TOXIC_PORT",
    "frontend": "--frontend-port or TOXIC_FRONTEND_PORT",
    "dashboard": "--dashboard-port or TOXIC_DASHBOARD_PORT",
}


class StopRequestedError(Exception):
    """Ctrl-C or SIGTERM arrived while starting."""


def _check_ports(host: str, ports: dict[str, int]) -> None:
    """A busy port is one clear line before anything starts."""
    for name, port in ports.items():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                raise ConfigurationError(
                    f"port {port} on {host} is busy ({exc.strerror}): {name} needs it; choose "
                    f"another with {_PORT_HINTS[name]}, or stop what listens there"
                ) from None


def _needs_mlflow(services: list[str]) -> bool:
    """Training tracks runs in MLflow and the dashboard lists them, so both need it running."""
    return bool({"training", "dashboard"} & set(services))


def _may_need_mlflow(services: list[str]) -> bool:
    """The API needs a first model when there is no champion, and training needs MLflow."""
    return _needs_mlflow(services) or "api" in services


def _own_stand_in(aws: AwsSettings) -> bool:
    """True unless some AWS endpoint is configured (then that is where the deployment lives)."""
    return not any(aws.endpoint_for(s) for s in ("sqs", "sns", "dynamodb", "s3"))


@contextmanager
def _signals() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM, for as long as the block runs."""
    stopping = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        if not stopping.is_set():
            print(f"{signal.Signals(signum).name}: stopping", flush=True)
        stopping.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stopping
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class _Snapshots:
    """Asks the stand-in for a snapshot every ``period`` seconds on a thread of its own."""

    def __init__(self, url: str, period: float, echo: Echo) -> None:
        self._url = url
        self._period = period
        self._echo = echo
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="snapshots", daemon=True)
        self._failing = False

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            self.take()

    def take(self) -> dict[str, object] | None:
        try:
            result = snapshot(self._url)
        except (OSError, ConfigurationError) as exc:
            if not self._failing:
                self._echo(f"snapshot failed: {exc}")
            self._failing = True
            return None
        if self._failing:
            self._echo("snapshots work again")
        self._failing = False
        return result

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=60)


def _table(rows: list[tuple[str, str]], echo: Echo) -> None:
    width = max(len(name) for name, _ in rows)
    echo("")
    for name, where in rows:
        echo(f"  {name:<{width}}  {where}")
    echo("")


class _Run:
    """One run of ``toxic up``: what it started and how to stop it."""

    def __init__(
        self, settings: UpSettings, data: tuple[Path, ...], echo: Echo, stopping: threading.Event
    ) -> None:
        self.settings = settings
        self.data = data
        self.echo = echo
        self.stopping = stopping
        self.supervisor = Supervisor(echo, width=max(len(n) for n in (*_PORT_HINTS, "monitoring")))
        self.snapshots: _Snapshots | None = None

    def check(self) -> None:
        if self.stopping.is_set():
            raise StopRequestedError

    def wait(self, names: list[str], timeout: float, what: str) -> None:
        late = self.supervisor.wait_healthy(names, timeout, cancelled=self.stopping.is_set)
        self.check()
        if late:
            self.echo(f"warning: {', '.join(late)} not healthy after {timeout:g} s ({what})")

    def start(self, aws: AwsSettings, state: StateFolder, services: list[str]) -> None:
        settings, echo = self.settings, self.echo
        own = _own_stand_in(aws)
        if own:
            url = settings.url(settings.emulator_port)
            self.supervisor.start(children.stand_in(settings, state))
            late = self.supervisor.wait_healthy(["stand-in"], 60, cancelled=self.stopping.is_set)
            self.check()
            if late:
                raise ConfigurationError(f"the AWS stand-in at {url} was not ready within 60 s")
            aws = aws.model_copy(update={"endpoint_url": url})
        else:
            echo(f"using the AWS endpoints configured (AWS_ENDPOINT_URL: {aws.endpoint_url})")
        # Started now, awaited later: its start-up takes longest and overlaps the steps below.
        if _needs_mlflow(services):
            self.supervisor.start(children.mlflow(settings, state, aws))
        echo(f"infrastructure ({aws.prefix}): {asyncio.run(steps.apply(aws))}")
        if own:
            self._restore(aws.endpoint_url or "", state)
        removed = asyncio.run(steps.collect(aws))
        echo(f"infra gc: removed {', '.join(removed)}" if removed else "infra gc: nothing stale")
        self.check()

        pointer = asyncio.run(steps.champion(aws))
        train_now = pointer is None and "api" in services
        if train_now and not _needs_mlflow(services):
            self.supervisor.start(children.mlflow(settings, state, aws))
        if train_now or _needs_mlflow(services):
            self.wait(["mlflow"], 180, "MLflow")
        if pointer is not None:
            echo(
                f"champion: {pointer.model_name} version {pointer.model_version} "
                "(found in the deployment; not retraining)"
            )
        elif train_now:
            self._train(aws)
        keys, created = asyncio.run(steps.keys(aws, state.read_keys(aws.prefix)))
        state.write_keys(aws.prefix, keys)
        if created:
            echo(f"created {' and '.join(created)} key(s); kept in {state.keys_file(aws.prefix)}")
        self.check()

        for name in services:
            self.supervisor.start(children.service(name, settings, state, aws, keys, self.data))
        self.wait(services, settings.health_timeout_seconds, "still starting; see their logs")
        self._print_table(aws, state, services, keys)

    def _restore(self, url: str, state: StateFolder) -> None:
        result = restore(url)
        if not result.get("found"):
            self.echo(f"no snapshot in {state.stand_in} yet: starting empty")
        else:
            self.echo(
                f"restored the snapshot of {result['taken_at']}: {result['items']} items, "
                f"{result['objects']} objects, {result['messages']} messages"
            )
            for skipped in result.get("skipped", []):
                self.echo(f"  not restored (no longer in the spec): {skipped}")
        self.snapshots = _Snapshots(url, self.settings.snapshot_seconds, self.echo)
        self.snapshots.start()

    def _train(self, aws: AwsSettings) -> None:
        if self.data:
            source = ", ".join(str(path) for path in self.data)
        else:
            source = (
                "the sources the training settings choose (TOXIC_DATA_PATHS, else Kaggle, "
                "else the shipped starter set)"
            )
        self.echo(f"no champion yet: training a first model on {source}")
        child = self.supervisor.start(children.train(self.settings, aws, self.data))
        status = None
        while status is None:
            self.check()
            status = child.wait(0.5)
        self.supervisor.forget("train")
        if status != 0:
            raise ConfigurationError(
                f"the first training failed (status {status}); see the train lines above"
            )

    def _print_table(
        self, aws: AwsSettings, state: StateFolder, services: list[str], keys: dict[str, str]
    ) -> None:
        settings = self.settings
        api = settings.url(settings.api_port)
        rows: list[tuple[str, str]] = []
        if "api" in services:
            rows += [
                ("API", api),
                ("API docs", f"{api}/docs"),
                ("Perspective discovery", f"{api}/$discovery/rest?version=v1alpha1"),
            ]
        if "frontend" in services:
            rows.append(("frontend", settings.url(settings.frontend_port)))
        if "dashboard" in services:
            rows.append(("dashboard", settings.url(settings.dashboard_port)))
        if self.supervisor.child("mlflow") is not None:
            rows.append(("MLflow", settings.url(settings.mlflow_port)))
        rows += [
            ("AWS endpoint", aws.endpoint_url or f"AWS {aws.region}"),
            ("state folder", str(state.root)),
            ("admin key", keys["admin"]),
            ("moderator key", keys["moderator"]),
        ]
        _table(rows, self.echo)
        self.echo(
            f"export AWS_ENDPOINT_URL={aws.endpoint_url} TOXIC_PREFIX={aws.prefix} to reach it"
            if aws.endpoint_url
            else f"export TOXIC_PREFIX={aws.prefix} to reach it"
        )
        self.echo("running; press Ctrl-C to stop")

    def run_until_stopped(self) -> None:
        while not self.stopping.wait(0.5):
            self.supervisor.tend()

    def stop(self) -> None:
        """Stop in order; the last snapshot is taken once nothing writes any more."""
        self.supervisor.stop_all(_STOP_ORDER)
        if self.snapshots is not None:
            self.snapshots.stop()
            stand_in = self.supervisor.child("stand-in")
            if stand_in is not None and stand_in.alive:
                taken = self.snapshots.take()
                if taken is not None:
                    self.echo(
                        "final snapshot taken"
                        if taken.get("written")
                        else "final snapshot: nothing changed since the last one"
                    )
        self.supervisor.stop_all([["mlflow"], ["stand-in"]])
        self.supervisor.stop(self.supervisor.names)  # anything else, such as a first training


def run_up(settings: UpSettings, data: tuple[Path, ...] = (), echo: Echo = print) -> int:
    """Start everything, run until Ctrl-C or SIGTERM, stop it all; returns an exit code."""
    aws = AwsSettings()
    services = []
    for name in settings.services:
        if children.available(name):
            services.append(name)
        else:
            echo(f"{name}: not in this checkout yet; not started")
    ports = {"api": settings.api_port}
    if _own_stand_in(aws):
        ports = {"stand-in": settings.emulator_port, **ports}
    if _may_need_mlflow(services):
        ports |= {"MLflow": settings.mlflow_port}
    ports |= {n: getattr(settings, f"{n}_port") for n in ("frontend", "dashboard") if n in services}
    if "api" not in services:
        ports.pop("api")
    _check_ports(settings.host, ports)
    missing = [path for path in data if not path.is_file()]
    if missing:
        raise ConfigurationError(f"no such file: {', '.join(map(str, missing))}")
    data = tuple(path.resolve() for path in data)

    with StateFolder(settings.state_dir) as state, _signals() as stopping:
        run = _Run(settings, data, echo, stopping)
        status = 0
        try:
            run.start(aws, state, services)
            run.run_until_stopped()
        except StopRequestedError:
            pass
        # RuntimeError: an essential child (the stand-in, MLflow) exited.
        except (RuntimeError, ConfigurationError) as exc:
            echo(f"error: {exc}; stopping")
            status = 1
        finally:
            run.stop()
    echo("stopped")
    return status


def main(settings: UpSettings, data: tuple[Path, ...] = ()) -> int:
    def echo(line: str) -> None:
        print(line, flush=True)

    try:
        return run_up(settings, data, echo)
    except ConfigurationError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
