"""Settings: the standard AWS variables select the target, and unsafe values are refused."""

from __future__ import annotations

import os

import pytest
from pydantic import ValidationError

from shared.settings import AwsService, AwsSettings, EmulatorSettings, is_loopback_url

pytestmark = pytest.mark.unit

SERVICES: tuple[AwsService, ...] = ("sqs", "sns", "dynamodb", "s3")
NOT_SQS: tuple[AwsService, ...] = ("sns", "dynamodb", "s3")
LOCAL = "http://127.0.0.1:4566"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever AWS or TOXIC variables this machine has, the tests start without them."""
    for name in list(os.environ):
        if name.upper().startswith(("AWS_", "TOXIC_")):
            monkeypatch.delenv(name)


def test_without_variables_the_target_is_real_aws_through_the_default_chain() -> None:
    settings = AwsSettings()

    assert [settings.endpoint_for(s) for s in SERVICES] == [None] * 4
    assert not settings.is_local
    assert settings.credentials() == {}
    assert (settings.prefix, settings.region) == ("toxic", "us-east-1")


def test_aws_endpoint_url_selects_the_endpoint_of_every_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", LOCAL)

    settings = AwsSettings()

    assert {s: settings.endpoint_for(s) for s in SERVICES} == dict.fromkeys(SERVICES, LOCAL)
    assert settings.is_local


def test_aws_endpoint_url_sqs_overrides_only_sqs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", LOCAL)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", "http://localhost:9324")

    settings = AwsSettings()

    assert settings.endpoint_for("sqs") == "http://localhost:9324"
    assert [settings.endpoint_for(s) for s in NOT_SQS] == [LOCAL] * 3


def test_a_service_endpoint_alone_leaves_the_others_on_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", LOCAL)

    settings = AwsSettings()

    assert settings.endpoint_for("s3") == LOCAL
    assert settings.endpoint_for("sqs") is None
    assert not settings.is_local


def test_a_trailing_slash_is_dropped_and_an_empty_variable_means_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"{LOCAL}/")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", "")

    settings = AwsSettings()

    assert settings.endpoint_for("sqs") == LOCAL


@pytest.mark.parametrize(
    "endpoint", ["http://127.0.0.1:4566", "http://localhost:4566", "http://localstack:4566"]
)
def test_a_loopback_endpoint_without_credentials_gets_the_local_test_credentials(
    monkeypatch: pytest.MonkeyPatch, endpoint: str
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)

    assert AwsSettings().credentials() == {
        "aws_access_key_id": "test",
        "aws_secret_access_key": "test",
    }


def test_a_remote_endpoint_without_credentials_gets_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://aws-proxy.example.com")

    assert AwsSettings().credentials() == {}


def test_one_remote_service_is_enough_to_withhold_the_test_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", LOCAL)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "https://dynamodb.eu-west-1.amazonaws.com")

    settings = AwsSettings()

    assert not settings.is_local
    assert settings.credentials() == {}


def test_given_credentials_are_used_as_given_also_against_a_loopback_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", LOCAL)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-example")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token-example")

    assert AwsSettings().credentials() == {
        "aws_access_key_id": "AKIAEXAMPLE",
        "aws_secret_access_key": "secret-example",
        "aws_session_token": "token-example",
    }


def test_credentials_do_not_show_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-example")

    shown = repr(AwsSettings())

    assert "AKIAEXAMPLE" not in shown
    assert "secret-example" not in shown


@pytest.mark.parametrize(
    ("present", "missing"),
    [
        ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
        ("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID"),
    ],
)
def test_only_one_of_the_two_credential_variables_is_refused(
    monkeypatch: pytest.MonkeyPatch, present: str, missing: str
) -> None:
    monkeypatch.setenv(present, "half-a-pair")

    with pytest.raises(ValidationError, match="set both AWS_ACCESS_KEY_ID and AWS_SECRET"):
        AwsSettings()


@pytest.mark.parametrize(
    "prefix",
    [
        pytest.param("Toxic", id="uppercase"),
        pytest.param("t" * 33, id="too-long"),
        pytest.param("tx", id="too-short"),
        pytest.param("1toxic", id="starts-with-a-digit"),
        pytest.param("toxic-", id="ends-with-a-dash"),
        pytest.param("tox_ic", id="underscore"),
    ],
)
def test_a_prefix_unfit_for_aws_resource_names_is_refused(
    monkeypatch: pytest.MonkeyPatch, prefix: str
) -> None:
    monkeypatch.setenv("TOXIC_PREFIX", prefix)

    with pytest.raises(ValidationError, match=r"prefix\n.*should match pattern"):
        AwsSettings()


def test_a_prefix_of_the_longest_allowed_length_is_accepted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOXIC_PREFIX", "t" * 32)

    assert AwsSettings().prefix == "t" * 32


@pytest.mark.parametrize(
    ("variable", "endpoint"),
    [
        pytest.param("AWS_ENDPOINT_URL", "ftp://127.0.0.1:4566", id="ftp"),
        pytest.param("AWS_ENDPOINT_URL", "localhost:4566", id="no-scheme"),
        pytest.param("AWS_ENDPOINT_URL_SQS", "http://", id="no-host"),
        pytest.param("AWS_ENDPOINT_URL_S3", "file:///tmp/bucket", id="file"),
    ],
)
def test_an_endpoint_that_is_not_an_http_url_is_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, endpoint: str
) -> None:
    monkeypatch.setenv(variable, endpoint)

    with pytest.raises(ValidationError, match=r"endpoint must be an http\(s\) URL with a host"):
        AwsSettings()


def test_aws_region_wins_over_aws_default_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    assert AwsSettings().region == "eu-central-1"

    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert AwsSettings().region == "eu-west-1"


def test_settings_are_frozen() -> None:
    settings = AwsSettings()

    with pytest.raises(ValidationError, match="frozen"):
        settings.prefix = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:4566", True),
        ("http://[::1]:4566", True),
        ("http://localhost", True),
        ("http://moto:5000", True),
        ("https://sqs.us-east-1.amazonaws.com", False),
        ("http://10.0.0.5:4566", False),
    ],
)
def test_loopback_urls_are_recognised(url: str, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback


def test_the_emulator_url_follows_its_host_and_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOXIC_EMULATOR_PORT", "4599")

    assert EmulatorSettings().url == "http://127.0.0.1:4599"


def test_an_emulator_port_out_of_range_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOXIC_EMULATOR_PORT", "70000")

    with pytest.raises(ValidationError, match="port"):
        EmulatorSettings()
