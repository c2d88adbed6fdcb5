"""Schemathesis against `toxic serve api` over HTTP: no generated request gets a server error.

Every operation of the replica's own OpenAPI document (native ``/v1``, Perspective ``/v1alpha1``,
discovery and operations routes) goes through all of Schemathesis's phases (schema examples,
boundary coverage, fuzzing with valid and invalid data, stateful sequences) with a fixed seed and
100 fuzzed examples per operation, checking ``not_a_server_error`` only. Every request carries an
admin key, so the moderator and admin routes are exercised past 401.

Perspective's attribute maps are free-form in its protocol (so in the schema), and a request
naming no attribute this server scores is refused with 400 before it reaches the model: the
``flatmap_body`` hook below also sends each generated Perspective body with its attribute names
replaced by supported ones, so the scoring and suggestion paths are fuzzed too. ``st run`` loads
this file as its hooks module (``SCHEMATHESIS_HOOKS``).

Schemathesis runs as its own command line: its pytest loader for fixtures
(``schemathesis.pytest.from_fixture``) reads ``Node._nodeid``, which pytest 9.2 no longer has.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import strategies as st

from services.api.keys import Role, create_key
from services.api.keystore import DynamoKeyStore
from shared.artifacts import ArtifactStore
from shared.aws import AwsClients
from shared.infra import InfraSpec
from shared.settings import AwsSettings
from tests.harness.api import api_env
from tests.harness.champion import publish_champion
from tests.harness.processes import ServiceProcess, http_ready, toxic_command

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SEED = 20_251_130
# Fuzzed cases per operation, half valid and half invalid; coverage and stateful cases come on top.
EXAMPLES = 100
# Requests every operation with inputs must have had (from the replica's access log).
AT_LEAST = 50
ATTRIBUTE_MAPS = {
    "/v1alpha1/comments:analyze": "requestedAttributes",
    "/v1alpha1/comments:suggestscore": "attributeScores",
}
SUPPORTED = ("TOXICITY", "SEVERE_TOXICITY", "INSULT", "THREAT", "IDENTITY_ATTACK", "PROFANITY")
# Operations whose only inputs are the method and path: nothing to vary, so a handful of cases.
WITHOUT_INPUT = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/v1/model"),
    ("GET", "/v1/examples/random"),
    ("GET", "/v1/reviews/stats"),
}


def flatmap_body(ctx: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
    """A Perspective body as generated, or with what a request must have to be scored."""
    path = ctx.operation.path if ctx.operation else ""
    if path not in ATTRIBUTE_MAPS or not isinstance(body, dict):
        return st.just(body)
    names = st.lists(st.sampled_from(SUPPORTED), min_size=1, max_size=len(SUPPORTED), unique=True)
    if path.endswith(":analyze"):
        value: st.SearchStrategy[Any] = st.fixed_dictionaries(
            {},
            optional={
                "scoreType": st.sampled_from(["PROBABILITY", "SCORE_TYPE_UNSPECIFIED"]),
                "scoreThreshold": st.floats(0.0, 1.0),
            },
        )
    else:
        value = st.fixed_dictionaries(
            {"summaryScore": st.fixed_dictionaries({"value": st.floats(0, 1)})}
        )
    attributes = names.flatmap(lambda chosen: st.fixed_dictionaries(dict.fromkeys(chosen, value)))
    scorable = st.fixed_dictionaries(
        {
            # Any generated text, made non-blank: a blank comment is refused before scoring.
            "comment": st.text(max_size=300).map(lambda text: {"text": f"{text} you"}),
            "languages": st.sampled_from([[], ["en"], ["en-US"], ["EN_gb"]]),
            ATTRIBUTE_MAPS[path]: attributes,
        }
    )
    return st.one_of(st.just(body), scorable.map(lambda fields: {**body, **fields}))


# Registered only in the `st run` process that loads this file as its hooks, never in pytest's.
if os.path.realpath(os.environ.get("SCHEMATHESIS_HOOKS", "")) == os.path.realpath(__file__):
    schemathesis.hook(flatmap_body)


def schemathesis_command(url: str, *options: str) -> list[str]:
    """``st run`` from this interpreter's environment against the schema at ``url``."""
    return [str(Path(sys.executable).parent / "st"), "run", url, *options]


def requests_by_operation(log: str) -> Counter[tuple[str, str, int]]:
    """(method, route, status) of every request in the replica's access log."""
    seen: Counter[tuple[str, str, int]] = Counter()
    for line in log.splitlines():
        if line.startswith("{") and '"event": "request"' in line:
            entry = json.loads(line)
            seen[entry["method"], entry["route"], entry["status"]] += 1
    return seen


def operations_of(url: str) -> set[tuple[str, str]]:
    """Every (method, path) of the replica's OpenAPI document."""
    with urllib.request.urlopen(f"{url}/openapi.json", timeout=5) as response:  # noqa: S310
        document = json.load(response)
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item}


def server_errors(log: str) -> str:
    """The replica's log lines about unexpected errors, with their tracebacks."""
    return "\n".join(
        line for line in log.splitlines() if "unexpected_error" in line or "Traceback" in line
    )


@pytest.mark.timeout(300)
async def test_no_generated_request_gets_a_server_error(
    deployment: InfraSpec,
    clients: AwsClients,
    aws_settings: AwsSettings,
    processes: Callable[..., ServiceProcess],
    tmp_path: Path,
) -> None:
    await publish_champion(ArtifactStore(clients.s3, deployment.bucket.name), "v1")
    keys = DynamoKeyStore(clients.dynamodb, deployment.table("api-keys").name)
    admin = await create_key(keys, Role.ADMIN, name="schemathesis")
    replica, env = api_env(aws_settings, tmp_path, "api-schema", rate_limit_per_second="0")
    api = processes(
        "api-schema",
        toxic_command("serve", "api"),
        env=env,
        ready=http_ready(f"{replica.url}/readyz"),
        timeout=60,
    )
    command = schemathesis_command(
        f"{replica.url}/openapi.json",
        "--checks=not_a_server_error",
        f"--seed={SEED}",
        f"--max-examples={EXAMPLES}",
        "--workers=1",
        f"--header=X-API-Key: {admin}",
        "--suppress-health-check=all",
        "--report=json",
        f"--report-json-path={tmp_path / 'schemathesis.json'}",
    )

    run = await asyncio.to_thread(
        subprocess.run,
        command,
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": __file__, "PYTHONPATH": str(ROOT)},
    )

    log = api.log()
    assert run.returncode == 0, (
        f"schemathesis found failures:\n{run.stdout}\n{run.stderr}\n"
        f"the replica logged:\n{server_errors(log)}"
    )
    report = json.loads((tmp_path / "schemathesis.json").read_text())
    operations = operations_of(replica.url)
    assert report["operations"]["tested"] == len(operations), run.stdout
    seen = requests_by_operation(log)
    for method, path in operations - WITHOUT_INPUT:
        sent = sum(n for (m, route, _), n in seen.items() if (m, route) == (method, path))
        assert sent >= AT_LEAST, f"{method} {path}: {sent} requests"
    for path in ATTRIBUTE_MAPS:  # the hook made some of them reach the model
        assert seen["POST", path, 200] > 0, f"no generated request to {path} was scored"
    assert not any(status >= 500 for _, _, status in seen)
