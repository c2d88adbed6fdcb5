"""The stand-in's SQS retention fix decides exactly what moto's own check decides."""

from __future__ import annotations

import pytest
from moto.sqs.models import SQSBackend

from shared.emulator_patches import _retention_check

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("retention", "age_seconds"), [(60, 0), (60, 59), (60, 61), (345600, 10)])
def test_the_retention_check_agrees_with_motos(retention: int, age_seconds: int) -> None:
    backend = SQSBackend("us-east-1", "123456789012")
    backend.create_queue("q", MessageRetentionPeriod=str(retention))
    message = backend.send_message("q", "body")
    message.sent_timestamp = int(message.sent_timestamp or 0) - age_seconds * 1000  # type: ignore[assignment]
    original = SQSBackend.is_message_valid_based_on_retention_period

    assert _retention_check(backend, "q", message) == original(backend, "q", message)
    assert _retention_check(backend, "q", message) is (age_seconds < retention)
