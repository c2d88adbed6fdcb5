"""What every ``toxic`` sub-command shares: one-line failures and the settings it reads."""

from __future__ import annotations

import typer
from pydantic import ValidationError

from shared.settings import AwsSettings

__all__ = ["aws_settings", "fail"]


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` in red on stderr; raise the returned exit (code 1)."""
    typer.secho(f"error: {message}", err=True, fg="red")
    return typer.Exit(1)


def aws_settings() -> AwsSettings:
    """The AWS settings from the environment, or a one-line failure naming what is wrong."""
    try:
        return AwsSettings()
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in error.errors()
        )
        raise fail(f"invalid settings: {problems}") from None
