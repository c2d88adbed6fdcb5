"""Where training data comes from (DESIGN §7), in order: given paths, Kaggle, the starter set.

Given paths are used as they are: a bad file raises :class:`TrainingDataError` and never falls back
to anything else, since training on other data than asked for would publish the wrong model. Only
when no path is given does the loader try Kaggle (through kagglehub) and, failing that, the small
starter set shipped in ``starter/``, with a loud warning.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from services.training.data import LabelledTexts, digest, read_files
from shared.logs import get_logger

__all__ = [
    "KAGGLE_DATASET",
    "KAGGLE_FILE",
    "STARTER_PATH",
    "KaggleUnavailableError",
    "Origin",
    "TrainingData",
    "download_from_kaggle",
    "load_training_data",
]

KAGGLE_DATASET = "julian3833/jigsaw-toxic-comment-classification-challenge"
KAGGLE_FILE = "train.csv"
KAGGLE_HOST = "api.kaggle.com"
STARTER_PATH = Path(__file__).parent / "starter" / "starter.csv"

_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")

log = get_logger(__name__)


class KaggleUnavailableError(RuntimeError):
    """Kaggle cannot be reached or did not give the file."""


class Origin(StrEnum):
    FILES = "files"
    KAGGLE = "kaggle"
    STARTER = "starter"


@dataclass(frozen=True)
class TrainingData:
    """Deduplicated rows, where they came from and their digest."""

    rows: LabelledTexts
    origin: Origin
    files: tuple[Path, ...]
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "digest", digest(self.rows))


def _reachable(host: str, port: int, timeout: float) -> str | None:
    """None when a TCP connection opens, else why not (so that offline fails in seconds)."""
    if any(os.environ.get(name) for name in _PROXY_VARIABLES):
        return None  # only the proxy knows; let kagglehub try through it
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return f"{host}:{port} is not reachable ({exc})"


def download_from_kaggle(*, timeout: float = 5.0) -> Path:
    """The Jigsaw ``train.csv`` through kagglehub (cached by it), or KaggleUnavailableError."""
    problem = _reachable(KAGGLE_HOST, 443, timeout)
    if problem is not None:
        raise KaggleUnavailableError(problem)
    import kagglehub  # imported here: it reads its configuration at import

    try:
        return Path(kagglehub.dataset_download(KAGGLE_DATASET, path=KAGGLE_FILE))
    except Exception as exc:  # any failure of an optional source means: use the next one
        raise KaggleUnavailableError(
            f"kagglehub could not download {KAGGLE_DATASET}: {exc}"
        ) from exc


def load_training_data(
    paths: Sequence[Path | str] = (),
    *,
    kaggle: Callable[[], Path] | None = download_from_kaggle,
    starter: Path = STARTER_PATH,
) -> TrainingData:
    """Read the given files; with none, Kaggle's ``train.csv``; failing that, the starter set.

    ``kaggle=None`` skips Kaggle. Raises TrainingDataError for a bad file from any source.
    """
    if paths:
        files = tuple(Path(path) for path in paths)
        data = TrainingData(read_files(files), Origin.FILES, files)
        log.info("training_data_read", origin=data.origin, files=[str(f) for f in files])
        return data
    if kaggle is not None:
        try:
            downloaded = kaggle()
        except KaggleUnavailableError as exc:
            log.warning("kaggle_unavailable", reason=str(exc), falling_back_to="starter")
        else:
            return TrainingData(read_files([downloaded]), Origin.KAGGLE, (downloaded,))
    data = TrainingData(read_files([starter]), Origin.STARTER, (starter,))
    log.warning(
        "starter_data_used",
        path=str(starter),
        rows=len(data.rows),
        message=(
            "TRAINING ON THE STARTER SET: a few hundred invented comments for smoke runs only. "
            "The model will be a toy; give Jigsaw-format files for a real one."
        ),
    )
    return data
