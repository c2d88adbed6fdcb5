"""Logs are one JSON object a line, with the correlation id bound from context."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from shared.logs import bound, configure_logging, get_logger

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _restore_logging() -> object:
    yield None
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def test_a_log_line_is_json_with_the_bound_correlation_id(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO")

    with bound(correlation_id="corr-123", event_id="e-1"):
        get_logger("test").info("prediction_stored", rows=1)
    get_logger("test").info("outside")

    first, second = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert first["event"] == "prediction_stored"
    assert first["correlation_id"] == "corr-123"
    assert first["rows"] == 1
    assert first["level"] == "info"
    assert "correlation_id" not in second


def test_standard_library_logs_come_out_as_json_too(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")

    logging.getLogger("somelib").warning("disk %s", "full")

    line = json.loads(capsys.readouterr().err.strip())
    assert line["event"] == "disk full"
    assert line["level"] == "warning"


def test_levels_below_the_configured_one_are_dropped(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("WARNING")

    get_logger("test").info("chatter")
    get_logger("test").warning("kept")

    lines = capsys.readouterr().err.splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["kept"]
