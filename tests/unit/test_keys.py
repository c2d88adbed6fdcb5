"""API keys: roles, hashed storage, the cached authenticator and finding a key for a person."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.api.keys import (
    ApiKey,
    AuthenticationError,
    DuplicateKeyError,
    InsufficientRoleError,
    InvalidKeyError,
    KeyRing,
    MissingKeyError,
    Role,
    create_key,
    hash_secret,
)
from services.api.keystore import InMemoryKeyStore
from services.cli_keys import KeyReferenceError, find_key
from shared.errors import NotFoundError, PlatformError, RetryableError

pytestmark = pytest.mark.unit

CREATED = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingStore(InMemoryKeyStore):
    """The in-memory store, counting lookups; can hold them at a gate or fail them."""

    def __init__(self) -> None:
        super().__init__(now=lambda: CREATED + timedelta(hours=1))
        self.gets = 0
        self.gate: asyncio.Event | None = None
        self.failure: Exception | None = None

    async def get(self, key_hash: str) -> ApiKey | None:
        self.gets += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.failure is not None:
            raise self.failure
        return await super().get(key_hash)


@pytest.fixture
def store() -> CountingStore:
    return CountingStore()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ring(store: CountingStore, clock: FakeClock) -> KeyRing:
    return KeyRing(store, ttl_seconds=30, clock=clock)


# --- roles and stored keys --------------------------------------------------------------------


def test_each_role_allows_itself_and_every_role_below_it() -> None:
    allowed = {(held, needed) for held in Role for needed in Role if held.allows(needed)}

    assert allowed == {
        (Role.CLIENT, Role.CLIENT),
        (Role.MODERATOR, Role.CLIENT),
        (Role.MODERATOR, Role.MODERATOR),
        (Role.ADMIN, Role.CLIENT),
        (Role.ADMIN, Role.MODERATOR),
        (Role.ADMIN, Role.ADMIN),
    }


async def test_the_store_holds_only_the_sha256_of_a_created_secret(store: CountingStore) -> None:
    secret = await create_key(store, Role.MODERATOR, "ops team", now=lambda: CREATED)

    assert secret.startswith("tox_")
    assert len(secret) >= 40
    [stored] = store.items.values()
    assert stored.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert (stored.role, stored.name, stored.created_at) == (Role.MODERATOR, "ops team", CREATED)
    assert secret not in stored.model_dump_json()
    assert secret not in repr(stored.to_item())


async def test_two_created_keys_have_different_secrets(store: CountingStore) -> None:
    first = await create_key(store, Role.CLIENT)
    second = await create_key(store, Role.CLIENT)

    assert first != second
    assert len(store.items) == 2


def test_a_key_round_trips_through_its_dynamodb_item_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    key = ApiKey(
        key_hash=hash_secret("tox_x"),
        role=Role.ADMIN,
        created_at=CREATED.astimezone(plus_two),
        revoked_at=CREATED + timedelta(days=1),
    )

    item = key.to_item()

    assert item["created_at"] == {"S": "2026-03-14T12:00:00.000000Z"}
    assert item["role"] == {"S": "admin"}
    assert ApiKey.from_item(item) == key
    assert ApiKey.from_item(item).revoked


def test_a_key_without_revocation_leaves_the_attribute_out() -> None:
    key = ApiKey(key_hash=hash_secret("tox_x"), role=Role.CLIENT, created_at=CREATED)

    assert "revoked_at" not in key.to_item()
    assert not key.revoked


async def test_the_in_memory_store_refuses_a_second_key_with_the_same_hash(
    store: CountingStore,
) -> None:
    key = ApiKey(key_hash=hash_secret("tox_x"), role=Role.CLIENT, created_at=CREATED)
    await store.put(key)

    with pytest.raises(DuplicateKeyError):
        await store.put(key.model_copy(update={"role": Role.ADMIN}))
    assert (await store.list()) == [key]


async def test_revoking_twice_keeps_the_first_revocation_time() -> None:
    moments = iter([CREATED + timedelta(minutes=1), CREATED + timedelta(minutes=2)])
    store = InMemoryKeyStore(now=lambda: next(moments))
    secret = await create_key(store, Role.CLIENT, now=lambda: CREATED)

    first = await store.revoke(hash_secret(secret))
    second = await store.revoke(hash_secret(secret))

    assert first.revoked_at == second.revoked_at == CREATED + timedelta(minutes=1)
    with pytest.raises(NotFoundError):
        await store.revoke(hash_secret("tox_never-made"))


# --- authenticating requests ------------------------------------------------------------------


async def test_a_created_secret_authenticates_with_its_role(
    store: CountingStore, ring: KeyRing
) -> None:
    secret = await create_key(store, Role.MODERATOR, "ops")

    key = await ring.authenticate(secret)

    assert key is not None
    assert (key.role, key.name) == (Role.MODERATOR, "ops")


async def test_an_unknown_key_is_refused(ring: KeyRing) -> None:
    with pytest.raises(InvalidKeyError, match="unknown or revoked"):
        await ring.authenticate("tox_" + "a" * 43)


@pytest.mark.parametrize("secret", ["AIzaSyGoogleStyleKey", "tox_" + "a" * 300])
async def test_a_string_that_is_not_one_of_our_keys_is_refused_without_a_lookup(
    store: CountingStore, ring: KeyRing, secret: str
) -> None:
    with pytest.raises(InvalidKeyError):
        await ring.authenticate(secret)
    assert store.gets == 0


@pytest.mark.parametrize("secret", [None, ""])
async def test_no_key_is_anonymous_to_authenticate_and_missing_to_require(
    ring: KeyRing, secret: str | None
) -> None:
    assert await ring.authenticate(secret) is None
    with pytest.raises(MissingKeyError):
        await ring.require(secret, Role.CLIENT)


async def test_require_refuses_a_role_below_the_one_needed_and_accepts_any_above(
    store: CountingStore, ring: KeyRing
) -> None:
    client = await create_key(store, Role.CLIENT)
    admin = await create_key(store, Role.ADMIN)

    with pytest.raises(InsufficientRoleError) as refused:
        await ring.require(client, Role.MODERATOR)
    assert (refused.value.role, refused.value.required) == (Role.CLIENT, Role.MODERATOR)
    assert (await ring.require(admin, Role.MODERATOR)).role is Role.ADMIN


def test_missing_and_invalid_keys_are_authentication_failures_and_a_low_role_is_not() -> None:
    # The API maps AuthenticationError to 401 and InsufficientRoleError to 403.
    assert issubclass(MissingKeyError, AuthenticationError)
    assert issubclass(InvalidKeyError, AuthenticationError)
    assert not issubclass(InsufficientRoleError, AuthenticationError)
    assert issubclass(InsufficientRoleError, PlatformError)


async def test_a_revoked_key_works_from_the_cache_until_the_ttl_and_is_refused_after(
    store: CountingStore, ring: KeyRing, clock: FakeClock
) -> None:
    secret = await create_key(store, Role.CLIENT)
    assert await ring.authenticate(secret) is not None

    await store.revoke(hash_secret(secret))
    clock.now += 29.9
    assert await ring.authenticate(secret) is not None
    clock.now += 0.2

    with pytest.raises(InvalidKeyError):
        await ring.authenticate(secret)


async def test_repeated_requests_with_one_key_reach_the_store_once_per_ttl(
    store: CountingStore, ring: KeyRing, clock: FakeClock
) -> None:
    secret = await create_key(store, Role.CLIENT)

    for _ in range(500):
        await ring.authenticate(secret)
    clock.now += 31
    await ring.authenticate(secret)

    assert store.gets == 2


async def test_an_unknown_key_is_remembered_too(store: CountingStore, ring: KeyRing) -> None:
    unknown = "tox_" + "b" * 43
    for _ in range(10):
        with pytest.raises(InvalidKeyError):
            await ring.authenticate(unknown)

    assert store.gets == 1


async def test_the_cache_keeps_at_most_max_entries_dropping_the_least_recently_used(
    store: CountingStore, clock: FakeClock
) -> None:
    ring = KeyRing(store, ttl_seconds=30, max_entries=2, clock=clock)
    first, second, third = [await create_key(store, Role.CLIENT) for _ in range(3)]

    await ring.authenticate(first)
    await ring.authenticate(second)
    await ring.authenticate(first)  # now `second` is the least recently used
    await ring.authenticate(third)
    assert len(ring) == 2
    assert store.gets == 3

    await ring.authenticate(first)
    assert store.gets == 3
    await ring.authenticate(second)
    assert store.gets == 4
    assert len(ring) == 2


async def test_a_zero_ttl_looks_every_key_up(store: CountingStore, clock: FakeClock) -> None:
    ring = KeyRing(store, ttl_seconds=0, clock=clock)
    secret = await create_key(store, Role.CLIENT)

    await ring.authenticate(secret)
    await store.revoke(hash_secret(secret))

    with pytest.raises(InvalidKeyError):
        await ring.authenticate(secret)
    assert len(ring) == 0


async def test_invalidate_makes_the_next_lookup_see_the_store(
    store: CountingStore, ring: KeyRing
) -> None:
    secret = await create_key(store, Role.CLIENT)
    await ring.authenticate(secret)
    await store.revoke(hash_secret(secret))

    ring.invalidate(hash_secret(secret))

    with pytest.raises(InvalidKeyError):
        await ring.authenticate(secret)


async def test_concurrent_requests_with_an_uncached_key_share_one_lookup(
    store: CountingStore, ring: KeyRing
) -> None:
    secret = await create_key(store, Role.CLIENT)
    store.gate = asyncio.Event()

    waiting = [asyncio.create_task(ring.authenticate(secret)) for _ in range(50)]
    await asyncio.sleep(0)
    store.gate.set()
    keys = await asyncio.gather(*waiting)

    assert store.gets == 1
    assert {key.key_hash if key else None for key in keys} == {hash_secret(secret)}


async def test_one_caller_giving_up_does_not_cancel_the_lookup_of_the_others(
    store: CountingStore, ring: KeyRing
) -> None:
    secret = await create_key(store, Role.CLIENT)
    store.gate = asyncio.Event()
    impatient = asyncio.create_task(ring.authenticate(secret))
    patient = asyncio.create_task(ring.authenticate(secret))
    await asyncio.sleep(0)

    impatient.cancel()
    await asyncio.sleep(0)
    store.gate.set()

    assert (await patient) is not None
    assert impatient.cancelled()


async def test_a_store_failure_refuses_the_request_and_is_not_cached(
    store: CountingStore, ring: KeyRing
) -> None:
    secret = await create_key(store, Role.CLIENT)
    store.failure = RetryableError("DynamoDB is unreachable")

    with pytest.raises(RetryableError):
        await ring.authenticate(secret)
    store.failure = None

    assert await ring.authenticate(secret) is not None
    assert store.gets == 2


def test_a_ring_refuses_a_negative_ttl_or_an_empty_cache(store: CountingStore) -> None:
    with pytest.raises(ValueError, match="ttl_seconds"):
        KeyRing(store, ttl_seconds=-1)
    with pytest.raises(ValueError, match="max_entries"):
        KeyRing(store, max_entries=0)


# --- finding the key a person means (toxic keys revoke) ---------------------------------------


async def test_a_key_is_found_by_its_secret_or_a_unique_hash_prefix(store: CountingStore) -> None:
    secret = await create_key(store, Role.CLIENT)
    await create_key(store, Role.ADMIN)
    key_hash = hash_secret(secret)

    assert (await find_key(store, secret)).key_hash == key_hash
    assert (await find_key(store, key_hash[:12].upper())).key_hash == key_hash
    assert (await find_key(store, key_hash)).key_hash == key_hash


async def test_finding_a_key_refuses_short_ambiguous_or_unmatched_references(
    store: CountingStore,
) -> None:
    for index in range(2):
        await store.put(
            ApiKey(key_hash=f"abcdef01{index}" + "0" * 55, role=Role.CLIENT, created_at=CREATED)
        )

    with pytest.raises(KeyReferenceError, match="at least 8 hex digits"):
        await find_key(store, "abcdef0")
    with pytest.raises(KeyReferenceError, match="hex digits"):
        await find_key(store, "not-hex-at-all")
    with pytest.raises(KeyReferenceError, match="2 keys"):
        await find_key(store, "abcdef01")
    with pytest.raises(NotFoundError):
        await find_key(store, "12345678")
    with pytest.raises(NotFoundError, match="no key has this secret"):
        await find_key(store, "tox_unknown")
