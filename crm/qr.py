"""QR codes as PNG data: URLs (zxing-cpp encodes and picks the mask in C++; Pillow writes the PNG)."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence


def qr_data_uri(text: str, *, scale: int = 1, quiet_zone: bool = False, ink: Sequence[int] | None = None) -> str:
    """The QR code of `text` (error correction M) as a PNG data: URL, `scale` pixels per module. `ink` maps the
    256 grey levels (0 = dark module) to the printed ones, e.g. a near-black instead of pure black."""
    import zxingcpp
    from PIL import Image

    code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    modules = memoryview(code.to_image(scale=scale, add_quiet_zones=quiet_zone))  # rows × columns, 8-bit grey
    image = Image.frombytes("L", (modules.shape[1], modules.shape[0]), modules.tobytes())
    if ink is not None:
        image = image.point(list(ink))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
