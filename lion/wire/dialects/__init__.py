"""Dialects: one canonical request, adapted to each kind of server.

* :class:`OpenAI` — the OpenAI API, or any server that speaks it plainly;
* :class:`NvidiaNIM` — NVIDIA NIM, hosted or self-hosted (``nvext`` placement,
  guided decoding, per-model parameter ranges);
* :class:`LlamaCpp` — llama.cpp's server and llama-cpp-python's, with their quirks.
"""

from __future__ import annotations

__all__ = ["DEFAULT_RANGES", "Dialect", "LlamaCpp", "NvidiaNIM", "OpenAI", "ParamRange"]

from lion.wire.dialects._base import Dialect
from lion.wire.dialects.llamacpp import LlamaCpp
from lion.wire.dialects.nvidia import DEFAULT_RANGES, NvidiaNIM, ParamRange
from lion.wire.dialects.openai import OpenAI
