"""One settings object for the worker, from the environment and from flags.

Every variable is ``INTERMISSION_<FIELD>`` (``INTERMISSION_BOOTSTRAP_SERVERS``, ...);
``KAFKA_BOOTSTRAP_SERVERS`` and ``GEMINI_API_KEY`` / ``GOOGLE_API_KEY`` are read too, because
that is where such values usually already are. Flags override the environment. A missing or
invalid setting fails at start with a ``SettingsError`` naming the variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import pydantic

from ..errors import UsageError

_ALIASES: dict[str, tuple[str, ...]] = {
    "bootstrap_servers": ("KAFKA_BOOTSTRAP_SERVERS",),
    "gemini_api_key": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
}


class SettingsError(UsageError):
    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"setting {variable}: {problem}")
        self.variable = variable


class Settings(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    # Kafka
    bootstrap_servers: str | None = None
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: pydantic.SecretStr | None = None
    ssl_cafile: str | None = None
    group_id: str = "intermission-workers"
    topic_requests: str = "intermission.requests"
    topic_approvals: str = "intermission.approvals"
    topic_resumes: str = "intermission.resumes"
    topic_results: str = "intermission.results"
    topic_dead_letter: str = "intermission.dead-letter"
    max_record_bytes: int = pydantic.Field(default=1_048_576, gt=0)
    max_in_flight: int = pydantic.Field(default=64, gt=0)
    expiry_sweep_seconds: float = pydantic.Field(default=30.0, gt=0)
    # S3
    bucket: str | None = None
    prefix: str = "intermission/"
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    snapshot_key: pydantic.SecretStr | None = None  # HMAC key that seals snapshots
    # the model and the registry of tools and prompts
    model: str = "gemini-2.5-flash"
    gemini_api_key: pydantic.SecretStr | None = None
    gemini_base_url: str | None = None
    app: str = "intermission.service.demo_app:ai"  # module:attribute of an Intermission

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

    def kafka_security(self) -> dict[str, Any]:
        options: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.sasl_mechanism:
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else None
            )
        if self.security_protocol in ("SSL", "SASL_SSL"):
            import ssl

            options["ssl_context"] = ssl.create_default_context(cafile=self.ssl_cafile)
        return options
