"""The console as an OpenID Connect relying party (Authlib): discovery, code + PKCE, ID token.

What is checked, and why each matters:

- discovery (`/.well-known/openid-configuration`) must name exactly the configured issuer,
  and every endpoint it lists must be on the issuer's own origin (scheme, host, port): the
  API talks to the configured issuer and nothing else (privacy: no other outbound traffic),
  and a tampered document cannot send the client secret elsewhere. The issuer is HTTPS, or
  plain HTTP on a loopback address only (a provider on the same machine).
- the authorization code flow with PKCE (S256): the code is useless without the verifier,
  which never leaves the server except to the token endpoint.
- the ID token: signature by a key of the provider's JWKS (refetched once for an unknown key
  id, for key rotation), issuer, audience = our client id (and `azp` if present), expiry
  and issue time (`LEEWAY_SECONDS` of clock skew), and the nonce of this sign-in.

The client secret is read from MOATMETRICS_OIDC_CLIENT_SECRET_FILE when needed, never logged
and never part of an error message. Failures raise `SsoError` with a reason code for the audit
log and a sentence for the person signing in.
"""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from moatmetrics.settings import Settings

if TYPE_CHECKING:  # Authlib and its HTTP client load at the first sign-in, not at start-up
    from authlib.integrations.requests_client import OAuth2Session

LEEWAY_SECONDS = 60
TIMEOUT_SECONDS = 10.0
_ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri")
# Audit reasons by the claim that failed.
_CLAIM_REASONS = {
    "exp": "expired",
    "iat": "not_yet_valid",
    "nbf": "not_yet_valid",
    "aud": "wrong_audience",
    "azp": "wrong_audience",
    "iss": "wrong_issuer",
    "nonce": "wrong_nonce",
}


class SsoError(Exception):
    """A sign-in that cannot go on: `reason` for the audit log, `message` for the person."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    algorithms: list[str] | None
    jwks: dict[str, Any] | None = None


_metadata: dict[str, ProviderMetadata] = {}
_lock = threading.Lock()


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def check_issuer_url(issuer: str) -> None:
    """HTTPS, or HTTP on loopback only: tokens and the client secret travel on this link."""
    scheme, host, _ = _origin(issuer)
    if scheme == "https" and host:
        return
    if scheme == "http":
        try:
            if ipaddress.ip_address(host).is_loopback:
                return
        except ValueError:
            if host == "localhost":
                return
    raise SsoError(
        "issuer_not_https",
        f"MOATMETRICS_OIDC_ISSUER={issuer!r} must be an https:// URL (plain http only for a"
        " provider on this machine's loopback address).",
    )


def _get_json(url: str) -> dict[str, Any]:
    import httpx

    try:
        response = httpx.get(url, timeout=TIMEOUT_SECONDS, trust_env=False)
        response.raise_for_status()
        document = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise SsoError(
            "provider_unreachable",
            f"The sign-in provider did not answer as expected at {url} ({type(exc).__name__})."
            " Try again later, or ask an admin to check MOATMETRICS_OIDC_ISSUER.",
        ) from None
    if not isinstance(document, dict):
        raise SsoError("provider_unreachable", f"{url} did not return a JSON object.")
    return document


def discover(settings: Settings) -> ProviderMetadata:
    """The provider's metadata (fetched once per process), checked against the issuer."""
    issuer = settings.oidc_issuer or ""
    with _lock:
        cached = _metadata.get(issuer)
    if cached is not None:
        return cached
    check_issuer_url(issuer)
    document = _get_json(f"{issuer.rstrip('/')}/.well-known/openid-configuration")
    if document.get("issuer") != issuer:
        raise SsoError(
            "issuer_mismatch",
            f"The provider's discovery document names issuer {document.get('issuer')!r}, not"
            f" the configured {issuer!r}: set MOATMETRICS_OIDC_ISSUER to the exact issuer.",
        )
    for name in _ENDPOINTS:
        value = document.get(name)
        if not isinstance(value, str) or _origin(value) != _origin(issuer):
            raise SsoError(
                "endpoint_off_issuer",
                f"The provider's {name} ({value!r}) is not on the issuer's origin {issuer};"
                " MoatMetrics only connects to the configured issuer.",
            )
    algorithms = document.get("id_token_signing_alg_values_supported")
    metadata = ProviderMetadata(
        issuer, document["authorization_endpoint"], document["token_endpoint"],
        document["jwks_uri"], [a for a in algorithms if a != "none"] if algorithms else None,
    )  # fmt: skip
    with _lock:
        _metadata[issuer] = metadata
    return metadata


def _client_secret(settings: Settings) -> str | None:
    path = settings.oidc_client_secret_file
    if path is None:
        return None  # a public client (PKCE only)
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SsoError(
            "client_secret_unreadable",
            f"Cannot read MOATMETRICS_OIDC_CLIENT_SECRET_FILE {path} ({exc.strerror}): an admin"
            " must make it readable by the API's user.",
        ) from None


def _client(settings: Settings, redirect_uri: str) -> OAuth2Session:
    from authlib.integrations.requests_client import OAuth2Session

    secret = _client_secret(settings)
    client = OAuth2Session(
        client_id=settings.oidc_client_id,
        client_secret=secret,
        token_endpoint_auth_method="client_secret_basic" if secret else "none",
        scope=settings.oidc_scopes,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
    )
    client.trust_env = False  # no proxy from the environment: straight to the issuer
    return client


def authorization_url(
    settings: Settings, redirect_uri: str, state: str, nonce: str, code_verifier: str
) -> str:
    """Where to send the browser: the provider's sign-in, for this state/nonce/challenge."""
    metadata = discover(settings)
    with _client(settings, redirect_uri) as client:
        url, _ = client.create_authorization_url(
            metadata.authorization_endpoint, state=state, code_verifier=code_verifier,
            nonce=nonce,
        )  # fmt: skip
    return str(url)


def _key_set(settings: Settings, metadata: ProviderMetadata, refresh: bool) -> KeySet:
    if metadata.jwks is None or refresh:
        metadata.jwks = _get_json(metadata.jwks_uri)
    try:
        return KeySet.import_key_set(metadata.jwks)  # type: ignore[arg-type]
    except (JoseError, ValueError, KeyError, TypeError):
        raise SsoError(
            "jwks_invalid", "The provider's signing keys (JWKS) cannot be read."
        ) from None


def _decode(settings: Settings, metadata: ProviderMetadata, id_token: str) -> jwt.Token:
    registry = JWSRegistry(algorithms=metadata.algorithms or ["RS256"])
    for refresh in (False, True):  # once more with fresh keys: the provider may have rotated
        try:
            return jwt.decode(id_token, _key_set(settings, metadata, refresh), registry=registry)
        except JoseError as exc:
            if refresh:
                raise SsoError(
                    "bad_signature",
                    "The sign-in provider's answer is not signed by any of its published keys.",
                ) from exc
    raise AssertionError("unreachable")


def exchange_code(
    settings: Settings, redirect_uri: str, code: str, code_verifier: str, nonce: str
) -> dict[str, Any]:
    """Trade the code for tokens and return the ID token's validated claims."""
    from authlib.oidc.core import CodeIDToken

    metadata = discover(settings)
    with _client(settings, redirect_uri) as client:
        try:
            token = client.fetch_token(
                metadata.token_endpoint, grant_type="authorization_code", code=code,
                code_verifier=code_verifier, redirect_uri=redirect_uri, timeout=TIMEOUT_SECONDS,
            )  # fmt: skip
        except Exception as exc:  # OAuthError, transport errors: the reason, never the secret
            error = getattr(exc, "error", None) or type(exc).__name__
            raise SsoError(
                "token_refused",
                f"The sign-in provider refused to complete the sign-in ({error}). Start again.",
            ) from None
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise SsoError("no_id_token", "The sign-in provider sent no ID token (scope openid?).")
    decoded = _decode(settings, metadata, id_token)
    claims = CodeIDToken(
        decoded.claims,
        decoded.header,
        {
            "iss": {"essential": True, "value": metadata.issuer},
            "aud": {"essential": True, "value": settings.oidc_client_id or ""},
        },
        {
            "nonce": nonce,
            "client_id": settings.oidc_client_id,
            "access_token": token.get("access_token"),
        },
    )
    try:
        claims.validate(leeway=LEEWAY_SECONDS)
    except JoseError as exc:
        claim = "exp" if exc.error == "expired_token" else getattr(exc, "claim", "")
        reason = _CLAIM_REASONS.get(claim, "invalid_claims")
        raise SsoError(
            reason, f"The sign-in provider's ID token was refused ({reason}: {exc.error})."
        ) from exc
    return dict(claims)
