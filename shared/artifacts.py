"""Model artifacts in S3: model files, manifests, training-set snapshots, the champion pointer.

Layout in the deployment's bucket::

    models/<model name>/<run id>/model.skops     the model (skops: no code runs on load)
    models/<model name>/<run id>/manifest.json   what the model is (see Manifest)
    models/champion.json                         which model serves (mirrors MLflow's alias)
    datasets/<digest>.csv.gz                     the exact training set of a run

The training service writes all of these; the API reads the pointer and the manifest, and never
needs MLflow at run time.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from botocore.exceptions import ClientError
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts import DriftBaseline, Label, LabelMetrics, RowCounts, utc_now
from shared.errors import NotFoundError

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

__all__ = [
    "CHAMPION_KEY",
    "MANIFEST_FILE",
    "MODEL_FILE",
    "ArtifactStore",
    "ChampionPointer",
    "Manifest",
    "PointerRead",
    "sha256_hex",
]

CHAMPION_KEY = "models/champion.json"
MODEL_FILE = "model.skops"
MANIFEST_FILE = "manifest.json"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Stored(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Manifest(_Stored):
    """Everything a reader needs to trust and use a model file."""

    model_name: str
    model_version: str
    created_at: AwareDatetime = Field(default_factory=utc_now)
    format: Literal["skops"] = "skops"
    model_key: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    labels: tuple[Label, ...]
    thresholds: dict[Label, float]
    metrics: dict[Label, LabelMetrics]
    training_data_digest: str
    dataset_key: str | None = None
    row_counts: RowCounts
    baseline: DriftBaseline
    library_versions: dict[str, str]
    mlflow_run_id: str | None = None
    config: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


class ChampionPointer(_Stored):
    """``models/champion.json``: the serving model, written after MLflow's alias moved."""

    model_name: str
    model_version: str
    manifest_key: str
    sha256: str
    updated_at: datetime = Field(default_factory=utc_now)


class PointerRead(_Stored):
    """A pointer and the ETag it was read with (None when unchanged since ``if_none_match``)."""

    pointer: ChampionPointer | None
    etag: str


class ArtifactStore:
    """Reads and writes the layout above in one bucket, through an injected S3 client."""

    def __init__(self, s3: S3Client, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    @property
    def bucket(self) -> str:
        return self._bucket

    def uri(self, key: str) -> str:
        return f"s3://{self._bucket}/{key}"

    @staticmethod
    def model_prefix(model_name: str, run_id: str) -> str:
        return f"models/{model_name}/{run_id}"

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        await self._s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
            ChecksumAlgorithm="SHA256",
        )

    async def get_bytes(self, key: str) -> bytes:
        try:
            response = await self._s3.get_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                raise NotFoundError(f"{self.uri(key)} does not exist") from None
            raise
        async with response["Body"] as body:
            return await body.read()

    async def put_model(self, model_name: str, run_id: str, model_bytes: bytes) -> tuple[str, str]:
        """Upload a model file; returns its key and sha256."""
        key = f"{self.model_prefix(model_name, run_id)}/{MODEL_FILE}"
        await self.put_bytes(key, model_bytes, "application/octet-stream")
        return key, sha256_hex(model_bytes)

    async def put_manifest(self, manifest: Manifest, run_id: str) -> str:
        key = f"{self.model_prefix(manifest.model_name, run_id)}/{MANIFEST_FILE}"
        await self.put_bytes(key, manifest.model_dump_json(indent=2).encode(), "application/json")
        return key

    async def get_manifest(self, key: str) -> Manifest:
        return Manifest.model_validate_json(await self.get_bytes(key))

    async def put_dataset(self, digest: str, csv_gz: bytes) -> str:
        """Snapshot a training set by its digest; the same data is stored once."""
        key = f"datasets/{digest}.csv.gz"
        try:
            await self._s3.head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in {"404", "NoSuchKey", "NotFound"}:
                raise
            await self.put_bytes(key, csv_gz, "application/gzip")
        return key

    async def write_champion(self, pointer: ChampionPointer) -> None:
        await self.put_bytes(CHAMPION_KEY, pointer.model_dump_json().encode(), "application/json")

    async def read_champion(self, if_none_match: str | None = None) -> PointerRead:
        """The pointer; ``pointer`` is None when it has not changed since ``if_none_match``.

        Raises NotFoundError when no champion was ever published.
        """
        try:
            if if_none_match is None:
                response = await self._s3.get_object(Bucket=self._bucket, Key=CHAMPION_KEY)
            else:
                response = await self._s3.get_object(
                    Bucket=self._bucket, Key=CHAMPION_KEY, IfNoneMatch=if_none_match
                )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code == "304" or status == 304:
                return PointerRead(pointer=None, etag=if_none_match or "")
            if code in {"NoSuchKey", "404"}:
                raise NotFoundError("no champion model has been published yet") from None
            raise
        async with response["Body"] as body:
            data = await body.read()
        return PointerRead(
            pointer=ChampionPointer.model_validate_json(data), etag=response.get("ETag", "")
        )
