"""The platform's error hierarchy, translated at the edges.

    PlatformError
    ├── RetryableError      transient: throttling, a timeout, a lease held elsewhere.
    │                       The consumer leaves the message for redelivery; the publisher retries.
    ├── PoisonError         can never succeed: the consumer dead-letters the message at once.
    ├── NotFoundError       the thing asked for does not exist (HTTP 404 at the API).
    └── ConfigurationError  settings or infrastructure that cannot work (fails the start).

``contracts.ContractError`` (a ``ValueError``, since ``contracts`` depends on nothing of ours) is
treated as poison by the consumer: a body that is not a valid event never becomes one.
"""

from __future__ import annotations

from contracts import ContractError

__all__ = [
    "ConfigurationError",
    "ContractError",
    "NotFoundError",
    "PlatformError",
    "PoisonError",
    "RetryableError",
]


class PlatformError(Exception):
    """Base of every error the platform raises on purpose."""


class RetryableError(PlatformError):
    """A transient failure: the same work may succeed if tried again later."""


class PoisonError(PlatformError):
    """Work that can never succeed, however often it is retried."""


class NotFoundError(PlatformError):
    """The requested entity does not exist."""


class ConfigurationError(PlatformError):
    """Settings or infrastructure that cannot work as given."""
