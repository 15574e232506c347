"""Bearer tokens with scopes, from a tokens file that never holds a usable secret.

One line per client (``#`` starts a comment)::

    <name> <scope>[,<scope>...] sha256:<hex digest of the token>

Scopes: ``read`` (Recommend, SimilarItems, GetTrending, GetUserHistory),
``write`` (RecordEvents), ``admin`` (reload). Health, readiness, metrics and
the API documents stay open: they carry no user data.

A presented token is hashed and compared with every digest in constant time
(``hmac.compare_digest``); tokens are never logged. The file is re-read when
it changes (checked at most once a second) or on SIGHUP, so a token can be
rotated without a restart; a file that no longer parses keeps the previous
tokens and logs the line at fault.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("recserve.auth")

SCOPES = ("read", "write", "admin")
PREFIX = "sha256:"
ANONYMOUS = "anonymous"  # the client label when no tokens file is configured
REFUSED = "unauthenticated"  # the client label of a call without a valid token


class TokensFileError(ValueError):
    """The tokens file cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Client:
    name: str
    scopes: frozenset[str]
    digest: bytes


def digest_of(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def new_token(name: str, scopes: str) -> tuple[str, str]:
    """A fresh random token and the tokens-file line that grants it ``scopes``."""
    wanted = parse_scopes(scopes, "--scopes")
    check_name(name, "--name")
    token = secrets.token_urlsafe(32)
    return token, f"{name} {','.join(sorted(wanted))} {PREFIX}{digest_of(token).hex()}"


def check_name(name: str, where: str) -> None:
    if not name or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise TokensFileError(f"{where}: client name {name!r} must be letters, digits, - _ .")
    if len(name) > 64:
        raise TokensFileError(f"{where}: client name longer than 64 characters")


def parse_scopes(text: str, where: str) -> frozenset[str]:
    scopes = frozenset(s.strip() for s in text.split(",") if s.strip())
    unknown = sorted(scopes - set(SCOPES))
    if unknown or not scopes:
        raise TokensFileError(f"{where}: scopes must be some of {', '.join(SCOPES)}, got {text!r}")
    return scopes


def parse(text: str, path: str) -> list[Client]:
    clients: list[Client] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"{path}:{number}"
        parts = line.split()
        if len(parts) != 3:
            raise TokensFileError(f"{where}: expected '<name> <scopes> sha256:<hex>'")
        name, scopes, digest = parts
        check_name(name, where)
        if not digest.startswith(PREFIX):
            raise TokensFileError(f"{where}: the token must be given as sha256:<hex digest>")
        try:
            value = bytes.fromhex(digest.removeprefix(PREFIX))
        except ValueError:
            value = b""
        if len(value) != 32:
            raise TokensFileError(f"{where}: not a SHA-256 hex digest (64 hex digits)")
        clients.append(Client(name, parse_scopes(scopes, where), value))
    return clients


class Tokens:
    """The clients of a tokens file, re-read when it changes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._checked = 0.0
        self._stamp: tuple[int, int] | None = None
        self.clients: tuple[Client, ...] = ()
        self.reload(strict=True)

    def reload(self, strict: bool = False) -> None:
        """Read the file; a bad file raises at start-up (``strict``), later it keeps the
        tokens in force and logs why."""
        try:
            stat = self.path.stat()
            clients = parse(self.path.read_text(encoding="utf-8"), str(self.path))
        except (OSError, UnicodeDecodeError, TokensFileError) as error:
            if strict:
                if isinstance(error, TokensFileError):
                    raise
                message = f"{self.path}: cannot read the tokens file ({error})"
                raise TokensFileError(message) from None
            log.error("tokens file not reloaded, the previous tokens stay in force: %s", error)
            return
        with self._lock:
            self.clients = tuple(clients)
            self._stamp = (stat.st_mtime_ns, stat.st_size)
        if not strict:
            log.info("tokens file %s reloaded: %d clients", self.path, len(clients))

    def _maybe_reload(self) -> None:
        now = time.monotonic()
        if now - self._checked < 1.0:
            return
        self._checked = now
        try:
            stat = self.path.stat()
        except OSError:
            return
        if (stat.st_mtime_ns, stat.st_size) != self._stamp:
            self.reload()

    def client(self, token: str) -> Client | None:
        """The client a token belongs to, compared with every digest in constant time."""
        self._maybe_reload()
        presented = digest_of(token)
        found = None
        for client in self.clients:  # no early exit: the time does not depend on the match
            if hmac.compare_digest(client.digest, presented):
                found = client
        return found


class Unauthenticated(Exception):
    """No token, or one no client has: gRPC UNAUTHENTICATED, HTTP 401."""


class Forbidden(Exception):
    """A valid token without the scope the call needs: PERMISSION_DENIED, HTTP 403."""

    def __init__(self, client: str, scope: str) -> None:
        self.client = client
        super().__init__(f"client {client!r} lacks the {scope!r} scope")


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value."""
    if not header:
        return None
    kind, _, token = header.strip().partition(" ")
    return (token.strip() or None) if kind.lower() == "bearer" else None


def authorize(tokens: Tokens | None, header: str | None, scope: str) -> str:
    """The client name allowed to make a call that needs ``scope`` (``ANONYMOUS`` when
    no tokens are configured), else ``Unauthenticated`` / ``Forbidden``."""
    if tokens is None:
        return ANONYMOUS
    token = bearer(header)
    client = tokens.client(token) if token else None
    if client is None:
        raise Unauthenticated("a valid bearer token is required")
    if scope not in client.scopes:
        raise Forbidden(client.name, scope)
    return client.name
