"""One settings object for the worker, from the environment and from flags.

Every variable is ``INTERMISSION_<FIELD>`` (``INTERMISSION_BOOTSTRAP_SERVERS``, ...);
``KAFKA_BOOTSTRAP_SERVERS`` and ``GEMINI_API_KEY`` / ``GOOGLE_API_KEY`` are read too, because
that is where such values usually already are. Flags override the environment. A missing or
invalid setting fails at start with a ``SettingsError`` naming the variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import msgspec
import pydantic
from intermission_schemas import Topics

from ...errors import SettingsError

if TYPE_CHECKING:
    from intermission_producer import AnswerKey, KafkaSecurity

    from ..runs.keyring import KeyRing
    from ..runs.signatures import AnswerKeys
    from ..runs.tokens import ResumeTokens


_ALIASES: dict[str, tuple[str, ...]] = {
    "bootstrap_servers": ("KAFKA_BOOTSTRAP_SERVERS",),
    "gemini_api_key": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    # The variable's first name, kept so existing deployments keep their seal.
    "seal_key": ("INTERMISSION_SNAPSHOT_KEY",),
}


class Settings(pydantic.BaseModel):
    # defer_build: the schema is built when settings are first read, not when a command that
    # never reads them (demo, --help) imports this module.
    model_config = pydantic.ConfigDict(frozen=True, extra="forbid", defer_build=True)

    # Kafka
    bootstrap_servers: str | None = None
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: pydantic.SecretStr | None = None
    ssl_cafile: str | None = None
    group_id: str = "intermission-workers"
    # Topic names: the contract's defaults (intermission_schemas.Topics) behind topic_prefix,
    # each overridable on its own.
    topic_prefix: str = ""
    topic_requests: str | None = None
    topic_approvals: str | None = None
    topic_resumes: str | None = None
    topic_results: str | None = None
    topic_dead_letter: str | None = None
    # Where a request's replyTo may send results: comma-separated shell patterns
    # ("team-*.results,billing.results"). Unset: any legal topic name but the service's own.
    reply_topics: str | None = None
    max_record_bytes: int = pydantic.Field(default=1_048_576, gt=0)
    max_in_flight: int = pydantic.Field(default=64, gt=0)
    expiry_sweep_seconds: float = pydantic.Field(default=30.0, gt=0)
    # A claimed pause's lease: renewed every third of it while its worker works; another
    # worker takes the pause over only after it lapses.
    claim_lease_seconds: float = pydantic.Field(default=30.0, gt=0)
    # The run index (`runs list`, `replay --status`): three small writes per cycle (a pause's
    # marker, its delete, the end's marker), about a fifth of what a cycle costs in S3. Off, the
    # stored runs are whole and read by id; listing them needs it. Set it on every worker of a
    # bucket or on none: a worker without it leaves its runs out of the listing.
    run_index: bool = False
    # SIGTERM: how long records in flight may take to finish. Keep it below the Deployment's
    # terminationGracePeriodSeconds (30 s by default).
    shutdown_grace_seconds: float = pydantic.Field(default=25.0, ge=0)
    # Operating it: /healthz, /readyz and /metrics on this port of every worker process (0: no
    # endpoints), on all interfaces by default so that probes and scrapers from outside the pod
    # reach it; the store is probed this often while the worker is idle, so /readyz follows an
    # outage that no record meets.
    health_port: int = pydantic.Field(default=9464, ge=0, le=65535)
    health_host: str = "0.0.0.0"
    health_probe_seconds: float = pydantic.Field(default=5.0, gt=0)
    # /healthz fails (and Kubernetes restarts the worker) once records have waited this long
    # with none finishing: a worker stuck on a record is not alive in any useful sense. Keep it
    # above the longest a record may take (model calls included); 0: never.
    liveness_stall_seconds: float = pydantic.Field(default=300.0, ge=0)
    log_format: Literal["text", "json"] = "text"
    # Worker processes in this pod (``worker --processes``); one per core is the rule of thumb.
    processes: int = pydantic.Field(default=1, ge=1, le=64)
    # S3
    bucket: str | None = None
    prefix: str = "intermission/"
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    # The S3 client: obstore (Rust's object_store, async natively; measured 4x the throughput
    # at a fifth of the CPU per cycle, see the README) or boto3 (on a thread pool).
    s3_client: Literal["boto3", "obstore"] = "obstore"
    seal_key: pydantic.SecretStr | None = None  # HMAC secret that seals stored snapshots
    # A ring of seal keys, "k2=secret2,k1=secret1": the first seals, all open (by the key id in
    # each seal line); seal_key, when also set, opens objects sealed with no key id.
    seal_keys: pydantic.SecretStr | None = None
    # How new stored objects are written: as is, or zstd-compressed (objects of 512 bytes and
    # up). Every object names its codec, so workers read both whatever this says. Turn zstd on
    # only once every worker and tool reading the bucket runs a release that reads it.
    snapshot_compression: Literal["none", "zstd"] = "none"
    # HMAC secret for resume tokens (InterruptRaised carries one per pending ref; the inbox's
    # POST /api/answer/{token} redeems it). Unset: no tokens. Workers and inboxes share it.
    resume_token_secret: pydantic.SecretStr | None = None
    # A ring of token secrets, "t2=secret2,t1=secret1", as seal_keys: the first mints.
    resume_token_secrets: pydantic.SecretStr | None = None
    # Signed answers: "key_id=secret" pairs, one per approval system; with them, signed answers
    # are verified, and with require_signed_answers unsigned ones are rejected.
    answer_keys: pydantic.SecretStr | None = None
    require_signed_answers: bool = False
    # Ed25519 public keys per approver: "alice=<hex of the 32-byte public key>,bob=...".
    approver_keys: str | None = None
    # Whom each answer key may speak for: "ops:alice,bob,@finance;slack:@support". A key with no
    # binding speaks for anyone without a key of her own.
    answer_key_bindings: str | None = None
    # The key the inbox and `intermission approvals` sign their answers with: "key_id=secret".
    signing_key: pydantic.SecretStr | None = None
    # The inbox: who everyone is when no identity provider or proxy is configured (dev), and the
    # header an authenticating proxy sets with the approver's identity.
    inbox_identity: str | None = None
    inbox_identity_header: str | None = None
    # The inbox's web defences (inbox/web/). Host names answered, comma-separated (unset:
    # 127.0.0.1, localhost and the bound host); origins besides its own that may write; the CSRF
    # token's signing secret (unset: one per process; inboxes behind one name must share it).
    inbox_allowed_hosts: str | None = None
    inbox_allowed_origins: str | None = None
    inbox_csrf_secret: pydantic.SecretStr | None = None
    inbox_csrf_cookie_secure: bool = False
    inbox_max_body_bytes: int = pydantic.Field(default=1_048_576, gt=0)
    inbox_body_timeout_seconds: float = pydantic.Field(default=30.0, gt=0)
    # Event streams: per process, per client address, longest life, longest wait on a write.
    inbox_max_streams: int = pydantic.Field(default=256, ge=0)
    inbox_max_streams_per_client: int = pydantic.Field(default=8, ge=0)
    inbox_stream_max_seconds: float = pydantic.Field(default=900.0, gt=0)
    inbox_stream_write_timeout_seconds: float = pydantic.Field(default=10.0, gt=0)
    # uvicorn: connections at once, idle keep-alive, time to send a request's headers.
    inbox_max_connections: int = pydantic.Field(default=1024, gt=0)
    inbox_keep_alive_seconds: int = pydantic.Field(default=5, gt=0)
    inbox_header_timeout_seconds: float = pydantic.Field(default=10.0, gt=0)
    # Who may set that header: addresses and CIDRs of the proxies (the TCP peer, as with
    # uvicorn's --forwarded-allow-ips); from any other peer the header is refused (401).
    inbox_trusted_proxies: str | None = None
    # OIDC: bearer JWTs (and the login, given a client id) verified against the issuer's JWKS.
    # See intermission.inbox.authn for how these combine and what is checked at start.
    inbox_oidc_issuer: str | None = None
    inbox_oidc_client_id: str | None = None
    inbox_oidc_client_secret: pydantic.SecretStr | None = None
    inbox_oidc_audience: str | None = None  # of bearer tokens; the client id by default
    inbox_oidc_jwks_url: str | None = None  # instead of the discovery document's jwks_uri
    inbox_oidc_algorithms: str = "RS256,PS256,ES256,EdDSA"
    inbox_oidc_identity_claim: str = "email"  # falls back to sub
    inbox_oidc_groups_claim: str = "groups"
    inbox_oidc_scopes: str = "openid email profile"
    inbox_oidc_token_headers: str | None = None  # e.g. "Cf-Access-Jwt-Assertion"
    inbox_public_url: str | None = None  # the inbox's external URL, for the login's redirect
    inbox_session_secret: pydantic.SecretStr | None = None  # signs session cookies
    inbox_session_seconds: float = pydantic.Field(default=28_800, gt=0)
    # Webhooks (`intermission webhooks`, intermission.webhooks): the subscriptions file (YAML or
    # JSON), the dispatcher's consumer group (one group per subscription under it), the topic
    # for undeliverable webhooks, and the retry policy. Answer URLs are built on inbox_public_url.
    webhooks_file: str | None = None
    webhooks_group_id: str = "intermission-webhooks"
    topic_webhook_dead_letter: str | None = None  # default: <topic_prefix>intermission.webhooks.dead-letter
    webhooks_max_age_seconds: float = pydantic.Field(default=86_400.0, gt=0)
    webhooks_retry_base_seconds: float = pydantic.Field(default=1.0, gt=0)
    webhooks_retry_cap_seconds: float = pydantic.Field(default=600.0, gt=0)
    webhooks_timeout_seconds: float = pydantic.Field(default=10.0, gt=0)
    webhooks_max_pending: int = pydantic.Field(default=1000, gt=0)  # per subscription
    # the registry of tools and prompts, and the model to use instead of the registry's own
    model: str | None = None
    gemini_api_key: pydantic.SecretStr | None = None
    gemini_base_url: str | None = None
    app: str = "intermission.service.demo.app:ai"  # module:attribute of an Intermission

    @pydantic.field_validator("prefix")
    @classmethod
    def _prefix_ends_with_slash(cls, value: str) -> str:
        return value if not value or value.endswith("/") else value + "/"

    @classmethod
    def load(cls, environ: Mapping[str, str], **flags: Any) -> Settings:
        """Settings from ``environ`` with ``flags`` (None means "not given") on top."""
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            for variable in (f"INTERMISSION_{name.upper()}", *_ALIASES.get(name, ())):
                if environ.get(variable):
                    values[name] = environ[variable]
                    break
        values.update({k: v for k, v in flags.items() if v is not None})
        try:
            return cls(**values)
        except pydantic.ValidationError as exc:
            error = exc.errors()[0]
            name = str(error["loc"][0]) if error["loc"] else "?"
            raise SettingsError(f"INTERMISSION_{name.upper()}", error["msg"]) from None

    def require(self, *names: str) -> None:
        """Fail unless each named setting has a value (the worker needs Kafka and a bucket)."""
        for name in names:
            if getattr(self, name) in (None, ""):
                raise SettingsError(f"INTERMISSION_{name.upper()}", "is required and not set")

    @property
    def reply_topic_patterns(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in (self.reply_topics or "").split(",") if p.strip())

    @property
    def topics(self) -> Topics:
        named = Topics.with_prefix(self.topic_prefix)
        overrides = {
            role: value
            for role in Topics.__struct_fields__
            if (value := getattr(self, f"topic_{role}")) is not None
        }
        return msgspec.structs.replace(named, **overrides)

    @property
    def webhook_dead_letter_topic(self) -> str:
        return self.topic_webhook_dead_letter or f"{self.topic_prefix}intermission.webhooks.dead-letter"

    def seal_secret(self) -> KeyRing | None:
        return _ring("INTERMISSION_SEAL_KEYS", self.seal_keys, self.seal_key)

    def answer_key_set(self) -> AnswerKeys | None:
        from ..runs.signatures import AnswerKeys, parse_answer_keys, parse_key_bindings

        if self.answer_keys is None and self.approver_keys is None:
            if self.require_signed_answers:
                raise SettingsError("INTERMISSION_ANSWER_KEYS", "is required to require signed answers")
            return None
        try:
            keys = parse_answer_keys(self.answer_keys.get_secret_value()) if self.answer_keys else {}
        except ValueError as exc:
            raise SettingsError("INTERMISSION_ANSWER_KEYS", str(exc)) from None
        try:
            approvers = {
                name: bytes.fromhex(value.decode())
                for name, value in parse_answer_keys(self.approver_keys or "").items()
            }
        except ValueError as exc:
            raise SettingsError("INTERMISSION_APPROVER_KEYS", f"name=<hex public key> pairs: {exc}") from None
        try:
            bindings = parse_key_bindings(self.answer_key_bindings or "")
        except ValueError as exc:
            raise SettingsError("INTERMISSION_ANSWER_KEY_BINDINGS", str(exc)) from None
        if unknown := sorted(set(bindings) - set(keys)):
            raise SettingsError("INTERMISSION_ANSWER_KEY_BINDINGS", f"binds unknown answer key(s) {unknown}")
        return AnswerKeys(
            keys, required=self.require_signed_answers, approver_keys=approvers, bindings=bindings
        )

    def answer_signing_key(self) -> AnswerKey | None:
        if self.signing_key is None:
            return None
        from intermission_producer import AnswerKey

        from ..runs.signatures import parse_answer_keys

        try:
            [(key_id, secret)] = parse_answer_keys(self.signing_key.get_secret_value()).items()
        except ValueError:
            raise SettingsError("INTERMISSION_SIGNING_KEY", "must be one key_id=secret pair") from None
        return AnswerKey(key_id, secret)

    def resume_tokens(self) -> ResumeTokens | None:
        ring = _ring("INTERMISSION_RESUME_TOKEN_SECRETS", self.resume_token_secrets, self.resume_token_secret)
        if ring is None:
            return None
        from ..runs.tokens import ResumeTokens

        return ResumeTokens(ring)

    def kafka_security(self) -> KafkaSecurity:
        # Imported here: commands that never touch Kafka should not load its client.
        from intermission_producer import KafkaSecurity

        return KafkaSecurity(
            protocol=self.security_protocol,
            sasl_mechanism=self.sasl_mechanism,
            sasl_username=self.sasl_username,
            sasl_password=self.sasl_password.get_secret_value() if self.sasl_password else None,
            ssl_cafile=self.ssl_cafile,
        )


def _ring(
    variable: str, named: pydantic.SecretStr | None, legacy: pydantic.SecretStr | None
) -> KeyRing | None:
    """A ring of the ``named`` keys (current first) and the ``legacy`` one (the single-key
    setting), which verifies what was written with no key id: last, unless ``named`` places it
    (``legacy=old,k2=new`` keeps it current), and current when no named key is given."""
    from ..runs.keyring import KeyRing, parse_key_ring

    if named is None and legacy is None:
        return None
    try:
        keys = parse_key_ring(named.get_secret_value()) if named is not None else {}
        return KeyRing(keys, legacy=legacy.get_secret_value().encode() if legacy is not None else None)
    except ValueError as exc:
        raise SettingsError(variable, str(exc)) from None
