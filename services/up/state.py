"""``toxic up``'s state folder: one owner at a time, the keys it created, where each part lives.

Layout::

    up.lock              held while a `toxic up` runs on this folder
    stand-in/            the stand-in's snapshot (see shared.emulator_state)
    mlflow/mlflow.db     MLflow's SQLite database
    api/outbox.sqlite3   the API's outbox of events waiting for the bus
    keys-<prefix>.json   the admin and moderator keys created at first start (mode 0600)
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from shared.errors import ConfigurationError

__all__ = ["StateFolder"]


class StateFolder:
    """The folder, locked for the life of this object (``with StateFolder(path) as state``)."""

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().resolve()
        self._lock: IO[str] | None = None

    @property
    def stand_in(self) -> Path:
        return self.root / "stand-in"

    @property
    def mlflow_db(self) -> Path:
        return self.root / "mlflow" / "mlflow.db"

    @property
    def outbox(self) -> Path:
        return self.root / "api" / "outbox.sqlite3"

    def keys_file(self, prefix: str) -> Path:
        return self.root / f"keys-{prefix}.json"

    def read_keys(self, prefix: str) -> dict[str, str]:
        """Role -> secret of the keys created earlier for this prefix (empty when none)."""
        path = self.keys_file(prefix)
        if not path.exists():
            return {}
        try:
            keys = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            message = f"cannot read {path} ({exc}); delete it for new keys"
            raise ConfigurationError(message) from None
        return {str(role): str(secret) for role, secret in keys.items()}

    def write_keys(self, prefix: str, keys: dict[str, str]) -> None:
        path = self.keys_file(prefix)
        temporary = path.with_name(f".{path.name}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            json.dump(keys, out, indent=2)
        os.replace(temporary, path)

    def __enter__(self) -> Self:
        for folder in (self.root, self.stand_in, self.mlflow_db.parent, self.outbox.parent):
            folder.mkdir(parents=True, exist_ok=True)
        lock = (self.root / "up.lock").open("a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            owner = lock.read().strip() or "unknown"
            lock.close()
            raise ConfigurationError(
                f"another `toxic up` (pid {owner}) is using {self.root}; stop it or choose "
                "another --state-dir"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        self._lock = lock
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None
