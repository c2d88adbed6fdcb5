"""`toxic up` from a clean state folder, the whole mesh, Ctrl-C, and a second start.

What a person sees: every service healthy, a comment scored and judged through the API, the
prediction in DynamoDB and counted in the rollups; Ctrl-C stops every process it started
within 30 s (none left, no port listening); the second start (the API alone, to keep the test
short) finds the champion of the first without training again, and the prediction is still there.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.aws import open_clients
from shared.settings import AwsSettings
from tests.harness.ports import free_port
from tests.harness.processes import ServiceProcess, http_ready, toxic_command
from tests.harness.waiting import eventually

pytestmark = pytest.mark.e2e

PREFIX = "upe2e"


def descendants(pid: int) -> set[int]:
    """Every process below ``pid``, from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found: set[int] = set()
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, of in parents.items() if of == parent]
        found.update(children)
        frontier.extend(children)
    return found


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.timeout(900)
async def test_up_runs_the_mesh_stops_cleanly_and_starts_again_without_retraining(
    processes: Callable[..., ServiceProcess], tmp_path: Path
) -> None:
    ports = {name: free_port() for name in ("emulator", "api", "frontend", "dashboard", "mlflow")}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TOXIC_", "MLFLOW_"))}
    env |= {
        "TOXIC_PREFIX": PREFIX,
        "TOXIC_UP_STATE_DIR": str(tmp_path / "state"),
        "TOXIC_UP_SNAPSHOT_SECONDS": "2",
        "TOXIC_EMULATOR_PORT": str(ports["emulator"]),
        "TOXIC_PORT": str(ports["api"]),
        "TOXIC_FRONTEND_PORT": str(ports["frontend"]),
        "TOXIC_DASHBOARD_PORT": str(ports["dashboard"]),
        "TOXIC_MLFLOW_PORT": str(ports["mlflow"]),
        "TOXIC_USE_KAGGLE": "false",  # offline: the first model trains on the starter set
    }
    api = f"http://127.0.0.1:{ports['api']}"
    aws = AwsSettings(
        endpoint_url=f"http://127.0.0.1:{ports['emulator']}", prefix=PREFIX, region="us-east-1"
    )

    started = time.monotonic()
    up = processes("up", toxic_command("up"), env=env)
    await asyncio.to_thread(up.wait_until, lambda: "press Ctrl-C" in up.log(), 600, "running")
    print(f"first start: {time.monotonic() - started:.0f} s")
    log = up.log()
    assert "no champion yet: training a first model" in log
    assert "comments from starter" in log  # `toxic train` says which data it used
    assert "published as champion" in log
    assert "not in this checkout" not in log  # all six services run
    assert http_ready(f"{api}/readyz")()
    assert http_ready(f"http://127.0.0.1:{ports['frontend']}/_stcore/health")()
    assert http_ready(f"http://127.0.0.1:{ports['dashboard']}/_stcore/health")()

    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        scored = await http.post("/v1/predict", json={"text": "you are a stupid idiot"})
        assert scored.status_code == 200, scored.text
        prediction_id = scored.json()["prediction_id"]
        judged = await http.post(
            "/v1/feedback", json={"prediction_id": prediction_id, "correct": True}
        )
        assert judged.status_code == 202, judged.text

    async with open_clients(aws) as clients:

        async def logged() -> dict[str, Any] | None:
            item = await clients.dynamodb.get_item(
                TableName=f"{PREFIX}-predictions", Key={"prediction_id": {"S": prediction_id}}
            )
            return item.get("Item")

        async def counted() -> list[Any] | None:
            items = (await clients.dynamodb.scan(TableName=f"{PREFIX}-rollups"))["Items"]
            return [i for i in items if i["pk"]["S"].startswith("minute#")] or None

        await eventually(logged, "the prediction in DynamoDB", 60, describe=up.log)
        await eventually(counted, "a minute rollup", 60, describe=up.log)

    family = descendants(up.pid)
    assert len(family) >= 8, "stand-in, MLflow and six services, each under its guard"
    up.signal(signal.SIGINT)
    stopping = time.monotonic()
    assert await asyncio.to_thread(up.wait, 30) == 0
    assert time.monotonic() - stopping < 30
    assert [pid for pid in family if running(pid)] == []
    assert [name for name, port in ports.items() if listening(port)] == []

    # The API alone this time: it serves the champion of the first start, found, not retrained.
    again = processes("up-again", toxic_command("up", "--service", "api"), env=env)
    await asyncio.to_thread(again.wait_until, lambda: "press Ctrl-C" in again.log(), 600, "running")
    log = again.log()
    assert "not retraining" in log
    assert "training a first model" not in log
    assert "restored the snapshot" in log
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        ready = (await http.get("/readyz")).json()
    assert ready["model_version"] == scored.json()["model_version"]
    async with open_clients(aws) as clients:
        item = await clients.dynamodb.get_item(
            TableName=f"{PREFIX}-predictions", Key={"prediction_id": {"S": prediction_id}}
        )
    assert item["Item"]["prediction_id"]["S"] == prediction_id
    again.signal(signal.SIGINT)
    assert await asyncio.to_thread(again.wait, 30) == 0
