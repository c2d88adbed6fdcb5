"""The checked-in JSON Schemas and AsyncAPI document, generated from the contract models.

``uv run python -m contracts.generate`` rewrites them; ``--check`` lists the files that differ from
what the models generate and exits 1 (0 when they agree). A unit test runs the same check.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from contracts.asyncapi import asyncapi_document
from contracts.codec import EVENT_TYPES
from contracts.json_schemas import UNION_NAME, EventClasses, JsonObject, event_schema, union_schema

__all__ = [
    "ASYNCAPI_FILE",
    "CONTRACTS_DIR",
    "SCHEMAS_DIR",
    "generated_files",
    "main",
    "render",
    "stale_files",
    "write_files",
]

CONTRACTS_DIR: Final = Path(__file__).resolve().parent
SCHEMAS_DIR: Final = "schemas"
ASYNCAPI_FILE: Final = "asyncapi.json"


def render(document: JsonObject) -> str:
    """Deterministic JSON text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generated_files(events: EventClasses = EVENT_TYPES) -> dict[str, str]:
    """Every generated file's text, by its path relative to the contracts directory."""
    files = {
        f"{SCHEMAS_DIR}/{name}.json": render(event_schema(cls)) for name, cls in events.items()
    }
    files[f"{SCHEMAS_DIR}/{UNION_NAME}.json"] = render(union_schema(events))
    files[ASYNCAPI_FILE] = render(asyncapi_document(events))
    return files


def _orphans(root: Path, expected: Mapping[str, str]) -> list[str]:
    found = (root / SCHEMAS_DIR).glob("*.json")
    return [rel for rel in (f"{SCHEMAS_DIR}/{p.name}" for p in found) if rel not in expected]


def stale_files(root: Path = CONTRACTS_DIR, expected: Mapping[str, str] | None = None) -> list[str]:
    """Paths under ``root`` that differ from, are missing from or are not in what is generated."""
    expected = generated_files() if expected is None else expected
    stale = [
        rel
        for rel, text in expected.items()
        if not (root / rel).is_file() or (root / rel).read_text(encoding="utf-8") != text
    ]
    return sorted(stale + _orphans(root, expected))


def write_files(root: Path = CONTRACTS_DIR, expected: Mapping[str, str] | None = None) -> list[str]:
    """Bring ``root`` up to date: write what differs, remove schemas no model generates."""
    expected = generated_files() if expected is None else expected
    changed = stale_files(root, expected)
    for rel in changed:
        path = root / rel
        if rel in expected:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(expected[rel], encoding="utf-8")
        else:
            path.unlink()
    return changed


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m contracts.generate", description=__doc__.splitlines()[0] if __doc__ else ""
    )
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 listing the files that differ"
    )
    parser.add_argument(
        "--root", type=Path, default=CONTRACTS_DIR, help="where the files live (default: contracts)"
    )
    args = parser.parse_args(argv)
    root: Path = args.root
    if args.check:
        stale = stale_files(root)
        for rel in stale:
            print(f"differs from the models: {_shown(root / rel)}")
        if stale:
            print("regenerate with: uv run python -m contracts.generate")
            return 1
        print("generated contract files are up to date")
        return 0
    changed = write_files(root)
    for rel in changed:
        print(f"{'wrote' if (root / rel).exists() else 'removed'} {_shown(root / rel)}")
    if not changed:
        print("generated contract files are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
