"""compose.yaml and the Dockerfile: valid, and in agreement with the CLI, the settings and the spec.

`docker-compose config` (Debian's v1 parser, which needs no engine) checks the file's syntax; the
rest reads it in Python, since the old parser knows nothing about our commands and settings.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer.main
import yaml  # type: ignore[import-untyped]

from services.cli import SERVICES, app
from shared.infra import InfraSpec
from shared.settings import AwsSettings, EmulatorSettings
from tests.unit.deploy_settings import environment_names, settings_for_command

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
OUR_IMAGE = "toxic-platform:local"
# The last LocalStack tag that starts without LOCALSTACK_AUTH_TOKEN (March 2026).
LAST_FREE_LOCALSTACK = (4, 14, 0)
# The ports each HTTP service is published on, by the settings field holding its default.
HTTP_PORT_FIELD = {"api": "port", "frontend": "port", "dashboard": "dashboard_port"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def _ours(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The services running our image with the `toxic` entrypoint."""
    return {name: s for name, s in services.items() if s.get("image") == OUR_IMAGE}


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """The variables a service sets; a bare name (passed through from the shell) is left out."""
    return {k: str(v) for k, v in (service.get("environment") or {}).items() if v is not None}


def _published(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    ports = []
    for mapping in service.get("ports", []):
        host_ip, host_port, container_port = str(mapping).split(":")
        ports.append((host_ip, int(host_port), int(container_port)))
    return ports


def _settings_from(service: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    """The service's settings, built from exactly the environment compose gives it."""
    for name in list(os.environ):
        if name.startswith(("TOXIC_", "AWS_", "MLFLOW_")):
            monkeypatch.delenv(name)
    for name, value in _environment(service).items():
        monkeypatch.setenv(name, value)
    return settings_for_command(service["command"])()


def test_docker_compose_v1_accepts_the_file() -> None:
    binary = shutil.which("docker-compose")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is missing in CI (.ci/run installs Debian's package)")
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    result = subprocess.run(
        [binary, "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "LOCALSTACK_AUTH_TOKEN": ""},
    )
    assert result.returncode == 0, result.stderr


def test_every_service_runs_once_and_every_command_exists(
    services: dict[str, dict[str, Any]],
) -> None:
    served = []
    cli = typer.main.get_command(app)
    for name, service in _ours(services).items():
        command = service["command"]
        if command[0] == "serve":
            assert command[1] in SERVICES, f"{name}: `toxic serve {command[1]}` is no service"
            served.append(command[1])
            continue
        # A one-shot job: every word must name a real (sub)command of `toxic`.
        group: Any = cli
        for word in command:
            assert hasattr(group, "get_command"), f"{name}: {command} goes past a command"
            found = group.get_command(group.context_class(group), word)
            assert found is not None, f"{name}: `toxic {' '.join(command)}` does not exist"
            group = found
    assert sorted(served) == sorted(SERVICES)


def test_every_toxic_variable_is_a_setting_of_the_process_reading_it(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in _ours(services).items():
        settings = settings_for_command(service["command"])
        known = environment_names(settings)
        for variable in service.get("environment") or {}:
            if variable.upper().startswith("TOXIC_"):
                assert variable.upper() in known, (
                    f"{name}: {variable} is not a field of {settings.__name__}"
                )


def test_each_service_reads_a_valid_configuration_aimed_at_localstack(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    localstack_port = EmulatorSettings().port
    for name, service in _ours(services).items():
        with monkeypatch.context() as patch:
            settings = _settings_from(service, patch)
        if isinstance(settings, AwsSettings):
            assert settings.endpoint_url == f"http://localstack:{localstack_port}", name
            assert settings.is_local, name
            assert settings.credentials(), name


def test_published_ports_are_the_settings_defaults(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, field in HTTP_PORT_FIELD.items():
        service = services[name]
        settings = settings_for_command(service["command"])
        default = settings.model_fields[field].default
        with monkeypatch.context() as patch:
            configured = getattr(_settings_from(service, patch), field)
        assert configured == default, f"{name} listens on {configured}, its default is {default}"
        assert _published(service) == [("127.0.0.1", default, default)], name
        # The health check asks the port the service listens on.
        assert f"127.0.0.1:{default}/" in " ".join(service["healthcheck"]["test"]), name

    stand_in = EmulatorSettings().port
    assert _published(services["localstack"]) == [("127.0.0.1", stand_in, stand_in)]
    mlflow_port = int(_flag(services["mlflow"]["command"], "--port"))
    assert mlflow_port == 5000  # MLflow's own default, the one `toxic up` uses too
    assert _published(services["mlflow"]) == [("127.0.0.1", mlflow_port, mlflow_port)]
    for name in ("training", "initial-model"):
        uri = urlsplit(services[name]["environment"]["MLFLOW_TRACKING_URI"])
        assert (uri.hostname, uri.port) == ("mlflow", mlflow_port), name


def test_the_streamlit_apps_call_the_api_where_it_listens(
    services: dict[str, dict[str, Any]],
) -> None:
    api_port = services["api"]["environment"]["TOXIC_PORT"]
    for name in ("frontend", "dashboard"):
        variable = f"TOXIC_{name.upper()}_API_URL"
        assert services[name]["environment"][variable] == f"http://api:{api_port}"


def _flag(command: list[str], flag: str) -> str:
    for word in command:
        if word.startswith(f"{flag}="):
            return word.split("=", 1)[1]
    raise AssertionError(f"{flag} missing from {command}")


def test_mlflow_keeps_its_artifacts_in_the_deployment_bucket(
    services: dict[str, dict[str, Any]],
) -> None:
    bucket = InfraSpec.for_prefix(AwsSettings.model_fields["prefix"].default).bucket.name
    destination = urlsplit(_flag(services["mlflow"]["command"], "--artifacts-destination"))
    assert (destination.scheme, destination.hostname) == ("s3", bucket)
    backend = urlsplit(_flag(services["mlflow"]["command"], "--backend-store-uri"))
    assert backend.scheme.startswith("postgresql")
    assert backend.hostname == "postgres"
    assert services["mlflow"]["environment"]["MLFLOW_S3_ENDPOINT_URL"] == "http://localstack:4566"


def test_localstack_is_pinned_to_a_tag_that_needs_no_auth_token(
    services: dict[str, dict[str, Any]],
) -> None:
    image = services["localstack"]["image"]
    repository, _, tag = image.partition(":")
    assert repository == "localstack/localstack"
    assert re.fullmatch(r"\d+\.\d+\.\d+", tag), f"{image} is not pinned to a release"
    assert tuple(map(int, tag.split("."))) <= LAST_FREE_LOCALSTACK
    assert set(services["localstack"]["environment"]["SERVICES"].split(",")) >= {
        "sqs",
        "sns",
        "dynamodb",
        "s3",
    }
    mount = "./localstack/init/ready.d:/etc/localstack/init/ready.d:ro"
    assert mount in services["localstack"]["volumes"]
    assert "_localstack/init/ready" in " ".join(services["localstack"]["healthcheck"]["test"])


def _waits_for(services: dict[str, dict[str, Any]], name: str, target: str, condition: str) -> bool:
    """Whether ``name`` starts only after ``target`` reached ``condition``, directly or not."""
    for dependency, how in (services[name].get("depends_on") or {}).items():
        if dependency == target and how["condition"] == condition:
            return True
        if _waits_for(services, dependency, target, condition):
            return True
    return False


def test_services_start_after_the_infrastructure_job_succeeded(
    services: dict[str, dict[str, Any]],
) -> None:
    assert services["infra"]["command"] == ["infra", "ensure"]
    assert _waits_for(services, "infra", "localstack", "service_healthy")
    for name in (*SERVICES, "mlflow", "initial-model"):
        assert _waits_for(services, name, "infra", "service_completed_successfully"), name
    for name in ("training", "initial-model"):
        assert _waits_for(services, name, "mlflow", "service_healthy"), name
    for name in ("mlflow", "localstack", "postgres", "api", "frontend", "dashboard"):
        assert "healthcheck" in services[name], f"{name} has no health check"


def test_the_dockerfile_builds_one_locked_image_run_by_an_unprivileged_user(
    services: dict[str, dict[str, Any]],
) -> None:
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM \S+ AS (\S+)$", text, flags=re.MULTILINE)
    for service in services.values():
        if "build" in service:
            assert service["build"]["target"] in stages
    # The default target (the last stage) is the services' image.
    assert stages[-1] == "service"
    assert re.search(r"uv sync --frozen --no-dev", text)
    assert re.search(r"^FROM \$\{PYTHON_IMAGE\}", text, flags=re.MULTILINE)
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11\.\d+-slim", text, flags=re.MULTILINE)
    users = re.findall(r"^USER (\S+)$", text, flags=re.MULTILINE)
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert 'ENTRYPOINT ["toxic"]' in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "*" in ignored
    assert "!uv.lock" in ignored
