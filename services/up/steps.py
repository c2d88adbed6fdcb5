"""The one-off steps of a ``toxic up`` start, against the deployment's AWS (or the stand-in)."""

from __future__ import annotations

from services.api.keys import Role, create_key, hash_secret
from services.api.keystore import DynamoKeyStore
from shared.artifacts import ArtifactStore, ChampionPointer
from shared.aws import open_clients
from shared.errors import NotFoundError
from shared.infra import InfraSpec, ensure, gc, summarize
from shared.settings import AwsSettings

__all__ = ["KEY_ROLES", "apply", "champion", "collect", "keys"]

# The dashboard's retrain button needs an admin key, the frontend's review page a moderator's.
KEY_ROLES: tuple[Role, ...] = (Role.ADMIN, Role.MODERATOR)


async def apply(aws: AwsSettings) -> str:
    """Apply the infrastructure spec; returns the summary of what changed."""
    async with open_clients(aws) as clients:
        return summarize(await ensure(clients, InfraSpec.for_prefix(aws.prefix)))


async def collect(aws: AwsSettings) -> list[str]:
    """Remove the queues of API replicas that died without cleaning up (``toxic infra gc``)."""
    async with open_clients(aws) as clients:
        return await gc(clients, InfraSpec.for_prefix(aws.prefix))


async def champion(aws: AwsSettings) -> ChampionPointer | None:
    """The champion pointer, or None when no model was ever published."""
    spec = InfraSpec.for_prefix(aws.prefix)
    async with open_clients(aws) as clients:
        try:
            return (await ArtifactStore(clients.s3, spec.bucket.name).read_champion()).pointer
        except NotFoundError:
            return None


async def keys(aws: AwsSettings, known: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """One usable key per role: the known ones still stored and not revoked, new ones otherwise.

    Returns the keys and the roles whose key was created now.
    """
    spec = InfraSpec.for_prefix(aws.prefix)
    result: dict[str, str] = {}
    created: list[str] = []
    async with open_clients(aws) as clients:
        store = DynamoKeyStore(clients.dynamodb, spec.table("api-keys").name)
        for role in KEY_ROLES:
            secret = known.get(role)
            stored = await store.get(hash_secret(secret)) if secret else None
            if secret is None or stored is None or stored.revoked:
                secret = await create_key(store, role, name=f"toxic up {role}")
                created.append(role)
            result[role] = secret
    return result, created
