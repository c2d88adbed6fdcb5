"""`toxic up`'s settings: which services, which ports, refused when they cannot work."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.up.settings import SERVICE_NAMES, UpSettings

pytestmark = pytest.mark.unit


def test_all_six_services_run_by_default_consumers_first(monkeypatch) -> None:
    monkeypatch.delenv("TOXIC_UP_SERVICES", raising=False)
    assert UpSettings().services == SERVICE_NAMES
    assert SERVICE_NAMES.index("logger") < SERVICE_NAMES.index("api")


def test_services_come_from_a_comma_separated_variable_in_start_order(monkeypatch) -> None:
    monkeypatch.setenv("TOXIC_UP_SERVICES", "api, logger")
    assert UpSettings().services == ("logger", "api")


def test_an_unknown_service_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match="unknown service\\(s\\) mailer"):
        UpSettings(services=("api", "mailer"))


def test_ports_follow_the_services_own_variables(monkeypatch) -> None:
    monkeypatch.setenv("TOXIC_PORT", "9000")
    monkeypatch.setenv("TOXIC_FRONTEND_PORT", "9001")
    settings = UpSettings()
    assert (settings.api_port, settings.frontend_port) == (9000, 9001)
    assert UpSettings(api_port=9100).api_port == 9100  # an option wins over the variable


def test_two_processes_on_one_port_are_refused() -> None:
    with pytest.raises(ValidationError, match="api and MLflow are both given port 5000"):
        UpSettings(api_port=5000)


def test_a_snapshot_period_over_ten_seconds_is_refused() -> None:
    with pytest.raises(ValidationError, match="less than or equal to 10"):
        UpSettings(snapshot_seconds=30)
