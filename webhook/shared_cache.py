"""Verification results and manifests shared by webhook replicas through Redis.

Each worker process keeps its own caches (``webhook.checker.TtlCache``, the
L1); with ``GATE_REDIS_URL`` set, what one replica verified is also written
to Redis (the L2) for the same TTL, so another replica (or another worker of
the same pod) finds it there instead of asking the registry again:

- signature verification results, keyed exactly as the in-process cache is
  (signature kind, repository, digest, trust authority, its trust material,
  policy digest), plus the gate's version: a result written by another
  release of the gate is never read;
- manifests fetched by digest, keyed by (repository, digest); their bytes are
  hashed again when read, so a planted manifest can never be used.

Tag -> digest answers are not shared: a tag moves, and each process sees a
move within its own one-second tag cache.

Values are JSON with an explicit schema (``SCHEMA``), never pickle. A value
that does not parse, does not match the slot it was read from, or (with
``GATE_REDIS_HMAC_KEY_FILE``) whose HMAC does not verify, is a miss: counted
in ``gate_shared_cache_rejected_total``, logged (at most every few seconds),
never an error. Redis being down or slow never fails an admission: every
call has a short socket timeout, a failure is counted and the check falls
back to verifying; after a failure Redis is left alone for ``RETRY_AFTER``
seconds so that a dead server costs one timeout, not one per lookup.

A shared cache is also a place where whoever can write to Redis could plant
"verified" results: ``docs/scaling.md`` says how to keep Redis private to the
gate, and what the optional HMAC key adds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import urlsplit

from prometheus_client import Counter

from gate import __version__
from gate.errors import BackendError, InputError
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.oci.source import ResolvedImage
from gate.signatures.evidence import AuthorityResult, VerifiedSignature
from webhook.metrics import LabelCache, Metrics

log = logging.getLogger(__name__)

#: The schema of every value written; a value of another schema is a miss.
SCHEMA = "gate.shared-cache/v1"
#: Prefix of every Redis key the gate writes (``<prefix><cache>:<sha256>``).
KEY_PREFIX = "gate:cache:v1:"
#: The largest value read back: a manifest (at most 4 MiB) in base64 and its envelope.
MAX_VALUE_BYTES = 8 * 1024 * 1024
#: Seconds Redis is left alone after a failure (lookups go straight to the registry).
RETRY_AFTER = 1.0
#: Default socket timeout (connect and each read/write) of Redis calls.
DEFAULT_TIMEOUT = 0.1
#: The shortest HMAC key accepted (bytes).
MIN_HMAC_KEY_BYTES = 32
#: At most one log line per reason in this many seconds (a flood of bad values is counted).
_LOG_INTERVAL = 10.0

K = TypeVar("K")
V = TypeVar("V")

#: (signature kind, repository, digest, authority, trust material, policy digest)
SignatureKey = tuple[str, str, str, str, tuple[str, ...], str]
#: (repository, digest)
ManifestKey = tuple[str, str]


class CacheBackend(Protocol):
    """Bytes in, bytes out, with an expiry: what the shared cache needs from Redis.

    Every failure (unreachable, timeout, protocol error) is a ``BackendError``
    whose message holds no password.
    """

    @property
    def label(self) -> str:
        """Where the values are kept, for messages (never with a password)."""
        ...

    def get(self, key: str, max_bytes: int) -> bytes | None:
        """At most ``max_bytes`` of the value at ``key``; None when there is none."""
        ...

    def set(self, key: str, value: bytes, ttl: float) -> None:
        """Keep ``value`` at ``key`` for ``ttl`` seconds."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def redacted_url(url: str) -> str:
    """``url`` without user name and password, for logs and ``/readyz``."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix://{parts.path}"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def check_redis_url(url: str, *, source: str) -> None:
    """Raise ``InputError`` (without echoing the URL: it may hold a password) unless usable."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InputError(
            "not a usable Redis URL (bad port or brackets; value not shown, it may hold a "
            "password)",
            source=source,
        ) from None
    if parts.scheme not in {"redis", "rediss", "unix"}:
        raise InputError(
            "must be a redis://, rediss:// or unix:// URL (value not shown, it may hold a "
            "password)",
            source=source,
        )
    if parts.scheme == "unix":
        if not parts.path:
            raise InputError("a unix:// Redis URL needs a socket path", source=source) from None
        return
    if not parts.hostname:
        raise InputError("the Redis URL names no host", source=source) from None
    if port == 0:
        raise InputError("the Redis URL's port must not be 0", source=source) from None
    database = parts.path.lstrip("/")
    if database and not database.isdigit():
        raise InputError(
            f"the Redis database must be a number (redis://HOST:PORT/0), not {database!r}",
            source=source,
        )


class RedisBackend:
    """``CacheBackend`` over one Redis server, with short timeouts and no retries.

    redis-py retries a failed call ten times with backoff by default; here a
    failure is reported at once (the caller verifies instead), so a dead or
    slow server costs one ``timeout`` per call at most.
    """

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        check_redis_url(url, source="GATE_REDIS_URL")
        try:
            import redis  # noqa: PLC0415 - only a deployment that shares its cache needs it
            from redis.backoff import NoBackoff  # noqa: PLC0415
            from redis.retry import Retry  # noqa: PLC0415
        except ImportError:
            raise InputError(
                "is set, but the 'redis' Python package is not installed (pip install redis)",
                source="GATE_REDIS_URL",
            ) from None
        self._redis_error: type[Exception] = redis.RedisError
        self._label = redacted_url(url)
        self._password = urlsplit(url).password
        self._client = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
            health_check_interval=0,
        )

    @property
    def label(self) -> str:
        """The server, without credentials."""
        return self._label

    def _failure(self, exc: Exception) -> BackendError:
        detail = str(exc) or type(exc).__name__
        if self._password:
            detail = detail.replace(self._password, "***")
        return BackendError(f"shared cache {self._label}: {type(exc).__name__}: {detail}")

    def get(self, key: str, max_bytes: int) -> bytes | None:
        """``GETRANGE key 0 max_bytes-1``: one round trip, and never more than ``max_bytes``."""
        try:
            value = self._client.getrange(key, 0, max_bytes - 1)
        except (self._redis_error, OSError) as exc:
            raise self._failure(exc) from None
        if not isinstance(value, bytes):
            raise BackendError(f"shared cache {self._label}: unexpected answer to GETRANGE")
        return value or None

    def set(self, key: str, value: bytes, ttl: float) -> None:
        """``SET key value PX ttl``."""
        try:
            self._client.set(key, value, px=max(1, int(ttl * 1000)))
        except (self._redis_error, OSError) as exc:
            raise self._failure(exc) from None

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()


class UnusableValueError(ValueError):
    """A shared value that must not be used; the message says why (for the log)."""


@dataclass(frozen=True)
class Codec(Generic[K, V]):
    """How one cache's keys and values are written to and read from the shared cache.

    ``decode`` gets the key the value was looked up under and raises
    ``UnusableValueError`` (or ``ValueError``/``KeyError``/``TypeError``) for anything
    it does not accept, including a value that names another digest or
    authority than its key.
    """

    name: str
    key_parts: Callable[[K], Any]
    encode: Callable[[V], dict[str, Any]]
    decode: Callable[[K, Mapping[str, Any]], V]


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body[name]
    if not isinstance(value, str):
        raise UnusableValueError(f"{name} is not a string")
    return value


def _texts(body: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UnusableValueError(f"{name} is not a list of strings")
    return tuple(value)


def _encode_result(result: AuthorityResult) -> dict[str, Any]:
    if result.error is not None:
        # Errors are never cached; a caller that tries has a bug.
        raise ValueError("a result with an error is not shared")
    return {
        "authority": result.authority,
        "signatures": [
            {
                "authority": s.authority,
                "kind": s.kind,
                "signer": s.signer,
                "signerLabel": s.signer_label,
                "digest": str(s.digest),
            }
            for s in result.signatures
        ],
        "rejections": list(result.rejections),
        "notes": list(result.notes),
    }


def _decode_result(key: SignatureKey, body: Mapping[str, Any]) -> AuthorityResult:
    _kind, _repository, digest, authority, _material, _policy = key
    if _text(body, "authority") != authority:
        raise UnusableValueError(
            f"written for authority {body['authority']!r}, read for {authority!r}"
        )
    if "error" in body:
        raise UnusableValueError("holds an error (errors are never shared)")
    raw = body["signatures"]
    if not isinstance(raw, list):
        raise UnusableValueError("signatures is not a list")
    signatures: list[VerifiedSignature] = []
    for item in raw:
        if not isinstance(item, dict):
            raise UnusableValueError("a signature is not an object")
        signed = _text(item, "digest")
        if signed != digest:
            raise UnusableValueError(
                f"a signature covers {signed}, the value was read for {digest}"
            )
        if _text(item, "authority") != authority:
            raise UnusableValueError("a signature names another authority")
        signatures.append(
            VerifiedSignature(
                authority=authority,
                kind=_text(item, "kind"),
                signer=_text(item, "signer"),
                signer_label=_text(item, "signerLabel"),
                digest=Digest.parse(signed),
            )
        )
    return AuthorityResult(
        authority=authority,
        signatures=tuple(signatures),
        rejections=_texts(body, "rejections"),
        notes=_texts(body, "notes"),
    )


def _encode_manifest(image: ResolvedImage) -> dict[str, Any]:
    return {
        "mediaType": image.media_type,
        "manifest": base64.b64encode(image.manifest).decode("ascii"),
    }


def _decode_manifest(key: ManifestKey, body: Mapping[str, Any]) -> ResolvedImage:
    repository, digest_text = key
    digest = Digest.parse(digest_text)
    manifest = base64.b64decode(_text(body, "manifest"), validate=True)
    if not digest.matches(manifest):
        raise UnusableValueError(f"the manifest does not hash to {digest}")
    return ResolvedImage(
        reference=ImageReference.parse(f"{repository}@{digest}"),
        digest=digest,
        media_type=_text(body, "mediaType"),
        manifest=manifest,
    )


SIGNATURES: Codec[SignatureKey, AuthorityResult] = Codec(
    "signature", lambda key: [*key[:4], list(key[4]), key[5]], _encode_result, _decode_result
)
MANIFESTS: Codec[ManifestKey, ResolvedImage] = Codec(
    "manifest", list, _encode_manifest, _decode_manifest
)


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


class SharedCache:
    """The shared (L2) cache: JSON values in a ``CacheBackend``, failures counted and survived.

    ``get`` and ``put`` never raise: a backend failure, a bad value or a MAC
    that does not verify is a miss. ``hmac_key`` (``GATE_REDIS_HMAC_KEY_FILE``)
    makes every written value carry an HMAC-SHA256 over its key and body, and
    every value read without a valid one a miss. ``metrics`` gets the
    ``gate_shared_cache_*`` counters.
    """

    def __init__(
        self,
        backend: CacheBackend,
        metrics: Metrics,
        *,
        hmac_key: bytes | None = None,
        wall_clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        retry_after: float = RETRY_AFTER,
    ) -> None:
        if hmac_key is not None and len(hmac_key) < MIN_HMAC_KEY_BYTES:
            raise InputError(
                f"the HMAC key must be at least {MIN_HMAC_KEY_BYTES} bytes",
                source="GATE_REDIS_HMAC_KEY_FILE",
            )
        self._backend = backend
        self._hmac_key = hmac_key
        self._wall_clock = wall_clock
        self._monotonic = monotonic
        self._retry_after = retry_after
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._last_error: str | None = None
        self._logged: dict[str, float] = {}
        registry = metrics.registry
        self.hits = LabelCache(
            Counter(
                "gate_shared_cache_hits",
                "Lookups (after a miss in the process's own cache) answered by the shared "
                "cache, by cache (signature, manifest).",
                ["cache"],
                registry=registry,
            )
        )
        self.misses = LabelCache(
            Counter(
                "gate_shared_cache_misses",
                "Lookups the shared cache had no usable value for, by cache.",
                ["cache"],
                registry=registry,
            )
        )
        self.rejected = LabelCache(
            Counter(
                "gate_shared_cache_rejected",
                "Shared values not used: not parseable, written for another key, or a MAC "
                "that does not verify (each is also a miss), by cache.",
                ["cache"],
                registry=registry,
            )
        )
        self.errors = LabelCache(
            Counter(
                "gate_shared_cache_errors",
                "Shared cache calls that failed (unreachable, timeout, protocol error), by "
                "operation (get, put); the check went on without it.",
                ["operation"],
                registry=registry,
            )
        )
        self.bypassed = LabelCache(
            Counter(
                "gate_shared_cache_bypassed",
                "Shared cache calls skipped because the server failed less than a second "
                "ago, by operation (get, put).",
                ["operation"],
                registry=registry,
            )
        )
        self.signatures: SharedTier[SignatureKey, AuthorityResult] = SharedTier(self, SIGNATURES)
        self.manifests: SharedTier[ManifestKey, ResolvedImage] = SharedTier(self, MANIFESTS)

    @property
    def label(self) -> str:
        """Where the values are kept (no password)."""
        return self._backend.label

    @property
    def last_error(self) -> str | None:
        """The last failure, until the server answers again; None while all is well."""
        return self._last_error

    def redis_key(self, codec: Codec[K, V], key: K) -> str:
        """The backend key of ``key`` in ``codec``'s cache (a hash: keys may be long)."""
        parts = _canonical([__version__, codec.name, codec.key_parts(key)])
        return f"{KEY_PREFIX}{codec.name}:{hashlib.sha256(parts).hexdigest()}"

    def _mac(self, redis_key: str, body: Any) -> str:
        assert self._hmac_key is not None  # noqa: S101 - only called with a key
        message = redis_key.encode() + b"\n" + _canonical(body)
        return hmac.new(self._hmac_key, message, hashlib.sha256).hexdigest()

    def _usable(self, operation: str) -> bool:
        if self._monotonic() >= self._down_until:
            return True
        self.bypassed(operation).inc()
        return False

    def _failed(self, operation: str, exc: BackendError) -> None:
        self.errors(operation).inc()
        with self._lock:
            was_up = self._monotonic() >= self._down_until
            self._down_until = self._monotonic() + self._retry_after
            self._last_error = str(exc)
        if was_up:
            self._log(
                "down",
                "shared cache unavailable, verifying without it for %gs: %s",
                self._retry_after,
                exc,
            )

    def _succeeded(self) -> None:
        if self._last_error is None:
            return
        with self._lock:
            self._last_error = None
        log.warning("shared cache %s answers again", self._backend.label)

    def _log(self, reason: str, message: str, *args: object) -> None:
        now = self._monotonic()
        with self._lock:
            last = self._logged.get(reason)
            if last is not None and now - last < _LOG_INTERVAL:
                return
            self._logged[reason] = now
        log.warning(message, *args)

    def get(self, codec: Codec[K, V], key: K) -> tuple[V, float] | None:
        """The shared value for ``key`` and the seconds it has left, or None (a miss)."""
        if not self._usable("get"):
            return None
        redis_key = self.redis_key(codec, key)
        try:
            data = self._backend.get(redis_key, MAX_VALUE_BYTES)
        except BackendError as exc:
            self._failed("get", exc)
            return None
        self._succeeded()
        if data is None:
            self.misses(codec.name).inc()
            return None
        try:
            found = self._decode(codec, key, redis_key, data)
        except (ValueError, KeyError, TypeError, InputError, RecursionError) as exc:
            self.rejected(codec.name).inc()
            self.misses(codec.name).inc()
            self._log(
                f"bad-{codec.name}",
                "shared cache %s: value at %s not used: %s",
                self._backend.label,
                redis_key,
                exc,
            )
            return None
        if found is None:
            self.misses(codec.name).inc()
            return None
        self.hits(codec.name).inc()
        return found

    def _decode(
        self, codec: Codec[K, V], key: K, redis_key: str, data: bytes
    ) -> tuple[V, float] | None:
        if len(data) >= MAX_VALUE_BYTES:
            raise UnusableValueError(f"larger than {MAX_VALUE_BYTES} bytes")
        envelope = json.loads(data)
        if not isinstance(envelope, dict):
            raise UnusableValueError("not a JSON object")
        if envelope.get("schema") != SCHEMA:
            raise UnusableValueError(f"schema {envelope.get('schema')!r}, not {SCHEMA!r}")
        body = envelope.get("body")
        if not isinstance(body, dict):
            raise UnusableValueError("no body")
        if self._hmac_key is not None:
            mac = envelope.get("mac")
            if not isinstance(mac, str) or not hmac.compare_digest(mac, self._mac(redis_key, body)):
                raise UnusableValueError(
                    "its HMAC does not verify (written without the key, or altered)"
                )
        if body.get("cache") != codec.name or body.get("key") != redis_key:
            raise UnusableValueError("written for another key")
        expires = body.get("expiresAt")
        if isinstance(expires, bool) or not isinstance(expires, int | float):
            raise UnusableValueError("expiresAt is not a number")
        if not math.isfinite(expires):
            raise UnusableValueError("expiresAt is not finite")
        left = expires - self._wall_clock()
        if left <= 0:
            return None
        value = body.get("value")
        if not isinstance(value, dict):
            raise UnusableValueError("value is not an object")
        return codec.decode(key, value), left

    def put(self, codec: Codec[K, V], key: K, value: V, ttl: float) -> None:
        """Share ``value`` for ``ttl`` seconds (best effort: a failure is counted, not raised)."""
        if ttl <= 0 or not self._usable("put"):
            return
        redis_key = self.redis_key(codec, key)
        body = {
            "cache": codec.name,
            "key": redis_key,
            "expiresAt": round(self._wall_clock() + ttl, 3),
            "value": codec.encode(value),
        }
        envelope: dict[str, Any] = {"schema": SCHEMA, "body": body}
        if self._hmac_key is not None:
            envelope["mac"] = self._mac(redis_key, body)
        data = _canonical(envelope)
        if len(data) >= MAX_VALUE_BYTES:
            return
        try:
            self._backend.set(redis_key, data, ttl)
        except BackendError as exc:
            self._failed("put", exc)
            return
        self._succeeded()

    def close(self) -> None:
        """Release the backend's connections."""
        self._backend.close()


class SharedTier(Generic[K, V]):
    """One cache's view of a ``SharedCache`` (its codec bound), as the checker uses it."""

    def __init__(self, shared: SharedCache, codec: Codec[K, V]) -> None:
        self._shared = shared
        self._codec = codec

    @property
    def name(self) -> str:
        """The cache's name (``signature``, ``manifest``)."""
        return self._codec.name

    def get(self, key: K) -> tuple[V, float] | None:
        """The shared value and the seconds it has left, or None."""
        return self._shared.get(self._codec, key)

    def put(self, key: K, value: V, ttl: float) -> None:
        """Share ``value`` for ``ttl`` seconds."""
        self._shared.put(self._codec, key, value, ttl)


def load_hmac_key(path: str, *, source: str = "GATE_REDIS_HMAC_KEY_FILE") -> bytes:
    """The HMAC key in ``path`` (surrounding whitespace dropped); ``InputError`` if unusable."""
    try:
        with open(path, "rb") as handle:
            key = handle.read(64 * 1024).strip()
    except OSError as exc:
        raise InputError(
            f"cannot read the HMAC key file {path}: {exc.strerror}", source=source
        ) from None
    if len(key) < MIN_HMAC_KEY_BYTES:
        raise InputError(
            f"the HMAC key in {path} is {len(key)} bytes; at least {MIN_HMAC_KEY_BYTES} are "
            "needed (e.g. openssl rand -hex 32)",
            source=source,
        )
    return key
