"""QR codes: they decode back to the exact URI (zbarimg), keep error correction M or better and a
4-module light quiet zone, and the SVG draws the same modules as the symbol."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess

import pytest
import segno
from typer.testing import CliRunner

from resolver.qr import QUIET_ZONE, make_symbol, module_matrix, qr_image
from service.cli import app as cli

URIS = [
    "https://dpp.example.com/01/09520123456788/21/SN12345678",
    "https://dpp.example.com/01/09520123456788/22/V1/10/BID12345678/21/A%2FB%25c",
    "http://127.0.0.1:8000/01/00000096385074/21/x",
]

needs_zbar = pytest.mark.skipif(
    shutil.which("zbarimg") is None, reason="zbarimg (Debian zbar-tools) is not installed"
)


def zbar_decode(image: bytes) -> str:
    """What a barcode reader sees: zbarimg's raw output for one symbol."""
    done = subprocess.run(
        ["zbarimg", "--raw", "-q", "-"], input=image, capture_output=True, timeout=30, check=True
    )
    return done.stdout.decode().rstrip("\n")


@needs_zbar
@pytest.mark.parametrize("uri", URIS)
def test_png_decodes_to_the_exact_uri(uri):
    assert zbar_decode(qr_image(uri, "png")) == uri


@pytest.mark.parametrize("uri", URIS)
def test_error_correction_is_at_least_m(uri):
    assert make_symbol(uri).error in ("M", "Q", "H")
    assert not make_symbol(uri).is_micro


def _svg_modules(svg: str) -> set[tuple[int, int]]:
    """Dark modules (row, column) drawn by segno's single-path SVG: `M x y` then runs of
    `h n` (dark) and relative moves `m dx dy`, in module units, y at row + 0.5."""
    path = re.search(r'class="qrline"[^>]*\sd="([^"]+)"', svg) or re.search(
        r'<path[^>]*\sd="([^"]+)"[^>]*class="qrline"', svg
    )
    assert path, svg[:300]
    dark: set[tuple[int, int]] = set()
    x = y = 0.0
    for op, args in re.findall(r"([MmHh])([-0-9. ]+)", path.group(1)):
        numbers = [float(n) for n in args.split()]
        if op == "M":
            x, y = numbers
        elif op == "m":
            x, y = x + numbers[0], y + numbers[1]
        else:  # h: a run of dark modules on this row
            run = numbers[0]
            dark.update((int(y), int(x + i)) for i in range(int(run)))
            x += run
    return dark


@pytest.mark.parametrize("uri", URIS)
def test_svg_draws_the_symbol_with_its_quiet_zone(uri):
    svg = qr_image(uri, "svg", 1).decode()
    matrix = module_matrix(uri)
    size = len(matrix)
    expected = {
        (r + QUIET_ZONE, c + QUIET_ZONE)
        for r, row in enumerate(matrix)
        for c, dark in enumerate(row)
        if dark
    }
    assert _svg_modules(svg) == expected
    total = size + 2 * QUIET_ZONE
    assert f'width="{total}" height="{total}"' in svg
    # the quiet zone is painted light, not left transparent
    assert f'fill="#fff" d="M0 0h{total}v{total}h-{total}z"' in svg
    assert f"<title>QR code: {uri}</title>" in svg


def test_png_size_includes_the_quiet_zone():
    uri = URIS[0]
    png = qr_image(uri, "png", 3)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])  # IHDR follows the signature
    size = len(module_matrix(uri)) + 2 * QUIET_ZONE
    assert (width, height) == (size * 3, size * 3)


def test_same_matrix_as_segno_reference():
    uri = URIS[1]
    reference = segno.make(uri, error="m", micro=False)
    assert module_matrix(uri) == [[bool(m) for m in row] for row in reference.matrix]


@needs_zbar
@pytest.mark.parametrize("suffix", ["png", "svg"])
def test_cli_writes_qr(tmp_path, suffix):
    out = tmp_path / f"battery.{suffix}"
    result = CliRunner().invoke(cli, ["qr", URIS[0], "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == qr_image(URIS[0], suffix, 8)
    if suffix == "png":
        assert zbar_decode(out.read_bytes()) == URIS[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([URIS[0], "--out", "x.gif"], "must end in .svg or .png"),
        (["https://example.com/not-an-item", "--out", "x.png"], "not a GS1 Digital Link"),
        (["https://example.com/01/09520123456789/21/A", "--out", "x.png"], "check digit"),
        ([URIS[0], "--out", "x.png", "--scale", "0"], "--scale must be"),
    ],
)
def test_cli_refuses(tmp_path, args, message):
    result = CliRunner().invoke(cli, ["qr", *args])
    assert result.exit_code == 1
    assert message in result.stderr
