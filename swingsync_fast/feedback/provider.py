"""The one small interface every feedback provider speaks, and how a provider fails.

A provider turns a ``FeedbackRequest`` into coaching text, either as pieces
(``stream``) or whole (``complete``). Failures are ``ProviderError``s that say
whether trying again may help; the lane decides on retries, timeouts and
fallback, never the provider.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from typing import Protocol

from .request import FeedbackRequest


class Source(str, enum.Enum):
    """Where a piece of feedback text came from (the ``source`` field on the wire)."""

    GEMINI = "gemini"
    OFFLINE = "offline"


class ProviderError(Exception):
    """The provider could not produce text. ``kind`` names the failure for figures and logs."""

    def __init__(self, kind: str, message: str, *, transient: bool) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.transient = transient  # another attempt may succeed (5xx, 429, a dropped connection)


class FeedbackProvider(Protocol):
    source: Source

    async def start(self) -> None:
        """Get ready to answer (connections, processes); raises ProviderError if it cannot."""
        ...

    def stream(self, request: FeedbackRequest) -> AsyncIterator[str]:
        """Pieces of text in order; raises ProviderError."""
        ...

    async def complete(self, request: FeedbackRequest) -> str:
        """The whole text in one answer; raises ProviderError."""
        ...

    async def aclose(self) -> None: ...
