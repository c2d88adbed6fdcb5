"""``toxic``: one command line for every part of the platform."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from services.cli_dlq import dlq_app
from services.cli_infra import infra_app
from services.cli_keys import keys_app
from services.cli_status import status_command
from services.training.cli import score_command, train_command
from shared.errors import ConfigurationError
from shared.settings import EmulatorSettings

__all__ = ["app"]

app = typer.Typer(
    name="toxic",
    help=(
        "Self-hosted toxic-comment analysis: score comments, take feedback, monitor, retrain."
        "\n\n"
        "Every service is a process started with `toxic serve NAME`; they talk only through "
        "one SNS topic and their SQS queues. Point them at AWS, LocalStack or the embedded "
        "stand-in with the standard AWS_ENDPOINT_URL variables."
    ),
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(infra_app, name="infra")
app.add_typer(keys_app, name="keys")
app.add_typer(dlq_app, name="dlq")
app.command("status")(status_command)
app.command("train")(train_command)
app.command("score")(score_command)

# Services register here as they arrive: name -> "module:function" taking no arguments.
SERVICES: dict[str, str] = {
    "api": "services.api.bootstrap:main",
    "logger": "services.logger.bootstrap:main",
    "monitoring": "services.monitoring.bootstrap:main",
    "training": "services.training.bootstrap:main",
    "frontend": "services.frontend.bootstrap:main",
    "dashboard": "services.dashboard.bootstrap:main",
}


@app.command()
def emulator(
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on (LocalStack's by default).")] = 4566,
    state_dir: Annotated[
        Path | None,
        typer.Option(
            help="Folder where POST /_toxic/snapshot writes its data and /_toxic/restore reads "
            "it (`toxic up` drives both)."
        ),
    ] = None,
) -> None:
    """Run the AWS stand-in (moto: SQS, SNS, DynamoDB, S3) in the foreground until Ctrl-C.

    It keeps everything in memory: stopping it erases all queues, tables and objects unless
    a snapshot was taken into --state-dir. Other commands reach it with
    AWS_ENDPOINT_URL=http://HOST:PORT.
    """
    from shared.emulator import serve

    try:
        serve(EmulatorSettings(host=host, port=port), announce=typer.echo, state_dir=state_dir)
    except ConfigurationError as exc:
        typer.secho(f"error: {exc}", err=True, fg="red")
        raise typer.Exit(1) from None


_UP_HELP = (
    "Start the whole system on this machine (no Docker, no AWS account) until Ctrl-C."
    "\n\n"
    "Starts the AWS stand-in (unless AWS_ENDPOINT_URL points elsewhere) from its last snapshot, "
    "MLflow, the infrastructure, a first model when there is no champion, an admin and a "
    "moderator key, and the services; prints their URLs; restarts a crashed service; stops "
    "everything on Ctrl-C. State (the stand-in's data every few seconds, MLflow's database, the "
    "keys) is kept in --state-dir and survives a restart."
)


@app.command(help=_UP_HELP)
def up(
    data: Annotated[
        list[Path] | None,
        typer.Option("--data", help="A CSV to train the first model on; repeat for several."),
    ] = None,
    service: Annotated[
        list[str] | None,
        typer.Option(
            "--service", help="Run only this service; repeat for several (default: all six)."
        ),
    ] = None,
    state_dir: Annotated[
        Path | None,
        typer.Option(help="State folder (TOXIC_UP_STATE_DIR; default ~/.local/state/toxic/up)."),
    ] = None,
    api_port: Annotated[int | None, typer.Option(help="API port (TOXIC_PORT; 8000).")] = None,
    frontend_port: Annotated[
        int | None, typer.Option(help="Frontend port (TOXIC_FRONTEND_PORT; 8501).")
    ] = None,
    dashboard_port: Annotated[
        int | None, typer.Option(help="Dashboard port (TOXIC_DASHBOARD_PORT; 8502).")
    ] = None,
    mlflow_port: Annotated[
        int | None, typer.Option(help="MLflow port (TOXIC_MLFLOW_PORT; 5000).")
    ] = None,
    emulator_port: Annotated[
        int | None, typer.Option(help="AWS stand-in port (TOXIC_EMULATOR_PORT; 4566).")
    ] = None,
) -> None:
    from pydantic import ValidationError

    from services.up.command import main
    from services.up.settings import UpSettings

    given = {
        "services": tuple(service) if service else None,
        "state_dir": state_dir,
        "api_port": api_port,
        "frontend_port": frontend_port,
        "dashboard_port": dashboard_port,
        "mlflow_port": mlflow_port,
        "emulator_port": emulator_port,
    }
    try:
        chosen: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
        settings = UpSettings(**chosen)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        typer.secho(f"error: invalid settings: {problems}", err=True, fg="red")
        raise typer.Exit(1) from None
    raise typer.Exit(main(settings, tuple(data or ())))


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help="Which service to run.")],
) -> None:
    """Run one service in the foreground; it stops gracefully on SIGTERM or Ctrl-C."""
    import importlib

    target = SERVICES.get(service)
    if target is None:
        available = ", ".join(sorted(SERVICES)) or "none yet"
        typer.secho(f"error: no service named {service!r} (available: {available})", err=True)
        raise typer.Exit(2)
    module_name, _, function_name = target.partition(":")
    entrypoint = getattr(importlib.import_module(module_name), function_name)
    entrypoint()


if __name__ == "__main__":
    app()
