"""`toxic up` as a person runs it: a real process, a real stand-in, Ctrl-C at the end.

These run only the logger (`TOXIC_UP_SERVICES=logger`): no API, so no first model is trained
and MLflow is not started; tests/e2e/test_up_e2e.py runs all six.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from services.api.keys import hash_secret
from services.up.state import StateFolder
from shared.aws import open_clients
from shared.emulator import is_ready
from shared.infra import InfraSpec
from shared.settings import AwsSettings
from tests.harness.ports import free_port
from tests.harness.processes import ServiceProcess, toxic_command

pytestmark = pytest.mark.integration

PREFIX = "uptest"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TOXIC_", "MLFLOW_"))}
    return {**env, **extra}


def up_env(state: Path, port: int, **extra: str) -> dict[str, str]:
    return clean_env(
        TOXIC_EMULATOR_PORT=str(port),
        TOXIC_PORT=str(free_port()),
        TOXIC_MLFLOW_PORT=str(free_port()),
        TOXIC_PREFIX=PREFIX,
        TOXIC_UP_STATE_DIR=str(state),
        TOXIC_UP_SERVICES="logger",
        TOXIC_UP_SNAPSHOT_SECONDS="1",
        **extra,
    )


def settings_for(url: str) -> AwsSettings:
    return AwsSettings(endpoint_url=url, prefix=PREFIX, region="us-east-1")


async def queue_names(url: str) -> set[str]:
    async with open_clients(settings_for(url)) as clients:
        listed = await clients.sqs.list_queues(QueueNamePrefix=PREFIX)
    return {u.rsplit("/", 1)[-1] for u in listed.get("QueueUrls", [])}


def printed_keys(log: str) -> dict[str, str]:
    keys = {}
    for line in log.splitlines():
        for role in ("admin", "moderator"):
            if line.strip().startswith(f"{role} key"):
                keys[role] = line.split()[-1]
    return keys


def processes_below(root: int) -> dict[int, str]:
    """Every process below ``root`` and its command line, from /proc."""
    parents: dict[int, int] = {}
    lines: dict[int, str] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                lines[int(entry)] = cmdline.read().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
    below: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, of in parents.items() if of == parent]
        below.update({pid: lines.get(pid, "") for pid in children})
        frontier.extend(children)
    return below


def service_pid(root: int, command: str) -> int:
    """The pid of the process below ``root`` that runs ``command`` (not its guard)."""
    for pid, line in processes_below(root).items():
        if command in line and "services.up.guard" not in line:
            return pid
    raise AssertionError(f"no process below {root} runs {command!r}")


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def start_up(processes: Callable[..., ServiceProcess], name: str, env: dict[str, str]):
    up = processes(name, toxic_command("up"), env=env)
    up.wait_until(lambda: "press Ctrl-C" in up.log(), 90, "running")
    return up


async def test_up_runs_stand_in_infra_keys_and_a_service_stops_on_ctrl_c_and_restarts_with_them(
    processes: Callable[..., ServiceProcess], tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    up = start_up(processes, "up", up_env(tmp_path / "state", port))

    assert is_ready(url)
    spec = InfraSpec.for_prefix(PREFIX)
    assert {q.name for q in spec.static_queues} <= await queue_names(url)
    log = up.log()
    assert f"AWS_ENDPOINT_URL={url}" in log
    assert "no snapshot in" in log  # a clean state folder
    assert "logger     | " in log  # its lines, prefixed
    assert "consumer_started" in log
    keys = printed_keys(log)
    assert set(keys) == {"admin", "moderator"}
    kept = json.loads((tmp_path / "state" / f"keys-{PREFIX}.json").read_text())
    assert kept == keys
    async with open_clients(settings_for(url)) as clients:
        for role, secret in keys.items():
            item = await clients.dynamodb.get_item(
                TableName=spec.table("api-keys").name, Key={"key_hash": {"S": hash_secret(secret)}}
            )
            assert item["Item"]["role"]["S"] == role

    async with open_clients(settings_for(url)) as clients:
        await clients.dynamodb.put_item(
            TableName=spec.table("predictions").name,
            Item={"prediction_id": {"S": "kept"}, "decision": {"S": "allow"}},
        )

    # A service that dies is started again, and `toxic up` says so.
    os.kill(service_pid(up.pid, "serve logger"), signal.SIGKILL)
    up.wait_until(lambda: "logger restarted" in up.log(), 60, "restarting the logger")
    assert "logger exited with status 137; restarting in 1 s" in up.log()
    up.wait_until(lambda: up.log().count("consumer_started") == 2, 60, "with the logger back")

    up.signal(signal.SIGINT)
    assert await asyncio.to_thread(up.wait, 30) == 0
    assert not is_ready(url), "the stand-in outlived `toxic up`"
    log = up.log()
    assert log.index("logger stopped") < log.index("final snapshot") < log.index("stand-in stopped")
    assert log.rstrip().endswith("stopped")

    # A second start finds the data and the keys of the first.
    again = start_up(processes, "up-again", up_env(tmp_path / "state", port))
    assert "restored the snapshot" in again.log()
    assert printed_keys(again.log()) == keys
    assert "created admin" not in again.log()
    async with open_clients(settings_for(url)) as clients:
        item = await clients.dynamodb.get_item(
            TableName=spec.table("predictions").name, Key={"prediction_id": {"S": "kept"}}
        )
    assert item["Item"]["decision"] == {"S": "allow"}
    again.signal(signal.SIGTERM)
    assert await asyncio.to_thread(again.wait, 30) == 0


async def test_a_hard_killed_up_leaves_no_process_and_its_last_snapshot_comes_back(
    processes: Callable[..., ServiceProcess], tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    spec = InfraSpec.for_prefix(PREFIX)
    up = start_up(processes, "up-killed", up_env(tmp_path / "state", port))
    async with open_clients(settings_for(url)) as clients:
        await clients.dynamodb.put_item(
            TableName=spec.table("predictions").name,
            Item={"prediction_id": {"S": "before-kill"}, "decision": {"S": "review"}},
        )
    await asyncio.sleep(3)  # longer than TOXIC_UP_SNAPSHOT_SECONDS=1
    family = processes_below(up.pid)
    assert any("serve logger" in line for line in family.values())
    up.signal(signal.SIGKILL)
    up.wait(10)
    deadline = asyncio.get_running_loop().time() + 20
    while [pid for pid in family if not gone(pid)] and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.2)
    assert [line for pid, line in family.items() if not gone(pid)] == []

    again = start_up(processes, "up-after-kill", up_env(tmp_path / "state", port))
    assert "restored the snapshot" in again.log()
    async with open_clients(settings_for(url)) as clients:
        item = await clients.dynamodb.get_item(
            TableName=spec.table("predictions").name, Key={"prediction_id": {"S": "before-kill"}}
        )
    assert item["Item"]["decision"] == {"S": "review"}
    again.signal(signal.SIGINT)
    assert await asyncio.to_thread(again.wait, 30) == 0


def test_a_second_up_on_the_same_state_folder_is_refused(
    processes: Callable[..., ServiceProcess], tmp_path: Path
) -> None:
    state = tmp_path / "state"
    with StateFolder(state):  # as a running `toxic up` holds it
        other = processes("up-other", toxic_command("up"), env=up_env(state, free_port()))
        assert other.wait(60) == 1
    assert f"another `toxic up` (pid {os.getpid()}) is using {state}" in other.log()


def test_up_on_a_busy_port_says_so_and_exits(
    processes: Callable[..., ServiceProcess], tmp_path: Path
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        up = processes("up-busy", toxic_command("up"), env=up_env(tmp_path / "state", port))
        assert up.wait(60) == 1
    assert f"port {port} on 127.0.0.1 is busy" in up.log()
    assert "TOXIC_EMULATOR_PORT" in up.log()
