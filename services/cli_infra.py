"""``toxic infra``: apply, show and clean the infrastructure spec."""

from __future__ import annotations

import typer

__all__ = ["infra_app"]

infra_app = typer.Typer(
    help="The topic, queues, tables and bucket of a deployment, defined once in code.",
    no_args_is_help=True,
)
