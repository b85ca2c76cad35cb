"""The OpenAI API, and any server that speaks it without quirks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from lion.wire.dialects._base import Dialect, env_key, require_key

HOSTED_URL = "https://api.openai.com/v1"


class OpenAI(Dialect):
    """OpenAI's API (the default base URL, key from ``OPENAI_API_KEY``) or any compatible server.

    With another ``base_url`` no key is required; ``OPENAI_API_KEY`` is only
    read for the hosted API.
    """

    name: ClassVar[str] = "openai"

    def __init__(
        self,
        base_url: str = HOSTED_URL,
        api_key: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        stream_usage: bool = True,
    ) -> None:
        hosted = base_url.rstrip("/") == HOSTED_URL
        if hosted:
            api_key = require_key(self.name, env_key("OPENAI_API_KEY", api_key), "OPENAI_API_KEY")
        super().__init__(base_url, api_key, headers=headers, stream_usage=stream_usage)
