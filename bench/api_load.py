"""The API under load: latency at fixed rates, saturated throughput, batch throughput, model swap.

    uv run python -m bench.api_load [--seconds 10] [--rates 100 200 400] [--quick]

Sets everything up itself: moto's server on a free port, the infrastructure under a fresh prefix,
a champion fitted on real Jigsaw rows (``bench.workload``; cached after the first run) and
``toxic serve api`` as a process, with the rate limit off (``TOXIC_RATE_LIMIT_PER_SECOND=0``), the
outbox's capacity raised so that it never refuses events, and the access log on, as deployed.
Requests carry held-out Jigsaw comments. Two set-ups, one replica each:

1. API alone: the replica's SNS endpoint is a TCP proxy to the stand-in, cut once the replica is
   ready (it needs SNS at start, to subscribe its queue), so every event stays in its outbox and
   nothing but the API and the load generator use the CPU. Its SQS, S3 and DynamoDB are the
   stand-in's, so a ``ModelPublished`` still reaches it through its queue.
2. Whole mesh: the replica publishes to the stand-in and ``toxic serve logger`` consumes.

In each: single comments (``POST /v1/predict``) at each fixed rate (open loop, latency from the
time a request was due) and saturated (closed loop); a model swap: while single comments go at
``--swap-rate``, a second champion is announced with ``ModelPublished`` through SNS, timed from
the publish to the first answer that names the new version; then batches of ``--batch`` comments
(``POST /v1/predict/batch``, closed loop) against the same model's in-process ``predict_proba``
on the same batch, timed at the start and again at the end (the faster counts: this machine's
speed drifts). The replica scores batches in a child process (``TOXIC_SCORING_PROCESSES=1``, the
default); its CPU counts with the replica's. Prints a table per set-up and PASS/MISS for each
target (set-up 1).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import math
import os
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.loadgen import Run, closed_loop, open_loop, requests_for
from bench.results import Figure, write
from bench.workload import DEFAULT_DATA, FittedModel, comments, read_data, realistic_model, variant
from services.api.settings import ApiSettings
from shared.artifacts import ArtifactStore
from shared.aws import open_clients
from shared.emulator import EmulatorProcess
from shared.infra import InfraSpec, ensure
from shared.logs import configure_logging
from shared.model.toxicity import ToxicityModel
from shared.settings import AwsSettings, EmulatorSettings
from shared.worker import open_publisher
from tests.harness.api import api_env
from tests.harness.champion import publish_champion, tiny_model
from tests.harness.ports import free_port
from tests.harness.processes import ServiceProcess, http_ready, toxic_command
from tests.harness.proxy import TcpProxy

__all__ = ["Options", "Phase", "Report", "batch_cpu_us", "main", "run"]

HOST = "127.0.0.1"
ALONE = "API alone"
MESH = "whole mesh"
TARGET_RATE = 200.0
PHASES = ("rates", "saturated", "swap", "batch")
NOTES = (
    f"{ALONE}: the replica's SNS endpoint is a TCP proxy cut once it was ready: its events stay in"
    " its outbox (SQLite on local disk); a ModelPublished still reaches it through SQS.",
    f"{MESH}: the replica publishes to the stand-in; toxic serve logger consumes its queue.",
    "Both: rate limit off, outbox capacity 10M, periodic pointer check hourly (only the event"
    " swaps), access log on (one JSON line a request to the replica's stdout, a file here).",
)
MAX_TEXT_CHARS: int = ApiSettings.model_fields["max_text_chars"].default


@dataclass(frozen=True)
class Options:
    seconds: float = 10.0
    warmup: float = 3.0
    rates: tuple[float, ...] = (100.0, 200.0, 400.0)
    swap_rate: float = TARGET_RATE
    swap_window: float = 6.0
    saturate_connections: int = 8
    batch: int = 1_000
    # A batch passes the replica's event loop, its scoring process, the loop again: with two in
    # flight one stage often waits for the other; four keep both busy, as a saturating load does.
    batch_connections: int = 4
    setups: tuple[str, ...] = (ALONE, MESH)
    tiny: bool = False
    rows: int = 20_000
    data: Path = DEFAULT_DATA
    cache_dir: Path | None = None
    phases: tuple[str, ...] = PHASES
    logs: Path | None = None
    profile: Path | None = None  # run each replica under cProfile, its stats written here
    json: Path | None = None  # the headline figures, for bench.report


@dataclass(frozen=True)
class Phase:
    """One measured load run and what it cost the API and the load generator in CPU."""

    name: str
    run: Run
    per_request: int  # comments in each request
    api_cpu: float  # share of one core, 0..1 (can exceed 1 with threads)
    generator_cpu: float

    @property
    def comments_per_second(self) -> float:
        return self.run.per_second * self.per_request


@dataclass(frozen=True)
class Check:
    setup: str
    what: str
    value: float
    unit: str
    target: str
    passed: bool


@dataclass
class Report:
    model: str = ""
    in_process: float = math.nan  # comments/s of predict_proba on the batch, in this process
    phases: dict[str, list[Phase]] = field(default_factory=dict)
    swaps: dict[str, float] = field(default_factory=dict)  # seconds; nan: not within the window
    swap_failed: dict[str, int] = field(default_factory=dict)
    outbox_depth: dict[str, int] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)

    def phase(self, setup: str, name: str) -> Phase | None:
        return next((p for p in self.phases.get(setup, []) if p.name == name), None)


# --- the processes ---------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid``, its threads and its living descendants.

    A replica scores batches in child processes (``TOXIC_SCORING_PROCESSES``): their CPU is
    the replica's.
    """
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        parents[int(entry.name)] = int(fields[1])
        ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, of in parents.items() if of == parent]
        tree.update(children)
        frontier.extend(children)
    return sum(ticks.get(member, 0) for member in tree) / os.sysconf("SC_CLK_TCK")


async def _measured(
    name: str, api: ServiceProcess, per_request: int, load: Awaitable[Run]
) -> Phase:
    api_before, own_before, began = _cpu_seconds(api.pid), time.process_time(), time.perf_counter()
    run = await load
    elapsed = time.perf_counter() - began
    return Phase(
        name,
        run,
        per_request,
        (_cpu_seconds(api.pid) - api_before) / elapsed,
        (time.process_time() - own_before) / elapsed,
    )


def _readiness(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "/readyz", timeout=5) as response:  # noqa: S310
        body: dict[str, Any] = json.load(response)
        return body


async def _until_scoring_processes(url: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not _readiness(url).get("scoring_processes_ready"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the replica's scoring processes were not ready in {seconds:g} s")
        await asyncio.sleep(0.2)


@contextlib.contextmanager
def _stopping(process: ServiceProcess) -> Iterator[ServiceProcess]:
    try:
        yield process
    finally:
        process.stop(timeout=30)


# --- one set-up ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """The replica under load and the requests it is sent."""

    api: ServiceProcess
    port: int
    singles: list[bytes]
    batches: list[bytes]


async def _rates(setup: str, options: Options, target: Target, phases: list[Phase]) -> None:
    for rate in options.rates:
        load = open_loop(
            HOST, target.port, target.singles, rate, options.seconds, warmup=options.warmup
        )
        phases.append(await _measured(f"single @ {rate:g}/s", target.api, 1, load))
        _progress(setup, phases[-1])


async def _saturated(setup: str, options: Options, target: Target, phases: list[Phase]) -> None:
    load = closed_loop(
        HOST,
        target.port,
        target.singles,
        options.seconds,
        warmup=options.warmup,
        connections=options.saturate_connections,
    )
    phases.append(await _measured("single saturated", target.api, 1, load))
    _progress(setup, phases[-1])


async def _batch(setup: str, options: Options, target: Target, phases: list[Phase]) -> None:
    load = closed_loop(
        HOST,
        target.port,
        target.batches,
        options.seconds,
        warmup=options.warmup,
        connections=options.batch_connections,
    )
    name = f"batch of {options.batch}"
    phases.append(await _measured(name, target.api, options.batch, load))
    _progress(setup, phases[-1])


async def _swap(
    options: Options,
    target: Target,
    announce: Callable[[], Awaitable[None]],
    new_version: str,
) -> tuple[Phase, float]:
    """Single comments at ``swap_rate`` while ``announce`` publishes the new champion's event.

    Returns the load run and the seconds from the publish to the first answer naming
    ``new_version`` (nan when none came within the run).
    """
    load = open_loop(
        HOST,
        target.port,
        target.singles,
        options.swap_rate,
        1.0 + options.swap_window,
        warmup=options.warmup,
    )
    name = f"single @ {options.swap_rate:g}/s during swap"
    running = asyncio.ensure_future(_measured(name, target.api, 1, load))
    await asyncio.sleep(options.warmup + 1.0)
    published_at = time.perf_counter()
    await announce()
    phase = await running
    served = [s.done for s in phase.run.samples if s.version == new_version]
    return phase, (min(served) - published_at) if served else math.nan


def _api_command(options: Options, name: str) -> list[str]:
    if options.profile is None:
        return toxic_command("serve", "api")
    options.profile.mkdir(parents=True, exist_ok=True)
    return [sys.executable, "-m", "bench.profiled", str(options.profile / f"{name}.prof")]


async def run_setup(
    setup: str,
    options: Options,
    emulator: EmulatorProcess,
    models: tuple[ToxicityModel, ToxicityModel],
    texts: list[str],
    folders: tuple[Path, Path],
    report: Report,
) -> None:
    """One replica (and, in the whole mesh, the logger) through every phase of ``options``."""
    logs, state = folders
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    aws = AwsSettings(prefix=prefix, endpoint_url=emulator.url, region="us-east-1")
    spec = InfraSpec.for_prefix(prefix)
    name = "api-alone" if setup == ALONE else "api-mesh"
    replica, env = api_env(
        aws,
        state,
        name,
        rate_limit_per_second="0",
        # Only the ModelPublished event may start the swap that is timed.
        reconcile_seconds="3600",
        # Room for every event of the run: the outbox must not be what refuses requests.
        outbox_capacity="10000000",
        drain_seconds="0",
        scoring_processes=1,  # as deployed
    )
    async with open_clients(aws) as clients:
        await ensure(clients, spec)
        store = ArtifactStore(clients.s3, spec.bucket.name)
        await publish_champion(store, "v1", model=models[0])
        with contextlib.ExitStack() as stack:
            proxy = None
            if setup == ALONE:
                proxy = stack.enter_context(TcpProxy(HOST, emulator.settings.port))
                env["AWS_ENDPOINT_URL_SNS"] = proxy.url
            api = ServiceProcess(
                name,
                _api_command(options, name),
                log_dir=logs,
                env=env,
                ready=http_ready(replica.url + "/readyz"),
            )
            stack.enter_context(_stopping(api.start(timeout=120)))
            # Its scoring process imports and loads for seconds: not during a measured phase.
            await _until_scoring_processes(replica.url)
            if proxy is not None:
                proxy.cut()
                # Restored before the replica stops (exit order), so it can leave cleanly.
                stack.callback(proxy.restore)
            else:
                logger = ServiceProcess(
                    f"logger-{prefix}",
                    toxic_command("serve", "logger"),
                    log_dir=logs,
                    env={"AWS_ENDPOINT_URL": str(aws.endpoint_url), "TOXIC_PREFIX": prefix},
                )
                stack.enter_context(_stopping(logger.start()))
                logger.wait_until(lambda: "consumer_started" in logger.log(), 60, "consuming")
            size = options.batch
            target = Target(
                api,
                replica.port,
                requests_for(HOST, replica.port, "/v1/predict", [{"text": t} for t in texts]),
                requests_for(
                    HOST,
                    replica.port,
                    "/v1/predict/batch",
                    [{"texts": texts[i : i + size]} for i in (0, size)],
                ),
            )
            phases = report.phases.setdefault(setup, [])
            if "rates" in options.phases:
                await _rates(setup, options, target, phases)
            if "saturated" in options.phases:
                await _saturated(setup, options, target, phases)
            if "swap" in options.phases:
                # Uploaded before the load starts: only the announcement is timed.
                v2 = await publish_champion(store, "v2", model=models[1])
                publisher = await open_publisher(clients, spec)

                async def announce() -> None:
                    await publisher.publish([v2.event(store)])

                phase, seconds = await _swap(options, target, announce, "v2")
                phases.append(phase)
                report.swaps[setup] = seconds
                report.swap_failed[setup] = phase.run.failed
                _progress(setup, phase)
            if "batch" in options.phases:
                # Batches go to a child process once it has loaded the model it serves now.
                await _until_scoring_processes(replica.url)
                await _batch(setup, options, target, phases)
            report.outbox_depth[setup] = int(_readiness(replica.url)["outbox_depth"])


def _progress(setup: str, phase: Phase) -> None:
    print(f"  [{setup}] {_row(phase)}", flush=True)


# --- the model in this process ---------------------------------------------------------------


def in_process_throughput(model: ToxicityModel, batch: Sequence[str], seconds: float) -> float:
    """Comments/s of ``model.predict_proba`` on ``batch`` here: the median pass after a warm-up."""
    model.predict_proba(batch)
    passes: list[float] = []
    began = time.perf_counter()
    while len(passes) < 3 or (time.perf_counter() - began < seconds and len(passes) < 25):
        started = time.perf_counter()
        model.predict_proba(batch)
        passes.append(time.perf_counter() - started)
    return len(batch) / statistics.median(passes)


def _models(options: Options, texts: list[str], report: Report) -> tuple[ToxicityModel, ...]:
    if options.tiny:
        report.model = "tiny model fitted on the starter set (tests.harness.champion.tiny_model)"
        return tiny_model(), tiny_model(2.0)
    data = read_data(options.data)
    fitted: FittedModel = realistic_model(data, options.data, options.rows, options.cache_dir)
    took = f" in {fitted.fit_seconds:.0f} s" if fitted.fit_seconds is not None else ""
    report.model = f"{fitted.description}{took}"
    return fitted.model, variant(fitted.model)


# --- the report ------------------------------------------------------------------------------

_HEADER = (
    f"{'phase':34} {'req/s':>8} {'comments/s':>11} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
    f" {'failed':>6} {'API cpu':>7} {'gen cpu':>7}"
)


def _row(phase: Phase) -> str:
    r = phase.run
    return (
        f"{phase.name:34} {r.per_second:8.1f} {phase.comments_per_second:11.0f}"
        f" {r.percentile_ms(0.5):8.2f} {r.percentile_ms(0.95):8.2f} {r.percentile_ms(0.99):8.2f}"
        f" {r.failed:6d} {phase.api_cpu:7.0%} {phase.generator_cpu:7.0%}"
    )


def _check(
    report: Report, setup: str, what: str, value: float, unit: str, bound: float, at_most: bool
) -> None:
    passed = (value <= bound) if at_most else (value >= bound)
    target = f"{'<=' if at_most else '>='} {bound:g} {unit}"
    report.checks.append(Check(setup, what, value, unit, target, passed and not math.isnan(value)))


def judge(report: Report, options: Options) -> None:
    """The targets, checked on set-up 1 (``API alone``)."""
    setup = ALONE
    at_target = report.phase(setup, f"single @ {TARGET_RATE:g}/s")
    if at_target is not None:
        run = at_target.run
        _check(report, setup, "single p50 @ 200/s", run.percentile_ms(0.5), "ms", 2.0, True)
        _check(report, setup, "single p99 @ 200/s", run.percentile_ms(0.99), "ms", 10.0, True)
    saturated = report.phase(setup, "single saturated")
    if saturated is not None:
        _check(report, setup, "single saturated", saturated.run.per_second, "req/s", 500, False)
    batch = report.phase(setup, f"batch of {options.batch}")
    if batch is not None:
        ratio = batch.comments_per_second / report.in_process * 100
        _check(report, setup, "batch / in-process", ratio, "%", 70, False)
    if setup in report.swaps:
        swap = report.swaps[setup]
        _check(report, setup, "model swap", swap, "s", 2.0, True)
        failed = report.swap_failed[setup]
        _check(report, setup, "failed requests in swap", failed, "", 0, True)


def batch_cpu_us(phase: Phase) -> float:
    """Microseconds of the replica's CPU (all threads) per comment scored in ``phase``."""
    if phase.comments_per_second <= 0:
        return math.nan
    return phase.api_cpu / phase.comments_per_second * 1e6


def render(report: Report, options: Options) -> str:
    lines = [
        f"model: {report.model}",
        f"in-process predict_proba, batches of {options.batch}: "
        f"{report.in_process:,.0f} comments/s (the faster of the start and the end)",
        f"{options.seconds:g} s per phase after a {options.warmup:g} s warm-up; latency from the"
        " time a request was due (open loop) or sent (saturated, batch); cpu: share of one core",
    ]
    for setup, phases in report.phases.items():
        lines += ["", f"set-up: {setup}", _HEADER, *(_row(p) for p in phases)]
        batch = report.phase(setup, f"batch of {options.batch}")
        if batch is not None:
            ratio = batch.comments_per_second / report.in_process
            lines.append(f"batch throughput / in-process: {ratio:.0%}")
            # CPU is steadier than throughput on a machine others use: the replica's CPU per
            # comment, against the model's own time per comment in this process.
            lines.append(
                f"replica CPU per batched comment: {batch_cpu_us(batch):.1f} us"
                f" (the model alone in process: {1e6 / report.in_process:.1f} us)"
            )
        if setup in report.swaps:
            swap = report.swaps[setup]
            said = (
                f"{swap:.3f} s" if not math.isnan(swap) else f"not within {options.swap_window:g} s"
            )
            lines.append(
                f"model swap, ModelPublished to first answer of v2: {said};"
                f" failed requests during the swap run: {report.swap_failed[setup]}"
            )
        if setup in report.outbox_depth:
            lines.append(f"events waiting in the outbox at the end: {report.outbox_depth[setup]:,}")
    if report.checks:
        lines += ["", f"{'target (set-up: ' + ALONE + ')':34} {'measured':>12}  {'target':>14}"]
        for c in report.checks:
            number = f"{c.value:,.0f}" if abs(c.value) >= 100 else f"{c.value:.3g}"
            value = f"{number} {c.unit}".strip()
            verdict = "PASS" if c.passed else "MISS"
            lines.append(f"{c.what:34} {value:>12}  {c.target:>14}  {verdict}")
    return "\n".join([*lines, "", *NOTES])


# --- the whole run ---------------------------------------------------------------------------


async def run(options: Options) -> Report:
    report = Report()
    data = read_data(options.data)
    texts = comments(data, MAX_TEXT_CHARS)
    models = _models(options, texts, report)
    batch = texts[: options.batch]
    report.in_process = in_process_throughput(models[0], batch, min(options.seconds, 5.0))
    print(report.model, flush=True)
    print(f"in-process: {report.in_process:,.0f} comments/s", flush=True)
    with contextlib.ExitStack() as stack:
        emulator = stack.enter_context(EmulatorProcess(EmulatorSettings(port=free_port())))
        # The outboxes (every event of the run, up to a few hundred MB) never outlive the run.
        state = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="api-load-")))
        logs = options.logs or state
        logs.mkdir(parents=True, exist_ok=True)
        for setup in options.setups:
            pair = (models[0], models[1])
            await run_setup(setup, options, emulator, pair, texts, (logs, state), report)
    # Again at the end, when the machine may run faster than at the start: the faster of the
    # two is what batch throughput is held against.
    again = in_process_throughput(models[0], batch, min(options.seconds, 5.0))
    print(f"in-process, again: {again:,.0f} comments/s", flush=True)
    report.in_process = max(report.in_process, again)
    judge(report, options)
    return report


QUICK = Options(seconds=1.5, warmup=0.5, rates=(50.0,), swap_rate=50.0, swap_window=2.0)


def _options(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seconds", type=float, help="measured seconds per phase (10)")
    parser.add_argument("--rates", type=float, nargs="+", help="single-comment rates (100 200 400)")
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--tiny-model", action="store_true", help="the starter-set test model")
    parser.add_argument("--setup", choices=("alone", "mesh"), help="only this set-up")
    parser.add_argument("--phases", nargs="+", choices=PHASES, help="only these phases")
    parser.add_argument("--swap-rate", type=float, help="single comments/s during the swap (200)")
    parser.add_argument("--batch-connections", type=int, help="batch requests in flight (4)")
    parser.add_argument("--rows", type=int, help="Jigsaw rows to fit the model on (20000)")
    parser.add_argument("--data", type=Path, help="the Jigsaw CSV folder")
    parser.add_argument("--cache-dir", type=Path, help="where the fitted model is kept")
    parser.add_argument("--logs", type=Path, help="keep the processes' logs here")
    parser.add_argument("--profile", type=Path, help="profile each replica; cProfile stats here")
    parser.add_argument("--json", type=Path, help="also write the headline figures here")
    args = parser.parse_args(argv)
    given = {
        "seconds": args.seconds,
        "rates": tuple(args.rates) if args.rates else None,
        "phases": tuple(args.phases) if args.phases else None,
        "setups": {"alone": (ALONE,), "mesh": (MESH,), None: None}[args.setup],
        "swap_rate": args.swap_rate,
        "batch_connections": args.batch_connections,
        "tiny": args.tiny_model or None,
        "rows": args.rows,
        "data": args.data,
        "cache_dir": args.cache_dir,
        "logs": args.logs,
        "profile": args.profile,
        "json": args.json,
    }
    base = QUICK if args.quick else Options()
    return dataclasses.replace(base, **{k: v for k, v in given.items() if v is not None})


def _nan_to_none(value: float) -> float | None:
    return None if math.isnan(value) else value


def figures(report: Report, options: Options) -> list[Figure]:
    """The headline figures: the targets on set-up 1, the same measures on set-up 2 as measured."""
    found = [
        Figure(
            f"in-process predict_proba, batches of {options.batch}",
            report.in_process,
            "comments/s",
            note=report.model,
        )
    ]
    found += [
        Figure(f"{c.what} ({c.setup})", _nan_to_none(c.value), c.unit, c.target, c.passed)
        for c in report.checks
    ]
    for setup in report.phases:
        batch = report.phase(setup, f"batch of {options.batch}")
        if batch is not None:
            found.append(
                Figure(
                    f"replica CPU per batched comment ({setup})",
                    _nan_to_none(batch_cpu_us(batch)),
                    "µs",
                    note=f"the model alone in process: {1e6 / report.in_process:.1f} µs",
                )
            )
        if setup == ALONE:
            continue
        at_rate = report.phase(setup, f"single @ {TARGET_RATE:g}/s")
        if at_rate is not None:
            for q in (0.5, 0.99):
                value = at_rate.run.percentile_ms(q)
                name = f"single p{q * 100:g} @ {TARGET_RATE:g}/s ({setup})"
                found.append(Figure(name, _nan_to_none(value), "ms"))
        saturated = report.phase(setup, "single saturated")
        if saturated is not None:
            found.append(Figure(f"single saturated ({setup})", saturated.run.per_second, "req/s"))
        if batch is not None:
            share = batch.comments_per_second / report.in_process * 100
            found.append(Figure(f"batch / in-process ({setup})", share, "%"))
        if setup in report.swaps:
            found.append(
                Figure(
                    f"model swap ({setup})",
                    _nan_to_none(report.swaps[setup]),
                    "s",
                    note=f"{report.swap_failed[setup]} failed requests during the swap run",
                )
            )
    return found


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: Sequence[str] | None = None) -> Report:
    configure_logging("WARNING")
    options = _options(argv)
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        report = runner.run(run(options))
    print()
    print(render(report, options))
    write(options.json, "api_load", figures(report, options))
    return report


if __name__ == "__main__":
    main()
