"""Run every benchmark and write ``docs/benchmarks.md``: the machine, the commands, the numbers.

    uv run python -m bench.report [--only api_load bus ...] [--quick] [--out docs/benchmarks.md]

Each benchmark runs as its own process (as a person would run it) with ``--json`` so its headline
figures come back as data (``bench.results``); its printed output streams to this terminal and
is kept, whole, in the report. A figure with a target is shown beside it with "met" or "MISSED".
``--quick`` gives every benchmark a short smoke-sized run: the numbers are then not the ones
to quote, and the report says so at the top. A benchmark that fails is reported as failed, with
its output, and the command exits 1 after writing the rest.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.results import Figure, load

__all__ = ["BENCHES", "Bench", "Outcome", "main", "render"]

ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "services" / "training" / "starter" / "starter.csv"


@dataclass(frozen=True)
class Bench:
    name: str
    what: str
    module: str
    quick: tuple[str, ...] = ()

    def command(self, quick: bool) -> list[str]:
        return [sys.executable, "-m", self.module, *(self.quick if quick else ())]


BENCHES: tuple[Bench, ...] = (
    Bench(
        "api_load",
        "Single and batch scoring latency and throughput, model swap time under load (issue 4)",
        "bench.api_load",
        ("--quick",),
    ),
    Bench(
        "bus",
        "Event pipeline throughput and publish-to-handle lag at steady state (issue 2)",
        "bench.bus",
        ("--rate", "50", "--seconds", "4"),
    ),
    Bench(
        "outbox",
        "The API's outbox: the cost of holding an event (issue 4)",
        "bench.outbox",
        ("--events", "2000"),
    ),
    Bench(
        "dashboard",
        "Dashboard page-data load time at 10k and 1M predictions (issue 5)",
        "bench.dashboard",
        ("--sizes", "1000", "10000", "--loads", "3", "--pairs", "3"),
    ),
    Bench(
        "model_quality",
        "Training time on the shared data and model quality against the seed (issue 3)",
        "bench.model_quality",
        ("--data", str(STARTER)),
    ),
)


@dataclass
class Outcome:
    bench: Bench
    command: list[str]
    seconds: float
    returncode: int
    output: str
    figures: list[Figure] = field(default_factory=list)


def run(bench: Bench, quick: bool, scratch: Path) -> Outcome:
    """Run one benchmark, echoing its output as it comes; collect its figures."""
    results = scratch / f"{bench.name}.json"
    command = [*bench.command(quick), "--json", str(results)]
    print(f"\n=== {bench.name}: {shlex.join(command[1:])}", flush=True)
    began = time.monotonic()
    lines: list[str] = []
    with subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            print(line, end="", flush=True)
            lines.append(line)
    outcome = Outcome(bench, command, time.monotonic() - began, process.returncode, "".join(lines))
    if process.returncode == 0 and results.exists():
        _, outcome.figures = load(results)
    return outcome


def machine() -> list[tuple[str, str]]:
    """What the numbers were measured on."""
    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    load1, load5, _ = os.getloadavg()
    return [
        ("CPU", f"{cpu}, {os.cpu_count()} logical cores"),
        ("memory", memory),
        ("system", f"{platform.system()} {platform.release()}"),
        ("Python", platform.python_version()),
        ("load average at start (1 min, 5 min)", f"{load1:.2f}, {load5:.2f}"),
    ]


def _value(figure: Figure) -> str:
    if figure.value is None:
        return "n/a"
    magnitude = abs(figure.value)
    text = f"{figure.value:,.0f}" if magnitude >= 100 else f"{figure.value:.4g}"
    return f"{text} {figure.unit}".strip()


def _verdict(figure: Figure) -> str:
    if figure.target is None:
        return ""
    return {True: "met", False: "**MISSED**", None: "not judged"}[figure.met]


def render(
    outcomes: Sequence[Outcome], *, quick: bool, started: datetime, host: list[tuple[str, str]]
) -> str:
    """The report as Markdown."""
    lines = [
        "# Benchmarks",
        "",
        "Generated by `uv run python -m bench.report"
        + (" --quick" if quick else "")
        + f"` on {started:%Y-%m-%d %H:%M} UTC; do not edit by hand.",
        "",
    ]
    if quick:
        lines += [
            "> **Quick run**: every benchmark ran at smoke size. These numbers show the",
            "> benchmarks work; they are not the figures to quote.",
            "",
        ]
    lines += ["## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in host]
    judged = [(o.bench.name, f) for o in outcomes for f in o.figures if f.target is not None]
    missed = [(name, f) for name, f in judged if f.met is False]
    failed = [o for o in outcomes if o.returncode != 0]
    lines += ["", "## Summary", ""]
    lines.append(f"{len(judged) - len(missed)} of {len(judged)} targets met.")
    for name, figure in missed:
        lines.append(f"- missed ({name}): {figure.name}: {_value(figure)}, target {figure.target}")
    for outcome in failed:
        lines.append(f"- **{outcome.bench.name} failed** (exit {outcome.returncode})")
    for outcome in outcomes:
        lines += [
            "",
            f"## {outcome.bench.name}",
            "",
            outcome.bench.what + ".",
            "",
            f"Command: `{shlex.join(['python', *outcome.command[1:-2]])}` "
            f"({outcome.seconds:.0f} s, exit {outcome.returncode})",
            "",
        ]
        if outcome.figures:
            lines += ["| figure | value | target | | note |", "|---|---|---|---|---|"]
            lines += [
                f"| {f.name} | {_value(f)} | {f.target or 'none set'} | {_verdict(f)} | {f.note} |"
                for f in outcome.figures
            ]
        else:
            lines.append("No figures came back.")
        lines += [
            "",
            "<details><summary>output</summary>",
            "",
            "```",
            outcome.output.rstrip(),
            "```",
            "",
            "</details>",
        ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    names = [b.name for b in BENCHES]
    parser.add_argument("--only", nargs="+", choices=names, help="run only these benchmarks")
    parser.add_argument("--quick", action="store_true", help="smoke-sized runs of every one")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    chosen = [b for b in BENCHES if args.only is None or b.name in args.only]
    started = datetime.now(UTC)
    host = machine()
    with tempfile.TemporaryDirectory(prefix="bench-report-") as scratch:
        outcomes = [run(bench, args.quick, Path(scratch)) for bench in chosen]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(outcomes, quick=args.quick, started=started, host=host))
    print(f"\nwrote {args.out}")
    return 1 if any(o.returncode != 0 for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
