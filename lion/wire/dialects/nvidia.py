"""NVIDIA NIM: the hosted API catalog or a self-hosted NIM container.

NIM speaks the OpenAI API plus NVIDIA's extensions. Guided decoding
(``guided_json``, ``guided_regex``, ``guided_choice``, ``guided_grammar`` and
``guided_decoding_backend``) goes under ``nvext`` in older NIMs and at the top
level in newer ones: that is the ``nvext`` setting (``"nested"`` or
``"top"``). A ``json_schema`` response format is sent as it is, which current
NIMs enforce.

Models accept different parameter ranges (the hosted catalog refuses, for
example, ``top_p`` of 0 or a temperature above 1 for most models). The
dialect checks ``temperature``, ``top_p``, the penalties and ``max_tokens``
against a table of glob patterns before sending, and either refuses
(``range_policy="error"``, the default) or clamps (``"clamp"``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any, ClassVar, Literal

import msgspec

from lion.errors import BadRequestError
from lion.wire.dialects._base import Dialect, env_key, require_key
from lion.wire.dto import ChatRequest, Guided

HOSTED_URL = "https://integrate.api.nvidia.com/v1"


class ParamRange(msgspec.Struct, frozen=True):
    """A closed range ``[low, high]``; ``low_open`` excludes ``low`` itself."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False

    def contains(self, value: float) -> bool:
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return self.high is None or value <= self.high

    def clamp(self, value: float) -> float:
        if self.high is not None and value > self.high:
            return self.high
        if self.low is not None and value <= self.low and (self.low_open or value < self.low):
            return math.nextafter(self.low, math.inf) if self.low_open else self.low
        return value

    def __str__(self) -> str:
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        return f"{'(' if self.low_open else '['}{lo}, {hi}]"


ModelRanges = Mapping[str, ParamRange]

_COMMON: dict[str, ParamRange] = {
    "temperature": ParamRange(0.0, 1.0),
    "top_p": ParamRange(0.0, 1.0, low_open=True),
    "presence_penalty": ParamRange(-2.0, 2.0),
    "frequency_penalty": ParamRange(-2.0, 2.0),
    "max_tokens": ParamRange(1, None),
}

#: Parameter ranges by model-name glob; the first pattern that matches wins.
DEFAULT_RANGES: Mapping[str, ModelRanges] = {
    "openai/gpt-oss-*": {**_COMMON, "temperature": ParamRange(0.0, 2.0)},
    "deepseek-ai/*": {**_COMMON, "temperature": ParamRange(0.0, 2.0)},
    "*": _COMMON,
}


class NvidiaNIM(Dialect):
    """NVIDIA NIM, hosted (``NVIDIA_API_KEY``) or self-hosted at ``base_url``."""

    name: ClassVar[str] = "nvidia-nim"

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        nvext: Literal["nested", "top"] = "top",
        ranges: Mapping[str, ModelRanges] | None = None,
        range_policy: Literal["error", "clamp", "off"] = "error",
        headers: Mapping[str, str] | None = None,
        stream_usage: bool = True,
    ) -> None:
        if nvext not in ("nested", "top"):
            raise BadRequestError(f"`nvext` must be `nested` or `top`, not `{nvext}`")
        if range_policy not in ("error", "clamp", "off"):
            raise BadRequestError(
                f"`range_policy` must be `error`, `clamp` or `off`, not `{range_policy}`"
            )
        hosted = base_url is None or base_url.rstrip("/") == HOSTED_URL
        if hosted:
            api_key = require_key(self.name, env_key("NVIDIA_API_KEY", api_key), "NVIDIA_API_KEY")
        super().__init__(
            base_url or HOSTED_URL, api_key, headers=headers, stream_usage=stream_usage
        )
        self.hosted = hosted
        self.nvext = nvext
        self.ranges = DEFAULT_RANGES if ranges is None else ranges
        self.range_policy = range_policy

    def ranges_for(self, model: str) -> ModelRanges:
        for pattern, model_ranges in self.ranges.items():
            if fnmatchcase(model, pattern):
                return model_ranges
        return {}

    def adapt(self, body: dict[str, Any], request: ChatRequest) -> None:
        if self.range_policy == "off":
            return
        for param, allowed in self.ranges_for(request.model).items():
            value = body.get(param)
            if value is None or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if allowed.contains(value):
                continue
            if self.range_policy == "error":
                raise BadRequestError(
                    f"`{param}` = {value} is outside {allowed} for model `{request.model}`"
                )
            clamped = allowed.clamp(value)
            body[param] = int(clamped) if isinstance(value, int) else clamped

    def place_guided(self, body: dict[str, Any], guided: Guided) -> None:
        kind = guided.kind()
        params: dict[str, Any] = {f"guided_{kind}": getattr(guided, kind)}
        if guided.backend is not None:
            params["guided_decoding_backend"] = guided.backend
        if self.nvext == "nested":
            nvext = body.setdefault("nvext", {})
            nvext.update(params)
        else:
            body.update(params)
