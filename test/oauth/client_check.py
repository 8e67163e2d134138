"""Checks the OAuth 2.0 endpoints with third-party clients: Authlib's OAuth2Session
(client_secret_basic and client_secret_post), PyJWT's PyJWKClient against the
JWKS, and plain requests for introspection, revocation and RFC 6749 errors.

    python client_check.py <base url> <client id> <client secret>

Prints one line per check and exits non-zero on the first failure.
"""

import sys

import jwt
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.integrations.base_client.errors import OAuthError


def check(cond, what):
    if not cond:
        print(f"FAIL {what}", flush=True)
        sys.exit(1)
    print(f"ok {what}", flush=True)


def main():
    base, client_id, client_secret = sys.argv[1:4]
    meta = requests.get(f"{base}/.well-known/oauth-authorization-server", timeout=10).json()
    issuer = meta["issuer"]
    check(meta["grant_types_supported"] == ["client_credentials", "refresh_token"], "metadata lists the grants")
    check(
        set(meta["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post"},
        "metadata lists the client authentication methods",
    )
    # The server may sit behind another name than the one its clients reach in this test.
    token_url = f"{base}/oauth2/token"
    jwks = jwt.PyJWKClient(f"{base}/.well-known/jwks.json")

    def verify(access_token):
        key = jwks.get_signing_key_from_jwt(access_token)
        return jwt.decode(
            access_token,
            key,
            algorithms=["EdDSA"],
            audience="pkiserver",
            issuer=issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )

    tokens = {}
    for method in ("client_secret_basic", "client_secret_post"):
        session = OAuth2Session(client_id, client_secret, token_endpoint_auth_method=method, scope="pki:read")
        token = session.fetch_token(token_url, grant_type="client_credentials")
        check(token["token_type"] == "Bearer" and token["expires_in"] > 0, f"{method}: a Bearer token")
        check(token["scope"] == "pki:read", f"{method}: the granted scope, space-separated")
        claims = verify(token["access_token"])
        check(claims["client_id"] == client_id and claims["sub"] == client_id, f"{method}: PyJWT verifies iss, aud, exp")
        check(jwt.get_unverified_header(token["access_token"])["typ"] == "at+jwt", f"{method}: typ at+jwt")
        tokens[method] = token

    # Refresh through Authlib: the new pair replaces the old one.
    session = OAuth2Session(client_id, client_secret, token_endpoint_auth_method="client_secret_basic")
    refreshed = session.refresh_token(token_url, refresh_token=tokens["client_secret_basic"]["refresh_token"])
    check(refreshed["refresh_token"] != tokens["client_secret_basic"]["refresh_token"], "refresh rotates the pair")
    verify(refreshed["access_token"])

    auth = (client_id, client_secret)
    introspect = f"{base}/oauth2/introspect"
    live = requests.post(introspect, data={"token": refreshed["access_token"]}, auth=auth, timeout=10).json()
    check(live["active"] is True and live["client_id"] == client_id, "a live access token introspects as active")
    old = requests.post(introspect, data={"token": tokens["client_secret_basic"]["access_token"]}, auth=auth, timeout=10)
    check(old.json() == {"active": False}, "a rotated-away access token introspects as inactive")

    revoke = requests.post(f"{base}/oauth2/revoke", data={"token": refreshed["refresh_token"]}, auth=auth, timeout=10)
    check(revoke.status_code == 200, "revocation answers 200")
    dead = requests.post(introspect, data={"token": refreshed["access_token"]}, auth=auth, timeout=10).json()
    check(dead == {"active": False}, "a revoked session's access token introspects as inactive")
    rpc = requests.post(
        f"{base}/main",
        json={"jsonrpc": "2.0", "id": 1, "method": "pki/getKeyHistory", "params": {}},
        headers={"Authorization": f"Bearer {refreshed['access_token']}"},
        timeout=10,
    ).json()
    check(rpc["error"]["code"] == 75, "the gateway refuses the revoked access token (75)")

    # RFC 6749 section 5.2 errors, as a client library reports them.
    bad = OAuth2Session(client_id, "x" * 40, token_endpoint_auth_method="client_secret_basic")
    try:
        bad.fetch_token(token_url, grant_type="client_credentials")
        check(False, "a wrong secret is refused")
    except OAuthError as e:
        check(e.error == "invalid_client", "a wrong secret is invalid_client")
    r = requests.post(token_url, data={"grant_type": "client_credentials"}, auth=(client_id, "y" * 40), timeout=10)
    check(r.status_code == 401 and r.headers.get("WWW-Authenticate", "").startswith("Basic"), "401 with a Basic challenge")
    check(r.headers.get("Cache-Control") == "no-store", "errors are not cached")
    r = requests.post(token_url, data={"grant_type": "password"}, auth=auth, timeout=10)
    check(r.status_code == 400 and r.json()["error"] == "unsupported_grant_type", "unsupported_grant_type")
    r = requests.post(token_url, data={"grant_type": "client_credentials", "scope": "nope"}, auth=auth, timeout=10)
    check(r.status_code == 400 and r.json()["error"] == "invalid_scope", "invalid_scope")
    r = requests.post(
        token_url, data={"grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"]}, auth=auth, timeout=10
    )
    check(r.status_code == 400 and r.json()["error"] == "invalid_grant", "a revoked refresh token is invalid_grant")
    print("all OAuth client checks passed", flush=True)


if __name__ == "__main__":
    main()
