"""Annotation-only stand-ins for optional media types, so `import hfinfer` never imports PIL.

Generated fields typed `Image` hold PIL images at run time; the runtime stand-in only marks, for
the decoder, which fields to turn from base64 into an image.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image as Image
else:

    class Image:
        """Marker for a field decoded from base64 into a `PIL.Image.Image`."""


__all__ = ["Image"]
