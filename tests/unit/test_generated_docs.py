"""The checked-in JSON Schemas and AsyncAPI document: in step with the models, and coherent."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from contracts import EVENT_TYPES, SCHEMA_MAJOR, ContractError, PredictionMade, decode
from contracts.asyncapi import asyncapi_document, contract_version
from contracts.generate import (
    ASYNCAPI_FILE,
    CONTRACTS_DIR,
    SCHEMAS_DIR,
    generated_files,
    main,
    render,
    stale_files,
    write_files,
)
from contracts.topology import PUBLISHERS, QUEUE_ROUTES, REPLICA_ROLE, TOPIC_SUFFIX
from tests.factories import EVENT_FACTORIES, as_body, prediction_made

pytestmark = pytest.mark.unit

EVENT_NAMES = sorted(EVENT_TYPES)


def _checked_in(rel: str) -> Any:
    return json.loads((CONTRACTS_DIR / rel).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def asyncapi() -> dict[str, Any]:
    document: dict[str, Any] = _checked_in(ASYNCAPI_FILE)
    return document


def _validator(schema: dict[str, Any]) -> Any:
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


# --- drift ---------------------------------------------------------------------------------------


def test_checked_in_files_are_what_the_models_generate() -> None:
    assert stale_files() == [], "run: uv run python -m contracts.generate"


def test_there_is_one_schema_file_per_event_and_one_for_the_union() -> None:
    names = {p.stem for p in (CONTRACTS_DIR / SCHEMAS_DIR).glob("*.json")}

    assert names == set(EVENT_TYPES) | {"Event"}


def test_check_passes_on_a_fresh_generation(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    write_files(tmp_path)

    assert main(["--check", "--root", str(tmp_path)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_check_lists_a_tampered_file_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_files(tmp_path)
    tampered = tmp_path / SCHEMAS_DIR / "PredictionMade.json"
    tampered.write_text(tampered.read_text().replace('"maximum": 1.0', '"maximum": 2.0'))

    assert stale_files(tmp_path) == [f"{SCHEMAS_DIR}/PredictionMade.json"]
    assert main(["--check", "--root", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert str(tampered) in out
    assert "asyncapi.json" not in out


def test_check_lists_missing_and_stray_files(tmp_path: Path) -> None:
    write_files(tmp_path)
    (tmp_path / ASYNCAPI_FILE).unlink()
    (tmp_path / SCHEMAS_DIR / "PredictionDeleted.json").write_text("{}\n")

    assert stale_files(tmp_path) == [ASYNCAPI_FILE, f"{SCHEMAS_DIR}/PredictionDeleted.json"]


def test_check_changes_nothing(tmp_path: Path) -> None:
    write_files(tmp_path)
    (tmp_path / ASYNCAPI_FILE).write_text("{}\n")

    main(["--check", "--root", str(tmp_path)])

    assert (tmp_path / ASYNCAPI_FILE).read_text() == "{}\n"


def test_writing_brings_a_directory_up_to_date(tmp_path: Path) -> None:
    write_files(tmp_path)
    (tmp_path / ASYNCAPI_FILE).write_text("{}\n")
    stray = tmp_path / SCHEMAS_DIR / "PredictionDeleted.json"
    stray.write_text("{}\n")

    assert main(["--root", str(tmp_path)]) == 0

    assert stale_files(tmp_path) == []
    assert not stray.exists()


def test_a_model_change_without_regeneration_is_caught() -> None:
    class PredictionMadeV11(PredictionMade):
        """A comment was scored, now with a guess at its mood."""

        schema_version: str = "1.1"
        sentiment: str | None = None

    changed = generated_files({**EVENT_TYPES, "PredictionMade": PredictionMadeV11})

    assert stale_files(CONTRACTS_DIR, changed) == [
        ASYNCAPI_FILE,
        f"{SCHEMAS_DIR}/Event.json",
        f"{SCHEMAS_DIR}/PredictionMade.json",
    ]
    assert json.loads(changed[ASYNCAPI_FILE])["info"]["version"] == f"{SCHEMA_MAJOR}.1.0"


def test_generation_is_deterministic_sorted_and_ends_with_a_newline() -> None:
    first, second = generated_files(), generated_files()

    assert first == second
    for text in first.values():
        assert text.endswith("}\n")
        assert text == render(json.loads(text))


# --- JSON Schemas --------------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", EVENT_NAMES)
def test_validation_and_serialization_schemas_agree(event_type: str) -> None:
    cls = EVENT_TYPES[event_type]

    assert cls.model_json_schema(mode="validation") == cls.model_json_schema(
        mode="serialization"
    ), "what producers write and what consumers accept now differ: revisit SCHEMA_MODE"


@pytest.mark.parametrize("event_type", EVENT_NAMES)
def test_an_encoded_event_is_valid_against_its_schema_and_the_union(event_type: str) -> None:
    body = as_body(EVENT_FACTORIES[event_type]())

    _validator(_checked_in(f"{SCHEMAS_DIR}/{event_type}.json")).validate(body)
    _validator(_checked_in(f"{SCHEMAS_DIR}/Event.json")).validate(body)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("scores", {"toxic": 1.5}, id="score-above-one"),
        pytest.param("decision", "maybe", id="unknown-decision"),
        pytest.param("text_sha256", "abc", id="bad-digest"),
        pytest.param("event_id", "not-a-uuid", id="bad-event-id"),
    ],
)
def test_a_body_the_codec_refuses_for_its_types_is_invalid_against_the_schema(
    field: str, value: Any
) -> None:
    body = as_body(prediction_made()) | {field: value}

    with pytest.raises(ContractError):
        decode(json.dumps(body))
    assert not _validator(_checked_in(f"{SCHEMAS_DIR}/PredictionMade.json")).is_valid(body)


def test_the_union_schema_refuses_an_unknown_event_type() -> None:
    body = as_body(prediction_made()) | {"event_type": "PredictionDeleted"}

    assert not _validator(_checked_in(f"{SCHEMAS_DIR}/Event.json")).is_valid(body)


@pytest.mark.parametrize(
    "field", ["event_id", "event_type", "schema_version", "occurred_at", "correlation_id"]
)
def test_the_envelope_fields_are_required_on_the_wire(field: str) -> None:
    body = as_body(prediction_made())
    del body[field]

    assert not _validator(_checked_in(f"{SCHEMAS_DIR}/PredictionMade.json")).is_valid(body)


@pytest.mark.parametrize("field", ["traceparent", "flagged", "review_priority", "text"])
def test_fields_with_a_fixed_default_may_be_left_out(field: str) -> None:
    # What lets a reader take a body from an older minor that lacked a field added since.
    body = as_body(prediction_made())
    del body[field]

    _validator(_checked_in(f"{SCHEMAS_DIR}/PredictionMade.json")).validate(body)
    assert isinstance(decode(json.dumps(body)), PredictionMade)


def test_a_newer_minor_with_an_extra_field_is_valid_against_the_schema() -> None:
    body = as_body(prediction_made()) | {"schema_version": "1.7", "sentiment": "sunny"}

    _validator(_checked_in(f"{SCHEMAS_DIR}/PredictionMade.json")).validate(body)


# --- AsyncAPI ------------------------------------------------------------------------------------


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"{ref} points outside the document"
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_the_document_is_asyncapi_3(asyncapi: dict[str, Any]) -> None:
    assert asyncapi["asyncapi"] == "3.0.0"
    assert asyncapi["info"]["title"]
    assert asyncapi["info"]["description"]


def test_the_document_version_is_the_contract_version(asyncapi: dict[str, Any]) -> None:
    assert asyncapi["info"]["version"] == contract_version()
    assert asyncapi["info"]["version"].startswith(f"{SCHEMA_MAJOR}.")


def test_every_reference_resolves_inside_the_document(asyncapi: dict[str, Any]) -> None:
    refs = set(_refs(asyncapi))

    assert refs, "the document should share its parts by reference"
    assert not [ref for ref in refs if ref.startswith("#/$defs/")]
    for ref in refs:
        assert _resolve(asyncapi, ref) is not None


@pytest.mark.parametrize("event_type", EVENT_NAMES)
def test_every_event_type_is_a_json_message(asyncapi: dict[str, Any], event_type: str) -> None:
    message = asyncapi["components"]["messages"][event_type]

    assert message["name"] == event_type
    assert message["title"]
    assert message["summary"]
    assert message["contentType"] == "application/json"
    assert message["headers"]["properties"]["event_type"]["const"] == event_type
    assert "`event_type`" in message["description"]
    payload = _resolve(asyncapi, message["payload"]["$ref"])
    assert payload["properties"]["event_type"]["const"] == event_type


@pytest.mark.parametrize("event_type", EVENT_NAMES)
def test_a_payload_schema_accepts_the_encoded_event(
    asyncapi: dict[str, Any], event_type: str
) -> None:
    # The payload's refs point into components.schemas, so validate it in place in the document.
    ref = asyncapi["components"]["messages"][event_type]["payload"]["$ref"]
    schema = {**asyncapi, "$ref": ref}

    _validator(schema).validate(as_body(EVENT_FACTORIES[event_type]()))


def test_every_channel_lists_messages_that_resolve(asyncapi: dict[str, Any]) -> None:
    for channel in asyncapi["channels"].values():
        assert channel["messages"]
        for message in channel["messages"].values():
            assert _resolve(asyncapi, message["$ref"])["name"] in EVENT_TYPES


def test_the_topic_carries_every_event(asyncapi: dict[str, Any]) -> None:
    topic = asyncapi["channels"][TOPIC_SUFFIX]

    assert topic["address"] == "{prefix}-events"
    assert set(topic["messages"]) == set(EVENT_TYPES)
    assert topic["bindings"]["sns"]["name"] == topic["address"]


@pytest.mark.parametrize("role", sorted(QUEUE_ROUTES))
def test_each_queue_carries_exactly_the_types_routed_to_it(
    asyncapi: dict[str, Any], role: str
) -> None:
    channel = asyncapi["channels"][role]

    assert set(channel["messages"]) == set(QUEUE_ROUTES[role])
    assert channel["bindings"]["sqs"]["queue"]["name"] == channel["address"]


def test_queue_addresses_follow_the_naming_of_the_topology(asyncapi: dict[str, Any]) -> None:
    addresses = {role: asyncapi["channels"][role]["address"] for role in QUEUE_ROUTES}

    assert addresses == {
        role: "{prefix}-api-{instance}" if role == REPLICA_ROLE else f"{{prefix}}-{role}"
        for role in QUEUE_ROUTES
    }


def test_every_address_parameter_is_described(asyncapi: dict[str, Any]) -> None:
    for channel in asyncapi["channels"].values():
        in_address = set(re.findall(r"\{(\w+)\}", channel["address"]))
        assert set(channel["parameters"]) == in_address


def test_each_publisher_sends_its_events_on_the_topic(asyncapi: dict[str, Any]) -> None:
    sends = {name: op for name, op in asyncapi["operations"].items() if op["action"] == "send"}

    assert {name.removesuffix("-publishes") for name in sends} == set(PUBLISHERS)
    for role, types in PUBLISHERS.items():
        operation = sends[f"{role}-publishes"]
        assert operation["channel"]["$ref"] == f"#/channels/{TOPIC_SUFFIX}"
        assert [_resolve(asyncapi, m["$ref"])["$ref"] for m in operation["messages"]] == [
            f"#/components/messages/{t}" for t in types
        ]


def test_the_publishers_are_those_of_the_design() -> None:
    assert {role: set(types) for role, types in PUBLISHERS.items()} == {
        "api": {"PredictionMade", "FeedbackGiven", "RetrainRequested"},
        "monitoring": {"RetrainRequested"},
        "training": {"ModelPublished", "ModelRejected", "TrainingFailed"},
    }


def test_each_queue_owner_receives_from_its_queue(asyncapi: dict[str, Any]) -> None:
    for role, types in QUEUE_ROUTES.items():
        operation = asyncapi["operations"][f"{role}-receives"]
        assert operation["action"] == "receive"
        assert operation["channel"]["$ref"] == f"#/channels/{role}"
        assert [m["$ref"] for m in operation["messages"]] == [
            f"#/channels/{role}/messages/{t}" for t in types
        ]


def test_operations_only_name_messages_of_their_channel(asyncapi: dict[str, Any]) -> None:
    for operation in asyncapi["operations"].values():
        channel_ref = operation["channel"]["$ref"]
        for message in operation["messages"]:
            assert message["$ref"].startswith(f"{channel_ref}/messages/")


@pytest.mark.parametrize("event_type", EVENT_NAMES)
def test_every_event_has_a_publisher_and_a_queue(event_type: str) -> None:
    assert any(event_type in types for types in PUBLISHERS.values())
    assert any(event_type in types for types in QUEUE_ROUTES.values())


def test_the_document_generated_now_is_the_checked_in_one(asyncapi: dict[str, Any]) -> None:
    assert asyncapi_document() == asyncapi
