"""The webhook's configuration: one frozen ``Settings``, built once from flags or environment.

Nothing else in the webhook reads the environment: ``create_app(settings)``
and ``serve(settings)`` receive everything from here, so a test can build
several apps side by side and a container is configured by ``GATE_*``
variables alone (``gunicorn 'webhook.app:create_app()'``).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gate.errors import InputError
from gate.oci.allowlist import HostPolicy
from gate.oci.client import RegistryOptions
from webhook.alerts import check_alert_url
from webhook.shared_cache import DEFAULT_TIMEOUT as DEFAULT_REDIS_TIMEOUT
from webhook.shared_cache import MIN_HMAC_KEY_BYTES, check_redis_url, load_hmac_key

#: Kubernetes' default ``timeoutSeconds`` is 10 s; answer well before it.
DEFAULT_DEADLINE = 8.0
#: Kubernetes allows at most 30 s for a webhook call.
MAX_DEADLINE = 30.0
DEFAULT_MAX_BODY_BYTES = 3 * 1024 * 1024
DEFAULT_STATE_DIR = Path(".gate-state")

#: Variables the registry client may need (auth file lookup, proxies); only
#: these are passed on, captured once when the settings are built.
_REGISTRY_ENVIRONMENT = (
    "HOME",
    "REGISTRY_AUTH_FILE",
    "DOCKER_CONFIG",
    "XDG_RUNTIME_DIR",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
)


def _spool_dir(environ: Mapping[str, str], state_dir: Path, db_url: str) -> Path | None:
    """``GATE_SPOOL_DIR`` (default ``<state dir>/spool``), one subdirectory per database.

    Spooled verdicts are only ever written to the database they were meant
    for: a changed ``GATE_DB_URL`` starts a spool of its own. ``off`` keeps
    verdicts in memory only.
    """
    text = (environ.get("GATE_SPOOL_DIR") or "").strip()
    if text.lower() == "off":
        return None
    base = Path(text) if text else state_dir / "spool"
    return base / hashlib.sha256(db_url.encode("utf-8")).hexdigest()[:16]


def _allowed_registries(environ: Mapping[str, str]) -> tuple[str, ...] | None:
    text = environ.get("GATE_ALLOWED_REGISTRIES")
    if text is None or not text.strip():
        return None
    entries = tuple(e.strip() for e in text.split(",") if e.strip())
    try:
        HostPolicy(entries)  # a bad entry is an error naming the variable now, not at first use
    except InputError as exc:
        raise InputError(exc.reason, source="GATE_ALLOWED_REGISTRIES") from None
    return entries


def _finite_positive(value: float) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


@dataclass(frozen=True)
class Settings:
    """Everything the webhook needs, validated when built.

    ``admission_deadline`` bounds a whole ``/validate`` answer; registry
    requests get timeouts derived from it (``registry_options``), so a slow
    registry turns into a deny in time rather than a webhook timeout.
    ``cache_ttl`` is how long a verified (digest, authority, policy) result,
    a fetched manifest and Notary trust data are reused (0: not at all, every
    admission asks the registry and the Notary server afresh);
    ``tag_cache_ttl`` how long a tag's digest (from a HEAD) is reused, so a
    moved tag is seen at most that late (0: a HEAD for every admission);
    ``policy_reload_interval`` how often the policy file is stat'ed (0
    disables the watcher). ``redis_url`` (``GATE_REDIS_URL``) shares the
    verification results and manifests with the other replicas through Redis
    (see ``webhook.shared_cache``), each call bounded by ``redis_timeout``;
    ``redis_hmac_key`` (read from ``GATE_REDIS_HMAC_KEY_FILE``) signs what is
    shared. Neither is ever shown (``repr``): the URL may hold a password.
    """

    policy: Path
    db_url: str = f"sqlite:///{DEFAULT_STATE_DIR / 'gate.db'}"
    tokens_file: Path | None = None
    admission_deadline: float = DEFAULT_DEADLINE
    registry_authfile: Path | None = None
    registry_cert_dir: Path | None = None
    insecure_registries: frozenset[str] = frozenset()
    #: ``GATE_ALLOWED_REGISTRIES``: the only registries admission may contact (None: any,
    #: but never a link-local or metadata address).
    allowed_registries: tuple[str, ...] | None = None
    registry_timeout: float = 5.0
    cache_ttl: float = 300.0
    tag_cache_ttl: float = 1.0
    cache_size: int = 4096
    policy_reload_interval: float = 2.0
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    check_threads: int = 32
    store_queue_size: int = 10_000
    #: Where verdicts wait on disk while the store is unavailable (None: in memory only).
    spool_dir: Path | None = None
    spool_max_bytes: int = 256 * 1024 * 1024
    #: Environment for the registry client (auth file lookup, proxies); None: the process's.
    registry_environ: Mapping[str, str] | None = field(default=None, compare=False)
    #: ``GATE_REDIS_URL``: the cache shared by replicas (None: each process caches alone).
    redis_url: str | None = field(default=None, repr=False)
    #: ``GATE_REDIS_TIMEOUT``: seconds for a connect or one read/write to Redis.
    redis_timeout: float = DEFAULT_REDIS_TIMEOUT
    #: The key that signs shared values (from ``GATE_REDIS_HMAC_KEY_FILE``).
    redis_hmac_key: bytes | None = field(default=None, repr=False)
    #: ``GATE_RECHECK_INTERVAL``: seconds between scheduled re-checks (0 = off).
    recheck_interval: float = 3600.0
    #: ``GATE_RECHECK_WINDOW``: how far back an admission makes an image "running".
    recheck_window: float = 86400.0
    #: ``GATE_ALERT_WEBHOOK_URL`` / ``GATE_ALERT_SLACK_URL``: where re-check alerts go.
    alert_webhook_url: str | None = field(default=None, repr=False)
    alert_slack_url: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not _finite_positive(self.admission_deadline) or self.admission_deadline > MAX_DEADLINE:
            raise InputError(
                f"admission deadline must be a number of seconds above 0 and at most "
                f"{MAX_DEADLINE:g} (Kubernetes' limit), not {self.admission_deadline!r}",
                source="GATE_ADMISSION_DEADLINE",
            )
        if not _finite_positive(self.registry_timeout):
            raise InputError(
                "registry timeout must be a positive number of seconds",
                source="GATE_REGISTRY_TIMEOUT",
            )
        if not (_finite_positive(self.cache_ttl) or self.cache_ttl == 0):
            raise InputError(
                "cache TTL must be 0 (no caching) or a positive number of seconds",
                source="GATE_CACHE_TTL",
            )
        if not (_finite_positive(self.tag_cache_ttl) or self.tag_cache_ttl == 0):
            raise InputError(
                "tag cache TTL must be 0 (resolve every time) or a positive number of seconds",
                source="GATE_TAG_CACHE_TTL",
            )
        if not (isinstance(self.policy_reload_interval, int | float)) or not (
            math.isfinite(self.policy_reload_interval) and self.policy_reload_interval >= 0
        ):
            raise InputError(
                "policy reload interval must be 0 (off) or a positive number of seconds",
                source="GATE_POLICY_RELOAD_INTERVAL",
            )
        for name, value in (
            ("GATE_MAX_BODY_BYTES", self.max_body_bytes),
            ("GATE_CACHE_SIZE", self.cache_size),
            ("GATE_CHECK_THREADS", self.check_threads),
            ("GATE_STORE_QUEUE_SIZE", self.store_queue_size),
            ("GATE_SPOOL_MAX_BYTES", self.spool_max_bytes),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise InputError(f"must be a positive whole number, not {value!r}", source=name)
        if self.redis_url is not None:
            check_redis_url(self.redis_url, source="GATE_REDIS_URL")
        if not _finite_positive(self.redis_timeout) or self.redis_timeout > 1:
            raise InputError(
                "must be a number of seconds above 0 and at most 1 (a shared cache that "
                f"answers slower than that is worse than none), not {self.redis_timeout!r}",
                source="GATE_REDIS_TIMEOUT",
            )
        if not (_finite_positive(self.recheck_interval) or self.recheck_interval == 0):
            raise InputError(
                "must be 0 (off) or a positive number of seconds", source="GATE_RECHECK_INTERVAL"
            )
        if not _finite_positive(self.recheck_window):
            raise InputError("must be a positive number of seconds", source="GATE_RECHECK_WINDOW")
        for source, url in (
            ("GATE_ALERT_WEBHOOK_URL", self.alert_webhook_url),
            ("GATE_ALERT_SLACK_URL", self.alert_slack_url),
        ):
            if url is not None:
                check_alert_url(url, source)
        if self.redis_hmac_key is not None:
            if self.redis_url is None:
                raise InputError("is set without GATE_REDIS_URL", source="GATE_REDIS_HMAC_KEY_FILE")
            if len(self.redis_hmac_key) < MIN_HMAC_KEY_BYTES:
                raise InputError(
                    f"the key must be at least {MIN_HMAC_KEY_BYTES} bytes",
                    source="GATE_REDIS_HMAC_KEY_FILE",
                )

    def registry_options(self) -> RegistryOptions:
        """Registry access with timeouts that fit inside the admission deadline.

        A single request may take at most three quarters of the deadline and
        wait at most half of it for a connect or a read, so its failure is
        reported (and the image denied with the registry's reason) before the
        deadline cuts the check off.
        """
        return RegistryOptions(
            authfile=self.registry_authfile,
            cert_dir=self.registry_cert_dir,
            insecure_registries=self.insecure_registries,
            timeout=min(self.registry_timeout, self.admission_deadline / 2),
            deadline=min(self.registry_timeout * 3, self.admission_deadline * 0.75),
            allowed_registries=self.allowed_registries,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Settings from ``GATE_*`` variables; ``InputError`` naming the variable when one is bad.

        ``GATE_POLICY`` is required. ``GATE_DB_URL`` defaults to a SQLite file
        in ``GATE_STATE_DIR`` (default ``./.gate-state``).
        """
        policy = environ.get("GATE_POLICY")
        if not policy:
            raise InputError("is not set: the webhook needs a policy file", source="GATE_POLICY")
        state_dir = Path(environ.get("GATE_STATE_DIR") or DEFAULT_STATE_DIR)
        db_url = environ.get("GATE_DB_URL") or f"sqlite:///{state_dir / 'gate.db'}"

        def number(name: str, default: float) -> float:
            text = environ.get(name)
            if text is None or not text.strip():
                return default
            try:
                return float(text)
            except ValueError:
                raise InputError(f"not a number: {text!r}", source=name) from None

        def whole(name: str, default: int) -> int:
            text = environ.get(name)
            if text is None or not text.strip():
                return default
            try:
                return int(text)
            except ValueError:
                raise InputError(f"not a whole number: {text!r}", source=name) from None

        def path(name: str) -> Path | None:
            text = environ.get(name)
            return Path(text) if text else None

        redis_url = (environ.get("GATE_REDIS_URL") or "").strip() or None
        key_file = (environ.get("GATE_REDIS_HMAC_KEY_FILE") or "").strip()
        insecure = frozenset(
            h.strip()
            for h in (environ.get("GATE_INSECURE_REGISTRIES") or "").split(",")
            if h.strip()
        )
        return cls(
            policy=Path(policy),
            db_url=db_url,
            tokens_file=path("GATE_TOKENS_FILE"),
            admission_deadline=number("GATE_ADMISSION_DEADLINE", DEFAULT_DEADLINE),
            registry_authfile=path("GATE_REGISTRY_AUTHFILE"),
            registry_cert_dir=path("GATE_REGISTRY_CERT_DIR"),
            insecure_registries=insecure,
            allowed_registries=_allowed_registries(environ),
            registry_timeout=number("GATE_REGISTRY_TIMEOUT", 5.0),
            cache_ttl=number("GATE_CACHE_TTL", 300.0),
            tag_cache_ttl=number("GATE_TAG_CACHE_TTL", 1.0),
            cache_size=whole("GATE_CACHE_SIZE", 4096),
            policy_reload_interval=number("GATE_POLICY_RELOAD_INTERVAL", 2.0),
            max_body_bytes=whole("GATE_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
            check_threads=whole("GATE_CHECK_THREADS", 32),
            store_queue_size=whole("GATE_STORE_QUEUE_SIZE", 10_000),
            spool_dir=_spool_dir(environ, state_dir, db_url),
            spool_max_bytes=whole("GATE_SPOOL_MAX_BYTES", 256 * 1024 * 1024),
            registry_environ={k: environ[k] for k in _REGISTRY_ENVIRONMENT if k in environ},
            redis_url=redis_url,
            redis_timeout=number("GATE_REDIS_TIMEOUT", DEFAULT_REDIS_TIMEOUT),
            redis_hmac_key=load_hmac_key(key_file) if key_file else None,
            recheck_interval=number("GATE_RECHECK_INTERVAL", 3600.0),
            recheck_window=number("GATE_RECHECK_WINDOW", 86400.0),
            alert_webhook_url=(environ.get("GATE_ALERT_WEBHOOK_URL") or "").strip() or None,
            alert_slack_url=(environ.get("GATE_ALERT_SLACK_URL") or "").strip() or None,
        )
