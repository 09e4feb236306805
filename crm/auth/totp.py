"""Time-based one-time passwords (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits) for the optional second factor of
administrators and branch heads (issue 8, promise 4). Pure functions; the caller stores the secret and the last
step used, so a code is accepted once (no replay) and a step before it never again."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time
from urllib.parse import quote

STEP = 30
DIGITS = 6
WINDOW = 1  # one step either side: a phone clock 30 s off still works


def new_secret() -> str:
    """160 random bits in base32 (what authenticator apps take), without padding."""
    return base64.b32encode(secrets.token_bytes(20)).decode("ascii").rstrip("=")


def _key(secret: str) -> bytes:
    text = secret.strip().replace(" ", "").upper()
    return base64.b32decode(text + "=" * (-len(text) % 8))


def code_at(secret: str, step: int) -> str:
    """The code of one time step (RFC 4226 dynamic truncation)."""
    digest = hmac.new(_key(secret), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**DIGITS).zfill(DIGITS)


def current_step(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // STEP)


def verify(secret: str, code: str, *, last_step: int | None = None, now: float | None = None) -> int | None:
    """The step the code belongs to (store it as the new last step), or None: wrong, malformed, or a step already
    used (replay). Compared in constant time."""
    code = (code or "").strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    step = current_step(now)
    found = None
    for candidate in range(step - WINDOW, step + WINDOW + 1):
        if hmac.compare_digest(code_at(secret, candidate), code):
            found = candidate
    if found is None or (last_step is not None and found <= last_step):
        return None
    return found


def provisioning_uri(secret: str, account: str, issuer: str = "网点CRM") -> str:
    """otpauth:// URI for the authenticator app's QR code."""
    label = quote(f"{issuer}:{account}")
    return f"otpauth://totp/{label}?secret={secret}&issuer={quote(issuer)}&algorithm=SHA1&digits={DIGITS}&period={STEP}"
