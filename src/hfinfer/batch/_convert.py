"""Method results as plain JSON: typed results as dicts, arrays as lists, media as files or base64.

Images (PIL) are saved as PNG; audio (bytes) keeps the server's encoding, its file extension
taken from the bytes' signature. With `binary="files"` each becomes a file beside the output,
`<output>.files/<id>.<ext>`, written to a temporary name and renamed, so a file that exists is
whole; the record then holds `{"file": <path relative to the output's folder>, "media_type"}`.
With `binary="base64"` the record holds `{"base64": …, "media_type"}` instead.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
from pathlib import Path
from typing import Any, Literal

Binary = Literal["files", "base64"]
BINARY_MODES: tuple[Binary, ...] = ("files", "base64")

_SIGNATURES: tuple[tuple[bytes, int, str, str], ...] = (
    (b"RIFF", 0, ".wav", "audio/wav"),
    (b"fLaC", 0, ".flac", "audio/flac"),
    (b"OggS", 0, ".ogg", "audio/ogg"),
    (b"ID3", 0, ".mp3", "audio/mpeg"),
    (b"\xff\xfb", 0, ".mp3", "audio/mpeg"),
    (b"ftyp", 4, ".m4a", "audio/mp4"),
    (b"\x89PNG", 0, ".png", "image/png"),
    (b"\xff\xd8\xff", 0, ".jpg", "image/jpeg"),
)
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def media_type(data: bytes) -> tuple[str, str]:
    """(file extension, media type) of encoded media bytes, by their signature."""
    for magic, offset, ext, mime in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return ext, mime
    return ".bin", "application/octet-stream"


def file_stem(row_id: Any) -> str:
    """A file name for a row id: the id itself when it is a safe name, else its hash."""
    text = str(row_id)
    if _SAFE_NAME.fullmatch(text) and text not in (".", ".."):
        return text
    return "id-" + hashlib.sha256(text.encode()).hexdigest()[:32]


class MediaSink:
    """Where a row's images and audio go: files beside the output, or inline base64."""

    def __init__(self, output: Path, mode: Binary) -> None:
        if mode not in BINARY_MODES:
            raise ValueError(f"`binary` must be one of {', '.join(BINARY_MODES)}, not {mode!r}")
        self.mode = mode
        self.root = output.parent
        self.folder = output.with_name(output.name + ".files")

    def store(self, row_id: Any, data: bytes, index: int | None = None) -> dict[str, Any]:
        ext, mime = media_type(data)
        if self.mode == "base64":
            return {"base64": base64.b64encode(data).decode("ascii"), "media_type": mime}
        self.folder.mkdir(parents=True, exist_ok=True)
        stem = file_stem(row_id) + ("" if index is None else f".{index}")
        path = self.folder / f"{stem}{ext}"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return {"file": str(path.relative_to(self.root)), "media_type": mime}


def to_plain(value: Any, row_id: Any = None, media: MediaSink | None = None) -> Any:
    """A JSON-ready form of a method's result (see the module docstring)."""
    counter = [0]

    def convert(item: Any) -> Any:
        if item is None or isinstance(item, (str, int, float, bool)):
            return item
        if isinstance(item, (bytes, bytearray, memoryview)):
            return _media(bytes(item))
        if _is_pil(item):
            buffer = io.BytesIO()
            item.save(buffer, format="PNG")
            return _media(buffer.getvalue())
        if hasattr(item, "to_dict"):
            return convert(item.to_dict())
        if hasattr(item, "tolist") and type(item).__module__.startswith("numpy"):
            return item.tolist()
        if isinstance(item, dict):
            return {str(k): convert(v) for k, v in item.items()}
        if isinstance(item, (list, tuple)):
            return [convert(v) for v in item]
        raise TypeError(f"cannot write a {type(item).__name__} as JSON")

    def _media(data: bytes) -> Any:
        if media is None:
            mime = media_type(data)[1]
            return {"base64": base64.b64encode(data).decode("ascii"), "media_type": mime}
        counter[0] += 1
        return media.store(row_id, data, None if counter[0] == 1 else counter[0])

    return convert(value)


def _is_pil(item: Any) -> bool:
    return type(item).__module__.startswith("PIL.") and hasattr(item, "save")
