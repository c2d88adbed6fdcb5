"""The model file: skops, checked by sha256, loaded with an explicit list of trusted types.

skops rebuilds objects from a declarative description instead of running pickle's byte code, and
refuses any type it is not told to trust. We trust exactly the project's own model classes (by
full name) on top of skops' defaults (numpy arrays and built-in containers), and check the file's
sha256 against the published one before reading a byte of it as a model.
"""

from __future__ import annotations

import hashlib
import os
import platform
import tempfile
import zipfile
from importlib.metadata import version
from pathlib import Path

import skops.io as sio

from shared.errors import PoisonError
from shared.model.calibration import PlattCalibrator
from shared.model.features import NgramFeatures
from shared.model.toxicity import ModelConfig, ToxicityModel

__all__ = [
    "TRUSTED_TYPES",
    "ModelFileError",
    "dumps",
    "library_versions",
    "load",
    "loads",
    "save",
    "sha256_of",
]

TRUSTED_TYPES: tuple[str, ...] = tuple(
    f"{cls.__module__}.{cls.__qualname__}"
    for cls in (ToxicityModel, ModelConfig, NgramFeatures, PlattCalibrator)
)


class ModelFileError(PoisonError, ValueError):
    """A model file that must not be loaded: wrong sha256, untrusted types, not a model."""


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def dumps(model: ToxicityModel) -> bytes:
    """The model as skops bytes (deflated)."""
    data: bytes = sio.dumps(model, compression=zipfile.ZIP_DEFLATED)
    return data


def loads(data: bytes, expected_sha256: str) -> ToxicityModel:
    """The model in ``data`` if its sha256 is ``expected_sha256`` and its types are trusted."""
    actual = sha256_of(data)
    if actual != expected_sha256.lower():
        raise ModelFileError(
            f"model file sha256 is {actual}, expected {expected_sha256}: refusing to load it"
        )
    try:
        untrusted = sorted(set(sio.get_untrusted_types(data=data)) - set(TRUSTED_TYPES))
    except Exception as exc:  # a corrupt archive fails in many ways; all mean the same
        raise ModelFileError(f"not a skops model file ({exc})") from exc
    if untrusted:
        raise ModelFileError(f"model file holds untrusted types: {', '.join(untrusted)}")
    model = sio.loads(data, trusted=list(TRUSTED_TYPES))
    if not isinstance(model, ToxicityModel):
        raise ModelFileError(f"model file holds a {type(model).__name__}, not a ToxicityModel")
    return model


def save(model: ToxicityModel, path: Path | str) -> str:
    """Write the model to ``path`` atomically; returns the file's sha256."""
    path = Path(path)
    data = dumps(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return sha256_of(data)


def load(path: Path | str, expected_sha256: str) -> ToxicityModel:
    """The model at ``path``; see :func:`loads` for what is refused."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot be read ({exc})") from exc
    return loads(data, expected_sha256)


def library_versions() -> dict[str, str]:
    """The versions a model file depends on, for its manifest."""
    versions = {name: version(name) for name in ("scikit-learn", "numpy", "scipy", "skops")}
    versions["python"] = platform.python_version()
    return versions
