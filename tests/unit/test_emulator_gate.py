"""The stand-in's gate: requests share the state lock, a snapshot holds it alone."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from shared.emulator_gate import Gate, StateLock

pytestmark = pytest.mark.unit


def call(gate: Gate, method: str = "POST", path: str = "/", **environ: str) -> tuple[str, bytes]:
    status: list[str] = []

    def start_response(line: str, headers: list[tuple[str, str]]) -> None:
        status.append(line)

    body = b"".join(gate({"REQUEST_METHOD": method, "PATH_INFO": path, **environ}, start_response))
    return status[0], body


def app_answering(body: bytes, during: Callable[[], None] = lambda: None) -> Any:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        during()
        start_response("200 OK", [])
        return [body]

    return app


def test_a_snapshot_waits_for_the_request_inside_and_keeps_new_ones_out() -> None:
    lock = StateLock()
    inside, release = threading.Event(), threading.Event()
    order: list[str] = []

    def slow() -> None:
        inside.set()
        release.wait(5)
        order.append("request done")

    gate = Gate(app_answering(b"{}", slow), lock)
    request = threading.Thread(target=call, args=(gate,))
    request.start()
    assert inside.wait(5)

    def snapshot() -> None:
        with lock.exclusive():
            order.append("snapshot")

    taker = threading.Thread(target=snapshot)
    taker.start()
    time.sleep(0.1)
    assert order == []  # the snapshot waits for the request
    release.set()
    request.join(5)
    taker.join(5)
    assert order == ["request done", "snapshot"]


def test_a_long_poll_steps_out_of_the_lock_while_it_waits() -> None:
    lock = StateLock()
    waiting, done = threading.Event(), threading.Event()

    def long_poll() -> None:
        with lock.shared(), lock.suspended():
            waiting.set()
            done.wait(5)

    poller = threading.Thread(target=long_poll)
    poller.start()
    assert waiting.wait(5)
    taken = threading.Event()

    def snapshot() -> None:
        with lock.exclusive():
            taken.set()

    threading.Thread(target=snapshot).start()
    assert taken.wait(2), "a sleeping long poll must not hold back a snapshot"
    done.set()
    poller.join(5)


def test_only_requests_that_may_change_state_are_counted() -> None:
    gate = Gate(app_answering(b"{}"), StateLock())
    call(gate, "GET")
    call(gate, "POST", HTTP_X_AMZ_TARGET="DynamoDB_20120810.Query")
    call(gate, "POST", HTTP_X_AMZ_TARGET="AmazonSQS.ReceiveMessage")  # nothing received
    assert gate.changes == 0
    call(gate, "POST", HTTP_X_AMZ_TARGET="DynamoDB_20120810.TransactWriteItems")
    call(gate, "PUT", path="/bucket/key")
    assert gate.changes == 2
    receiving = Gate(app_answering(b'{"Messages": [{"Body": "x"}]}'), StateLock())
    call(receiving, "POST", HTTP_X_AMZ_TARGET="AmazonSQS.ReceiveMessage")
    assert receiving.changes == 1  # a receive counts a message's receives


def test_routes_answer_json_and_refuse_what_they_do_not_know() -> None:
    gate = Gate(app_answering(b""), StateLock())
    gate.add_route("snapshot", lambda: (200, {"written": True}))
    gate.add_route("broken", lambda: 1 / 0)  # type: ignore[arg-type,return-value]
    status, body = call(gate, "POST", "/_toxic/snapshot")
    assert (status, json.loads(body)) == ("200 OK", {"written": True})
    assert call(gate, "GET", "/_toxic/snapshot")[0].startswith("405")
    status, body = call(gate, "POST", "/_toxic/restore")
    assert status.startswith("404")
    assert "snapshot" in json.loads(body)["error"]
    status, body = call(gate, "POST", "/_toxic/broken")
    assert status.startswith("500")
    assert "ZeroDivisionError" in json.loads(body)["error"]
