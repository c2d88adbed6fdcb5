"""The README's configuration table names every setting there is, and nothing that is not."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from services.api.settings import ApiSettings
from services.dashboard.settings import DashboardSettings
from services.frontend.settings import FrontendSettings
from services.logger.settings import LoggerSettings
from services.monitoring.rules import RuleSettings
from services.monitoring.settings import MonitoringSettings
from services.training.settings import TrainingSettings
from services.up.settings import UpSettings
from shared.settings import EmulatorSettings

pytestmark = pytest.mark.unit

README = Path(__file__).parents[2] / "README.md"
SETTINGS: tuple[type[BaseSettings], ...] = (
    ApiSettings,
    LoggerSettings,
    MonitoringSettings,
    RuleSettings,
    TrainingSettings,
    FrontendSettings,
    DashboardSettings,
    UpSettings,
    EmulatorSettings,
)
# Variables read by libraries rather than by a settings class, documented for the user.
READ_ELSEWHERE = frozenset({"MLFLOW_TRACKING_URI", "AWS_DEFAULT_REGION"})


def variables(settings: type[BaseSettings]) -> set[str]:
    """The environment variable a person sets for each field (the first alias when several)."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    found: set[str] = set()
    for name, field in settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            # The first variable-like choice: lower-case ones are the field's name in code.
            choices = [str(choice) for choice in alias.choices]
            found.add(next((c for c in choices if c.isupper()), choices[0]).upper())
        elif isinstance(alias, str):
            found.add(alias.upper())
        else:
            found.add(f"{prefix}{name}".upper())
    return found


def documented() -> set[str]:
    """Every variable in the first column of the README's configuration table."""
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for row in section.splitlines():
        if not row.startswith("| `"):
            continue
        first = row.split("|")[1]
        written = re.findall(r"`([A-Z_][A-Z0-9_]*)`", first)
        for i, name in enumerate(written):
            if name.startswith("_") and i:
                # `AWS_ENDPOINT_URL_SQS`, `_SNS`: the suffix replaces the last part of the first.
                name = written[0].rsplit("_", 1)[0] + name
            names.add(name)
    return names


def test_every_setting_is_in_the_readme() -> None:
    missing = sorted(set().union(*map(variables, SETTINGS)) - documented())
    assert missing == [], f"settings missing from the README's configuration table: {missing}"


def test_every_variable_in_the_readme_is_a_setting() -> None:
    known = set().union(*map(variables, SETTINGS)) | READ_ELSEWHERE
    unknown = sorted(documented() - known)
    assert unknown == [], f"the README documents variables nothing reads: {unknown}"
