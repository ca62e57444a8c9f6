"""Room photos: only real images, stored under a name we choose."""

from __future__ import annotations

import io
import os
import secrets
from pathlib import Path

from PIL import Image, UnidentifiedImageError

FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
MAX_PIXELS = 40_000_000


class BadPhoto(ValueError):
    pass


def store(data: bytes, upload_dir: str, max_bytes: int) -> str:
    """Check that data is an image and write it; returns the stored file name."""
    if not data:
        raise BadPhoto("the photo is empty")
    if len(data) > max_bytes:
        raise BadPhoto(f"the photo is larger than {max_bytes // 1024} KiB")
    try:
        with Image.open(io.BytesIO(data)) as img:
            kind = img.format
            if img.width * img.height > MAX_PIXELS:
                raise BadPhoto("the photo has too many pixels")
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError):
        raise BadPhoto("the file is not an image (JPEG, PNG, WebP or GIF)") from None
    if kind not in FORMATS:
        raise BadPhoto(f"{kind} images are not accepted: JPEG, PNG, WebP or GIF")
    name = f"{secrets.token_hex(16)}.{FORMATS[kind]}"
    target = Path(upload_dir)
    target.mkdir(parents=True, exist_ok=True)
    tmp = target / f".{name}.tmp"
    tmp.write_bytes(data)
    os.replace(tmp, target / name)
    return name
