"""One incremental server-sent-events decoder for TGI and OpenAI-style streams.

Bytes go in as they arrive, split anywhere (mid-line, mid-UTF-8 character, between `\\r` and
`\\n`); complete events come out. Only `data` matters to inference streams: comments, `event:`,
`id:` and `retry:` lines are accepted and ignored, multi-line data is joined with newlines.
"""

from __future__ import annotations

import re

DONE = "[DONE]"
_LINE_END = re.compile(rb"\r\n|\r|\n")


class SSEDecoder:
    """Feed bytes, get the `data` of each complete event."""

    __slots__ = ("_data", "_partial", "_pending_cr")

    def __init__(self) -> None:
        self._partial: list[bytes] = []  # the start of a line whose end has not arrived
        self._data: list[str] = []
        self._pending_cr = False

    def feed(self, chunk: bytes) -> list[str]:
        """Only the new bytes are scanned, so a long line arriving in pieces costs linear time."""
        if not chunk:
            return []
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the \n of a \r\n split across chunks
        self._pending_cr = False
        events: list[str] = []
        start = 0
        for match in _LINE_END.finditer(chunk):
            line = chunk[start : match.start()]
            if self._partial:
                self._partial.append(line)
                line = b"".join(self._partial)
                self._partial = []
            if match.end() == len(chunk) and match.group() == b"\r":
                self._pending_cr = True  # may be the first half of \r\n
            self._line(line, events)
            start = match.end()
        if start < len(chunk):
            self._partial.append(chunk[start:])
        return events

    def flush(self) -> list[str]:
        """End of the body: the last event, even without its blank line."""
        events: list[str] = []
        if self._partial:
            self._line(b"".join(self._partial), events)
            self._partial = []
        self._line(b"", events)
        return events

    def _line(self, raw: bytes, events: list[str]) -> None:
        if not raw:
            if self._data:
                events.append("\n".join(self._data))
                self._data = []
            return
        if not raw.startswith(b"data:"):
            return  # comment, event, id, retry, or an unknown field
        value = raw[5:]
        if value.startswith(b" "):
            value = value[1:]
        self._data.append(value.decode("utf-8", "replace"))
