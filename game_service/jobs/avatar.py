"""Avatar processing: what the worker does with an uploaded file before a player's avatar
points at it.

The upload is verified by its content, never by its name or declared type: Pillow must
recognise it as one of the allowed formats, within the size limit and the pixel limits, and
decode it completely. It is then drawn again from its pixels into two WebP images, a square
thumbnail and a full size no larger than :data:`FULL_SIZE`: nothing of the original file
(EXIF with its GPS position, ICC profiles, comments, trailing bytes, other frames) survives.

A file that fails any check is *refused* with a reason in plain words for the player; that
is an answer, not an error, and the job is finished.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

# The formats a player may upload (Pillow's names), as the upload form allows them.
ALLOWED_FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "GIF": "GIF", "WEBP": "WebP"}
MAX_SIDE = 4096  # pixels, either side
MAX_PIXELS = 16_000_000  # width x height: a decompression bomb is refused before decoding
MIN_SIDE = 16
THUMB_SIZE = 96
FULL_SIZE = 512
OUTPUT_TYPE = "image/webp"


@dataclass(frozen=True)
class Processed:
    thumb: bytes
    full: bytes
    width: int  # of the full-size image
    height: int
    content_type: str = OUTPUT_TYPE


@dataclass(frozen=True)
class Refused:
    reason: str


def process_avatar(data: bytes, max_bytes: int) -> Processed | Refused:
    """Verify ``data`` and make the avatar's two images, or say why it is refused."""
    if not data:
        return Refused("The file is empty.")
    if len(data) > max_bytes:
        return Refused(f"The file is {len(data) // 1024} KB; the limit is {max_bytes // 1024} KB.")
    allowed = ", ".join(ALLOWED_FORMATS.values())
    fmt = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS))
            fmt = image.format
            width, height = image.size
            if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
                return Refused(f"The picture is {width} x {height} pixels; the limit is {MAX_SIDE} on a side.")
            if width < MIN_SIDE or height < MIN_SIDE:
                return Refused(f"The picture is {width} x {height} pixels; it needs at least {MIN_SIDE} on a side.")
            image.load()  # decode every byte now: a truncated or corrupt file fails here
    except UnidentifiedImageError:
        return Refused(f"The file is not a picture in a format we take ({allowed}).")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return Refused(f"The picture has too many pixels; the limit is {MAX_SIDE} on a side.")
    except (OSError, SyntaxError, ValueError):
        kind = ALLOWED_FORMATS.get(fmt or "", "picture")
        return Refused(f"The {kind} file is damaged or incomplete; try saving it again.")
    # the camera's orientation applied, then only the pixels kept (first frame of an animation)
    image = ImageOps.exif_transpose(image)
    image = image.convert("RGBA" if _has_alpha(image) else "RGB")
    full = image.copy()
    full.thumbnail((FULL_SIZE, FULL_SIZE), Image.Resampling.LANCZOS)
    thumb = ImageOps.fit(image, (THUMB_SIZE, THUMB_SIZE), Image.Resampling.LANCZOS)
    return Processed(thumb=_webp(thumb), full=_webp(full), width=full.width, height=full.height)


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)


def _webp(image: Image.Image) -> bytes:
    out = io.BytesIO()
    # a new file from the pixels alone: no exif, icc_profile or xmp is passed on
    image.save(out, format="WEBP", quality=82, method=4)
    return out.getvalue()
