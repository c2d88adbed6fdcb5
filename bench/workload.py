"""What the API benchmark sends and serves: real Jigsaw comments and a realistically sized model.

The model is the training service's first candidate (``services.training.selection``, the
configuration a training run is expected to choose), fitted with ``fit_model`` on a fixed sample
of the shared Jigsaw rows. Fitting takes a couple of minutes on two cores, so the model file is
cached, keyed by the configuration, the sample and the data files; reruns load it in a second.

Request texts are held-out rows (DESIGN §7) of every file: comments the model never trained on.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from services.training.data import LabelledTexts, read_files
from services.training.model import fit_model
from services.training.selection import candidates
from services.training.splits import split
from shared.model.artifact import dumps, loads
from shared.model.toxicity import ModelConfig, ToxicityModel

__all__ = ["DEFAULT_DATA", "FittedModel", "comments", "read_data", "realistic_model", "variant"]

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "jigsaw"
SEED = 20_251_130


@dataclass(frozen=True)
class FittedModel:
    model: ToxicityModel
    description: str
    fit_seconds: float | None  # None: loaded from the cache


def default_cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "toxic" / "bench"


def data_files(folder: Path) -> list[Path]:
    files = sorted(folder.glob("*.csv"))
    if not files:
        raise FileNotFoundError(f"no Jigsaw CSV files in {folder} (see its README)")
    return files


def read_data(folder: Path) -> LabelledTexts:
    """Every row of every file, duplicates across files merged."""
    return read_files(data_files(folder))


def _cache_key(config: ModelConfig, rows: int, files: list[Path]) -> str:
    identity = {
        "config": config.params(),
        "rows": rows,
        "seed": SEED,
        "files": [(f.name, f.stat().st_size, int(f.stat().st_mtime)) for f in files],
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def realistic_model(
    data: LabelledTexts, folder: Path, rows: int, cache_dir: Path | None = None
) -> FittedModel:
    """The default candidate fitted on ``rows`` sampled rows, from the cache when it is there."""
    config = candidates()[0]
    cache_dir = cache_dir or default_cache_dir()
    path = cache_dir / f"model-{config.name}-{_cache_key(config, rows, data_files(folder))}.skops"
    described = f"{config.name} fitted on a sample of {rows:,} Jigsaw rows"
    if path.exists():
        blob = path.read_bytes()
        model = loads(blob, hashlib.sha256(blob).hexdigest())
        return FittedModel(model, f"{described} (cached: {path})", None)
    picked = np.sort(np.random.default_rng(SEED).permutation(len(data))[: min(rows, len(data))])
    parts = split(data.subset(picked))
    started = time.perf_counter()
    model = fit_model(config, parts.train, parts.validation)
    seconds = time.perf_counter() - started
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_bytes(dumps(model))
    partial.replace(path)
    return FittedModel(model, f"{described} (fitted now, cached at {path})", seconds)


def variant(model: ToxicityModel) -> ToxicityModel:
    """The same model with its thresholds nudged: another file (another sha256) of the same size.

    A swap's cost is downloading, verifying and loading a file of this size; which weights it
    holds does not change that, and refitting would double the benchmark's first run.
    """
    nudged = np.clip(model.thresholds + 1e-6, 0.0, 1.0)
    return ToxicityModel(
        config=model.config,
        features=model.features,
        weights=model.weights,
        bias=model.bias,
        calibrator=model.calibrator,
        thresholds=nudged,
        labels=model.labels,
        fitted_on_validation=model.fitted_on_validation,
    )


def comments(data: LabelledTexts, max_chars: int) -> list[str]:
    """Held-out comments (never trained on) in a fixed shuffled order, within ``max_chars``."""
    held_out = split(data).holdout.texts
    order = np.random.default_rng(SEED).permutation(len(held_out))
    texts = [held_out[i] for i in order]
    return [t for t in texts if t.strip() and len(t) <= max_chars]
