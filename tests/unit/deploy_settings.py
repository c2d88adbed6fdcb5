"""What the deployment files may set: each `toxic` command's settings class and its variables.

compose.yaml and terraform/ both hand environment variables to `toxic` processes; these helpers
let their tests check every variable against the settings class that reads it.
"""

from __future__ import annotations

import importlib
import inspect

from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from shared.settings import AwsSettings

__all__ = ["environment_names", "service_settings", "settings_for_command"]


def service_settings(service: str) -> type[BaseSettings]:
    """The one settings class ``services/<service>/settings.py`` defines."""
    module = importlib.import_module(f"services.{service}.settings")
    found = [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, BaseSettings) and cls.__module__ == module.__name__
    ]
    assert len(found) == 1, f"services/{service}/settings.py defines {found}, expected one class"
    return found[0]


def settings_for_command(command: list[str]) -> type[BaseSettings]:
    """The settings class a `toxic` command line reads its environment with."""
    if command[0] == "serve":
        return service_settings(command[1])
    if command[0] == "train":
        return service_settings("training")
    if command[0] == "infra":
        return AwsSettings
    raise AssertionError(f"no settings known for `toxic {' '.join(command)}`")


def environment_names(settings: type[BaseSettings]) -> set[str]:
    """Every environment variable the class reads (upper case: matching ignores case)."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for field_name, field in settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice).upper() for choice in alias.choices)
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:
            names.add(f"{prefix}{field_name}".upper())
    return names
