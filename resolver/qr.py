"""QR codes (ISO/IEC 18004) for battery identifiers, as SVG or PNG.

segno rather than qrcode: on the same URI both take about the same time (bench/bench_resolver.py),
but segno's SVG is about 5x smaller (one path instead of a rectangle per module), its PNG is
smaller too, and it needs no Pillow. Error correction is at least M (Art 13(7) and Annex VI Part C
point to ISO/IEC 18004; segno raises the level for free when the symbol size allows) and the
quiet zone is the 4 modules ISO/IEC 18004 requires, painted light so print keeps it.
"""

from __future__ import annotations

import io
from functools import lru_cache
from typing import Final

import segno

from resolver.errors import ResolverError

QUIET_ZONE: Final = 4
MEDIA_TYPES: Final = {"svg": "image/svg+xml", "png": "image/png"}
DEFAULT_SCALE: Final = 8  # pixels (PNG) or user units (SVG) per module
MAX_SCALE: Final = 40


class UnsupportedQrFormat(ResolverError):
    code = "unsupported-qr-format"
    status = 404


def make_symbol(data: str) -> segno.QRCode:
    # micro=False: Micro QR is not readable by phone cameras; error="m" is a floor, boosted
    # when the same version holds a stronger level.
    return segno.make(data, error="m", micro=False, boost_error=True)


@lru_cache(maxsize=4096)
def qr_image(data: str, kind: str, scale: int = DEFAULT_SCALE) -> bytes:
    """The QR code for `data` as `kind` ("svg" or "png"). Cached: a URI's symbol never changes."""
    if kind not in MEDIA_TYPES:
        raise UnsupportedQrFormat(f"QR codes come as {', '.join(MEDIA_TYPES)}, not {kind!r}")
    if not 1 <= scale <= MAX_SCALE:
        raise ValueError(f"scale must be 1..{MAX_SCALE}")
    out = io.BytesIO()
    symbol = make_symbol(data)
    if kind == "svg":
        symbol.save(
            out,
            kind="svg",
            scale=scale,
            border=QUIET_ZONE,
            dark="#000",
            light="#fff",
            xmldecl=False,
            title=f"QR code: {data}",
        )
    else:
        symbol.save(out, kind="png", scale=scale, border=QUIET_ZONE, dark="#000", light="#fff")
    return out.getvalue()


def module_matrix(data: str) -> list[list[bool]]:
    """The symbol's modules (True = dark), without quiet zone; tests compare images with it."""
    return [[bool(m) for m in row] for row in make_symbol(data).matrix]
