"""API keys: roles, secrets kept only as their sha256, and the cached lookup every request makes.

A key is a random secret (``tox_`` and 43 URL-safe characters) shown once when it is made; the
``api-keys`` table holds only its sha256 (hex, the hash key), its role, a label and its dates.
Lookups go by that hash, so no stored secret is ever compared with a given one and a
constant-time comparison is not needed: a wrong secret simply hashes to a missing item.
The store adapters (DynamoDB, in memory) are in ``services.api.keystore``.

Errors, mapped to HTTP by the API::

    PlatformError
    ├── AuthError                    base of the three below
    │   ├── AuthenticationError      401
    │   │   ├── MissingKeyError      no key was sent where one is required
    │   │   └── InvalidKeyError      the key is unknown, revoked, or not a key at all
    │   └── InsufficientRoleError    403: the key is good, its role too low
    └── DuplicateKeyError            ``put`` of a hash already stored (never happens by chance)

A store raises ``ConfigurationError`` when its table does not exist and ``RetryableError`` when
it is unreachable or throttling; :class:`KeyRing` passes both on (it fails closed).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Final, Protocol

from pydantic import AwareDatetime, Field, PlainSerializer, field_validator

from shared.dynamo import iso_utc
from shared.errors import PlatformError
from shared.items import StoredItem

__all__ = [
    "SECRET_PREFIX",
    "ApiKey",
    "AuthError",
    "AuthenticationError",
    "DuplicateKeyError",
    "InsufficientRoleError",
    "InvalidKeyError",
    "KeyRing",
    "KeyStore",
    "MissingKeyError",
    "Role",
    "WallClock",
    "create_key",
    "hash_secret",
    "new_secret",
]

SECRET_PREFIX: Final = "tox_"  # noqa: S105 - a marker, not a secret
# Anything longer is not one of our secrets; refusing it early spares hashing a huge header.
_MAX_SECRET_CHARS: Final = 256

Clock = Callable[[], float]
WallClock = Callable[[], datetime]
UtcTime = Annotated[AwareDatetime, PlainSerializer(iso_utc, return_type=str)]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Role(StrEnum):
    """What a key may do; each role may do everything the roles below it may."""

    CLIENT = "client"
    MODERATOR = "moderator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, required: Role) -> bool:
        """True when a key of this role may do what needs ``required``."""
        return self.rank >= required.rank


_RANKS: Final = {Role.CLIENT: 0, Role.MODERATOR: 1, Role.ADMIN: 2}


class AuthError(PlatformError):
    """A request's key does not let it do what it asked."""


class AuthenticationError(AuthError):
    """No usable key: HTTP 401."""


class MissingKeyError(AuthenticationError):
    """No key was sent where one is required."""


class InvalidKeyError(AuthenticationError):
    """The key sent is unknown, revoked, or not shaped like a key."""


class InsufficientRoleError(AuthError):
    """The key is valid but its role is below the one required: HTTP 403."""

    def __init__(self, role: Role, required: Role) -> None:
        super().__init__(f"this needs the {required} role; the key given has the {role} role")
        self.role = role
        self.required = required


class DuplicateKeyError(PlatformError):
    """A key with this hash is already stored."""


def new_secret() -> str:
    """A fresh random secret: 256 bits from the OS, URL-safe, prefixed so it is recognisable."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """The sha256 (hex) under which a secret is stored and looked up."""
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKey(StoredItem):
    """One key in the ``api-keys`` table; the secret itself is never stored."""

    TABLE: ClassVar[str] = "api-keys"
    HASH_KEY: ClassVar[str] = "key_hash"

    key_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    role: Role
    name: str = Field(default="", max_length=200, description="A label for people.")
    created_at: UtcTime
    revoked_at: UtcTime | None = None

    @field_validator("created_at", "revoked_at")
    @classmethod
    def _to_utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else value.astimezone(UTC)

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class KeyStore(Protocol):
    """Where keys live, by hash."""

    async def get(self, key_hash: str) -> ApiKey | None:
        """The key with this hash, revoked or not; None when there is none."""
        ...

    async def put(self, key: ApiKey) -> None:
        """Store a new key; raises DuplicateKeyError if its hash is already stored."""
        ...

    async def revoke(self, key_hash: str) -> ApiKey:
        """Mark a key revoked (keeping the first revocation time); raises NotFoundError."""
        ...

    async def list(self) -> list[ApiKey]:
        """Every key, oldest first."""
        ...


async def create_key(
    store: KeyStore, role: Role, name: str = "", *, now: WallClock = _utc_now
) -> str:
    """Make and store a new key; returns its secret, which exists nowhere else afterwards."""
    secret = new_secret()
    await store.put(ApiKey(key_hash=hash_secret(secret), role=role, name=name, created_at=now()))
    return secret


class KeyRing:
    """Authenticates the key of each request, caching lookups so few reach the store.

    Found and not-found answers are both kept for ``ttl_seconds`` (0 disables the cache), at most
    ``max_entries`` of them, least recently used dropped first; so a key revoked in the store is
    refused by every replica within ``ttl_seconds``. Concurrent lookups of one hash share a single
    store call. Store errors are not cached and propagate: the ring fails closed.
    """

    def __init__(
        self,
        store: KeyStore,
        *,
        ttl_seconds: float = 30.0,
        max_entries: int = 10_000,
        clock: Clock = time.monotonic,
    ) -> None:
        if ttl_seconds < 0 or max_entries < 1:
            raise ValueError("ttl_seconds must be >= 0 and max_entries >= 1")
        self._store = store
        self._ttl = ttl_seconds
        self._max_entries = max_entries
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, ApiKey | None]] = OrderedDict()
        self._inflight: dict[str, asyncio.Task[ApiKey | None]] = {}

    def __len__(self) -> int:
        """Lookups cached now."""
        return len(self._cache)

    async def authenticate(self, secret: str | None) -> ApiKey | None:
        """The valid key for ``secret``; None when no key was sent; InvalidKeyError otherwise."""
        if not secret:
            return None
        if not secret.startswith(SECRET_PREFIX) or len(secret) > _MAX_SECRET_CHARS:
            raise InvalidKeyError("the API key is not valid")
        key = await self._lookup(hash_secret(secret))
        if key is None or key.revoked:
            raise InvalidKeyError("the API key is unknown or revoked")
        return key

    async def require(self, secret: str | None, role: Role) -> ApiKey:
        """The valid key for ``secret`` if its role allows ``role``; raises an AuthError if not."""
        key = await self.authenticate(secret)
        if key is None:
            raise MissingKeyError(f"this needs an API key with the {role} role")
        if not key.role.allows(role):
            raise InsufficientRoleError(key.role, role)
        return key

    def invalidate(self, key_hash: str) -> None:
        """Forget a cached lookup, so this replica sees a change it made itself at once."""
        self._cache.pop(key_hash, None)

    async def _lookup(self, key_hash: str) -> ApiKey | None:
        cached = self._cache.get(key_hash)
        if cached is not None:
            if cached[0] > self._clock():
                self._cache.move_to_end(key_hash)
                return cached[1]
            del self._cache[key_hash]
        task = self._inflight.get(key_hash)
        if task is None:
            task = asyncio.create_task(self._fetch(key_hash))
            self._inflight[key_hash] = task
            task.add_done_callback(lambda done: self._settled(key_hash, done))
        # Shielded: one caller giving up (a client hanging up) must not cancel the others' lookup.
        return await asyncio.shield(task)

    def _settled(self, key_hash: str, task: asyncio.Task[ApiKey | None]) -> None:
        self._inflight.pop(key_hash, None)
        if not task.cancelled():
            # Marks a failure as seen even when every caller gave up, so asyncio does not log it.
            task.exception()

    async def _fetch(self, key_hash: str) -> ApiKey | None:
        key = await self._store.get(key_hash)
        if self._ttl > 0:
            self._cache[key_hash] = (self._clock() + self._ttl, key)
            self._cache.move_to_end(key_hash)
            while len(self._cache) > self._max_entries:
                self._cache.popitem(last=False)
        return key
