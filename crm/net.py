"""The client's address, as trusted proxies report it."""

from flask import current_app, request


def client_ip() -> str:
    """Client IP: the peer address, or the X-Forwarded-For hop set by the N trusted proxies (CRM_TRUSTED_PROXIES)."""
    hops = current_app.config.get("CRM_TRUSTED_PROXIES", 0)
    if hops:
        forwarded = [p.strip() for p in request.headers.get("X-Forwarded-For", "").split(",") if p.strip()]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.remote_addr or "-"
