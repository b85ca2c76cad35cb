"""Closed output pipes for LION's command-line tools (`lion-verify ... | head -1`)."""

from __future__ import annotations

import io
import os
from typing import TextIO

__all__ = ["PipeClosed", "PipeGuard"]


class PipeClosed(Exception):
    """The reader of stdout or stderr went away."""


class PipeGuard(io.TextIOBase):
    """A text stream that goes quiet when its reader goes away.

    After the first broken pipe the descriptor points at /dev/null, so that
    Python's flush at exit cannot fail again. With ``stop=True`` that first
    broken pipe also raises ``PipeClosed`` (a long check stops early);
    otherwise the command runs to its end and keeps its own exit code (a
    `format --write` still writes every file).
    """

    def __init__(self, stream: TextIO, *, stop: bool = False) -> None:
        self._stream = stream
        self._stop = stop
        self.closed_pipe = False

    def write(self, text: str) -> int:
        if self.closed_pipe:
            return len(text)
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._closed()
        return len(text)

    def flush(self) -> None:
        if self.closed_pipe:
            return
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._closed()

    def _closed(self) -> None:
        self.closed_pipe = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, io.UnsupportedOperation):
            pass
        if self._stop:
            raise PipeClosed
