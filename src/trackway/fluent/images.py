"""Images to PNG files: numpy arrays (with or without Pillow) and Pillow images."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

_MODES = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type: grey, RGB, RGBA


def save_image(image: Any, path: Path) -> None:
    """Writes a PIL image, or an array of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4):
    uint8, whole numbers in [0, 255], or floats in [0, 1]."""
    if hasattr(image, "save") and hasattr(image, "mode"):
        image.save(path)
        return
    if not hasattr(image, "shape") or not hasattr(image, "dtype"):
        raise TypeError(f"log_image takes a numpy array or a PIL image, not {type(image).__name__}")
    pixels = _to_uint8(image)
    try:
        from PIL import Image
    except ImportError:
        if path.suffix.lower() != ".png":
            raise ValueError(
                f"{path.name}: without Pillow, images can only be saved as .png"
            ) from None
        path.write_bytes(encode_png(pixels))
        return
    Image.fromarray(pixels.squeeze(-1) if pixels.shape[-1] == 1 else pixels).save(path)


def _to_uint8(image: Any) -> Any:
    import numpy as np

    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in _MODES:
        raise ValueError(f"image shape {arr.shape}: expected (H, W), or (H, W, 1|3|4)")
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if np.issubdtype(arr.dtype, np.floating):
        if arr.size and (np.nanmin(arr) < 0 or np.nanmax(arr) > 1):
            raise ValueError("float images must have values in [0, 1]")
        return (np.nan_to_num(arr) * 255).round().astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise ValueError("integer images must have values in [0, 255]")
        return arr.astype(np.uint8)
    raise ValueError(f"image dtype {arr.dtype} is not supported")


def encode_png(pixels: Any) -> bytes:
    """A minimal PNG encoder (8-bit, no filtering) for (H, W, C) uint8 arrays."""
    height, width, channels = pixels.shape
    raw = b"".join(b"\x00" + pixels[row].tobytes() for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, _MODES[channels], 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )
