"""The structural check of a JPEG or PNG: Pillow must decode it completely. A JPEG is decoded at
1/8 scale (the whole entropy-coded data is still read, so a truncated file fails) to keep memory
small; a PNG is verified (chunk CRCs up to IEND) and then decoded."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, UnidentifiedImageError

from .inspection import MAX_DECODED_BYTES, FileRefused

_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG"}


def damaged() -> FileRefused:
    return FileRefused(
        "Cette image est endommagée ou incomplète et ne peut pas être lue : vérifiez qu'elle s'ouvre "
        "correctement sur votre ordinateur, puis déposez-la à nouveau.",
        reason="image_illisible",
    )


def check_image(path: Path, content_type: str) -> None:
    try:
        with Image.open(path, formats=[_FORMATS[content_type]]) as im:
            width, height = im.size
            bands = len(im.getbands())
            if width * height * bands > MAX_DECODED_BYTES and content_type == "image/png":
                raise FileRefused(
                    f"Cette image est trop grande ({width} × {height} pixels) : réduisez ses dimensions "
                    "ou enregistrez-la en JPG, puis déposez-la à nouveau.",
                    reason="image_trop_grande",
                )
            if content_type == "image/png":
                im.verify()
        with Image.open(path, formats=[_FORMATS[content_type]]) as im:
            if content_type == "image/jpeg":
                im.draft(
                    im.mode if im.mode in ("L", "RGB", "CMYK", "YCbCr") else "RGB",
                    (max(1, im.width // 8), max(1, im.height // 8)),
                )
            im.load()
    except FileRefused:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        raise damaged() from None
