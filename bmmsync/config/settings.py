"""bmmsync's configuration: the Pydantic contract, where the file is found, and loading it.

`load_config` reports every problem at once, each as `file:line: key.path: what was expected
(got ...)`, and never a traceback: the CLI prints `ConfigError.problems` and exits 2. Secrets
(`token`, the password in `store.url`) become `Secret` values, masked everywhere, and are
registered with the log masking filter as they are resolved.
"""

from __future__ import annotations

import os
import re
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bmmsync import domain
from bmmsync.config.model_file import ModelFile, load_model, validate_model
from bmmsync.config.secrets import (
    Secret,
    SecretUrl,
    SubstitutionError,
    register_secret,
    substitute,
    url_password,
)
from bmmsync.config.web import WebConfig
from bmmsync.config.yamlsrc import (
    KeyPath,
    YamlDoc,
    describe_value,
    load_yaml,
    sort_problems,
    validation_problems,
)
from bmmsync.errors import ConfigError
from bmmsync.outcomes.effort import SizeRule
from bmmsync.trace.rules import MappingRules

CONFIG_ENV = "BMMSYNC_CONFIG"
DEFAULT_CONFIG_NAME = "bmmsync.yaml"
# Keys whose input is never echoed back in a problem: it may be a secret.
_MASKED_KEYS = frozenset({"token", "url", "github_secret", "jira_secret"})

# ---------------------------------------------------------------- value types

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> Any:
    """`"15m"`, `"90s"`, `"1h30m"`, `"14d"` (or a number of seconds) -> `timedelta`."""
    if isinstance(value, timedelta) or value is None:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    text = value.strip().replace(" ", "") if isinstance(value, str) else ""
    if not text or _DURATION_PART.sub("", text):
        raise PydanticCustomError(
            "duration",
            "expected a duration: a number and a unit ms, s, m, h, d or w, e.g. 90s, 15m, 1h30m"
            " (got {got})",
            {"got": describe_value(value)},
        )
    seconds = sum(float(n) * _DURATION_UNITS[unit] for n, unit in _DURATION_PART.findall(text))
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """Inverse of `parse_duration` for whole seconds: `timedelta(minutes=90)` -> `"1h30m"`."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    out = ""
    for unit in ("d", "h", "m", "s"):
        size = int(_DURATION_UNITS[unit])
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    return out


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^(\d+(\.\d+)?(ms|s|m|h|d|w))+$",
            "examples": ["90s", "15m", "24h", "14d"],
        }
    ),
]


def _parse_time(value: Any) -> Any:
    if isinstance(value, str) and not re.fullmatch(r"\d{1,2}:\d{2}", value.strip()):
        raise PydanticCustomError(
            "time", "expected a time of day as HH:MM, e.g. 00:00 (got {got})", {"got": repr(value)}
        )
    return value


TimeOfDay = Annotated[
    time,
    BeforeValidator(_parse_time),
    PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^\d{1,2}:\d{2}$", "examples": ["00:00"]}),
]


def _http_url(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if not re.fullmatch(r"https?://[^/\s]+(/\S*)?", value):
        raise PydanticCustomError(
            "url", "expected an http:// or https:// URL (got {got})", {"got": repr(value)}
        )
    return value.rstrip("/")


HttpUrl = Annotated[
    str,
    BeforeValidator(_http_url),
    WithJsonSchema({"type": "string", "description": "An http:// or https:// URL."}),
]


def _no_spaces(value: Any) -> Any:
    if isinstance(value, str) and (not value or any(ch.isspace() for ch in value)):
        raise PydanticCustomError(
            "label", "expected a label without spaces (got {got})", {"got": repr(value)}
        )
    return value


Label = Annotated[str, BeforeValidator(_no_spaces)]


def _source_name(value: Any) -> Any:
    if isinstance(value, str) and not re.fullmatch(r"[a-z0-9_-]+", value):
        raise PydanticCustomError(
            "source_name",
            "expected a name of lowercase letters, digits, _ and - (got {got})",
            {"got": repr(value)},
        )
    return value


SourceName = Annotated[
    str,
    BeforeValidator(_source_name),
    WithJsonSchema({"type": "string", "pattern": "^[a-z0-9_-]+$"}),
]


def _resolve_path(value: Path | None, info: ValidationInfo) -> Path | None:
    """Relative paths in the config are relative to the config file's directory."""
    if value is None:
        return None
    base = (info.context or {}).get("base_dir")
    path = value.expanduser()
    return path if path.is_absolute() or base is None else Path(base) / path


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- sections


class StoreConfig(_Section):
    url: SecretUrl = Field(
        default=SecretUrl("sqlite:///bmmsync.db"),
        description="SQLAlchemy database URL: sqlite:///PATH (a relative PATH is relative to the"
        " current directory) or postgresql+psycopg://USER:PASSWORD@HOST/DB. The password is"
        " masked everywhere.",
    )

    @field_validator("url")
    @classmethod
    def _known_dialect(cls, value: SecretUrl) -> SecretUrl:
        url = value.get_secret_value()
        if not re.match(r"(sqlite|postgresql)(\+\w+)?://", url):
            raise PydanticCustomError(
                "url",
                "expected a sqlite:/// or postgresql+psycopg:// URL (got {got})",
                {"got": repr(str(value))},
            )
        return value


class _SourceBase(_Section):
    name: SourceName = Field(
        description="Unique name of the source ([a-z0-9_-]+); used in the store and the CLI.",
    )
    max_writes_per_run: int | None = Field(
        default=None,
        ge=0,
        description="Cap on tracker writes per run for this source (default: flagging's cap).",
    )


class GitHubSource(_SourceBase):
    """GitHub or GitHub Enterprise Server; auth by token or as a GitHub App installation."""

    kind: Literal["github"]
    base_url: HttpUrl = Field(
        default="https://api.github.com",
        description="API root; GHES: https://HOST/api/v3. Plain http is allowed for local servers.",
    )
    token: Secret | None = Field(default=None, description="Personal access or bot token.")
    app_id: int | None = Field(
        default=None, description="GitHub App id (App auth instead of a token)."
    )
    private_key_file: Path | None = Field(
        default=None, description="GitHub App private key (PEM), relative to the config file."
    )
    installation_id: int | None = Field(default=None, description="GitHub App installation id.")
    repos: list[Annotated[str, Field(pattern=r"^[\w.-]+/[\w.-]+$")]] = Field(
        default=[], description="Repositories as owner/name."
    )
    orgs: list[Annotated[str, Field(pattern=r"^[\w.-]+$")]] = Field(
        default=[], description="Organisations (or users) whose repositories are all polled."
    )

    _resolve = field_validator("private_key_file")(_resolve_path)

    @model_validator(mode="after")
    def _scope_and_auth(self) -> GitHubSource:
        if not self.repos and not self.orgs:
            raise PydanticCustomError("source", "expected `repos` and/or `orgs`")
        app = {
            "app_id": self.app_id,
            "private_key_file": self.private_key_file,
            "installation_id": self.installation_id,
        }
        given = [k for k, v in app.items() if v is not None]
        if self.token is not None and given:
            raise PydanticCustomError(
                "source", "expected either `token` or GitHub App auth, not both"
            )
        if self.token is None and len(given) < len(app):
            missing = ", ".join(f"`{k}`" for k in app if k not in given)
            raise PydanticCustomError(
                "source",
                "expected `token`, or GitHub App auth (missing {missing})",
                {"missing": missing},
            )
        if self.private_key_file is not None and not self.private_key_file.is_file():
            raise PydanticCustomError(
                "source",
                "private_key_file {path} does not exist",
                {"path": str(self.private_key_file)},
            )
        return self


class JiraSource(_SourceBase):
    """Jira Cloud (email + API token) or Server/Data Center (personal access token)."""

    kind: Literal["jira"]
    url: HttpUrl = Field(description="Site URL, e.g. https://acme.atlassian.net.")
    deployment: Literal["cloud", "server"] | None = Field(
        default=None,
        description="cloud or server (Server/Data Center); empty: detected on first use.",
    )
    email: str | None = Field(default=None, description="Account email for Cloud basic auth.")
    token: Secret = Field(description="Cloud: API token (with email). Server: a PAT.")
    jql: str = Field(min_length=1, description="Which issues to poll, e.g. project = PLAT.")
    capability_field: str | None = Field(
        default=None, description="Custom field holding the capability (overrides mapping's)."
    )
    story_points_field: str = Field(
        default="Story Points", description="Story points field name or id."
    )
    epic_link_field: str = Field(
        default="Epic Link", description="Server/Data Center only: the epic link field name or id."
    )

    @model_validator(mode="after")
    def _cloud_needs_email(self) -> JiraSource:
        if self.deployment == "cloud" and not self.email:
            raise PydanticCustomError(
                "source", "expected `email`: Jira Cloud authenticates with email + API token"
            )
        return self


Source = Annotated[GitHubSource | JiraSource, Field(discriminator="kind")]


def _pattern_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class MappingConfig(_Section):
    """How a ticket names its capability, and which tickets are out of scope."""

    capability_labels: Annotated[list[str], BeforeValidator(_pattern_list)] = Field(
        default=["cap:{id}"],
        min_length=1,
        description="Label patterns; {id} is a capability id or alias.",
    )
    capability_field: str | None = Field(
        default=None,
        description="A tracker field holding the capability (Jira custom field name or id).",
    )
    inherit_from_parent: bool = Field(
        default=True,
        description="A ticket without a link inherits its parent's or epic's capability.",
    )
    exempt_labels: list[str] = Field(
        default=["no-trace"], description="Tickets with these are skipped."
    )
    ignore_types: list[str] = Field(default=[], description="Ticket types not checked, e.g. [Bug].")
    ignore_closed: bool = Field(default=True, description="Closed tickets are not checked.")
    allow_multiple: bool = Field(
        default=False, description="A ticket may link to several capabilities (else a finding)."
    )
    review_overdue_severity: Literal["warning", "error"] = Field(
        default="warning", description="Severity of a motivator whose review_by date has passed."
    )

    def to_rules(self) -> MappingRules:
        """The trace engine's plain-data view of this block."""
        return MappingRules(
            capability_labels=tuple(self.capability_labels),
            capability_field=self.capability_field,
            inherit_from_parent=self.inherit_from_parent,
            exempt_labels=tuple(self.exempt_labels),
            ignore_types=tuple(self.ignore_types),
            ignore_closed=self.ignore_closed,
            allow_multiple=self.allow_multiple,
            review_overdue_severity=domain.Severity(self.review_overdue_severity),
        )

    @field_validator("capability_labels")
    @classmethod
    def _one_id_placeholder(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            if pattern.count("{id}") != 1:
                raise PydanticCustomError(
                    "pattern",
                    "expected each pattern to contain {placeholder} once (got {got})",
                    {"placeholder": "{id}", "got": repr(pattern)},
                )
        return patterns


class Escalation(_Section):
    label: Label | None = Field(default=None, description="Label added when escalating.")
    state: str | None = Field(
        default=None, description="State (or transition) to move the ticket to."
    )
    close: bool = Field(default=False, description="Close the ticket when escalating.")


class Link(_Section):
    title: str = Field(description="Text of the link.")
    url: HttpUrl = Field(description="http(s) URL.")


class FlaggingConfig(_Section):
    """How broken tickets are flagged: one label, one helpful comment, a write budget."""

    label: Label = Field(
        default="trace-broken", description="Label put on a ticket with a broken trace."
    )
    comment: bool = Field(default=True, description="Leave one comment explaining what is wrong.")
    max_writes_per_run: int = Field(default=50, ge=0, description="Cap on tracker writes per run.")
    write_interval: float = Field(
        default=1.0, ge=0, description="Seconds between two tracker writes."
    )
    escalate_after: Duration | None = Field(
        default=None, description="Escalate a ticket flagged for this long (e.g. 14d)."
    )
    escalation: Escalation | None = Field(default=None, description="What escalating does.")
    template: str | None = Field(
        default=None,
        description="Comment template override: a Jinja file (relative to the config file)"
        " or inline Jinja text.",
    )
    links: list[Link] = Field(default=[], description="Links shown in the comment (title, url).")
    contacts: list[str] = Field(default=[], description="Who to ask, shown in the comment.")

    @field_validator("template")
    @classmethod
    def _template_file_exists(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or _is_inline_template(value):
            return value
        path = _resolve_path(Path(value), info)
        if path is None or not path.is_file():
            raise PydanticCustomError(
                "template", "template file {path} does not exist", {"path": str(path)}
            )
        return str(path)

    @model_validator(mode="after")
    def _escalation_pair(self) -> FlaggingConfig:
        if (self.escalate_after is None) != (self.escalation is None):
            raise PydanticCustomError(
                "escalation", "expected `escalate_after` and `escalation` together"
            )
        return self

    def template_text(self) -> str | None:
        """The Jinja text of the override (read from its file if it is a path), or None."""
        if self.template is None or _is_inline_template(self.template):
            return self.template
        return Path(self.template).read_text(encoding="utf-8")


def _is_inline_template(value: str) -> bool:
    return "\n" in value or "{{" in value or "{%" in value


class ScheduleConfig(_Section):
    poll_every: Duration = Field(
        default=timedelta(minutes=15), description="Incremental sync interval."
    )
    jitter: Duration = Field(
        default=timedelta(seconds=30), description="Random delay added to a poll."
    )
    full_sync_every: Duration = Field(
        default=timedelta(hours=24), description="Full re-read interval (catches deletions)."
    )
    full_check_every: Duration = Field(
        default=timedelta(hours=24),
        description=(
            "Full check interval: judge and plan every stored ticket (refreshes per-project "
            "suggestions and the dashboard's figures). Runs in between judge only what changed."
        ),
    )
    snapshot_at: TimeOfDay = Field(
        default=time(0, 0),
        description="Daily metric snapshot, HH:MM in the scheduler's local time.",
    )


class SyncConfig(_Section):
    overlap: Duration = Field(
        default=timedelta(minutes=5), description="Re-read window before the cursor (clock skew)."
    )
    page_size: int = Field(default=100, ge=1, le=1000, description="Items per tracker API page.")


class OutcomesConfig(_Section):
    size_label: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "Label prefix giving a ticket's size when it has no story points, e.g. size: "
            "(so size:3 is 3). Effort by goal counts sizes as their own unit."
        ),
    )

    def size_rule(self) -> SizeRule:
        return SizeRule(self.size_label)


class LoggingConfig(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO",
        description="Lowest level logged (case-insensitive); unset: INFO for `run`, WARNING "
        "for the other commands. `--debug` wins.",
    )
    format: Literal["text", "json"] = Field(
        default="text", description="text (key=value) or json. `--log-format` wins."
    )

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class WebhooksConfig(_Section):
    """Deliveries from trackers; an endpoint whose secret is not set accepts nothing."""

    github_secret: Secret | None = Field(
        default=None,
        description="Secret of the GitHub webhook (App, repository or organisation), used to"
        " verify X-Hub-Signature-256; give it as ${ENV} or ${file:PATH}. Masked everywhere.",
    )
    jira_secret: Secret | None = Field(
        default=None,
        description="Secret of the Jira webhook (Cloud admin webhook or Data Center), used to"
        " verify X-Hub-Signature; give it as ${ENV} or ${file:PATH}. Masked everywhere.",
    )


class Config(_Section):
    """The whole configuration file."""

    store: StoreConfig = Field(default=StoreConfig(), description="Where bmmsync keeps its data.")
    model_file: Path | None = Field(
        default=None, description="The strategy map file, relative to the config file."
    )
    model: ModelFile | None = Field(
        default=None, description="The strategy map inline, same shape as the model file."
    )
    sources: list[Source] = Field(default=[], description="Trackers to poll (github, jira).")
    mapping: MappingConfig = Field(
        default=MappingConfig(), description="How tickets name their capability; what is in scope."
    )
    flagging: FlaggingConfig = Field(
        default=FlaggingConfig(), description="How tickets with a broken trace are flagged."
    )
    schedule: ScheduleConfig = Field(
        default=ScheduleConfig(), description="When the scheduler runs each job."
    )
    sync: SyncConfig = Field(default=SyncConfig(), description="How trackers are read.")
    logging: LoggingConfig = Field(default=LoggingConfig(), description="Log level and format.")
    web: WebConfig = Field(
        default=WebConfig(), description="The dashboard, health and metrics endpoints."
    )
    outcomes: OutcomesConfig = Field(
        default=OutcomesConfig(), description="How effort by goal sizes work without points."
    )
    webhooks: WebhooksConfig = Field(
        default=WebhooksConfig(),
        description="Webhook endpoints (/hooks/github, /hooks/jira); polling stays the safety net.",
    )

    _path: Path | None = PrivateAttr(None)
    _bmm_model: domain.Model | None = PrivateAttr(None)

    _resolve = field_validator("model_file")(_resolve_path)

    @model_validator(mode="after")
    def _capability_field_from_sources(self) -> Config:
        """A Jira source's `capability_field` alone is enough: when `mapping` names none and
        the sources agree on one, the trace engine reads that one (connectors store the
        value under the mapping's name when it has one, else under the source's)."""
        if self.mapping.capability_field is None:
            names = {
                s.capability_field
                for s in self.sources
                if isinstance(s, JiraSource) and s.capability_field
            }
            if len(names) == 1:
                mapping = self.mapping.model_copy(update={"capability_field": names.pop()})
                object.__setattr__(self, "mapping", mapping)
        return self

    @property
    def path(self) -> Path | None:
        """The file this config was loaded from (None if built in code)."""
        return self._path

    def source(self, name: str) -> GitHubSource | JiraSource:
        """The source called `name`. Raises KeyError if there is none."""
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(name)

    def load_model(self) -> domain.Model:
        """The strategy map: inline `model:`, or `model_file` (validated when loaded).

        Raises `ConfigError` if neither is given or the file is invalid.
        """
        if self._bmm_model is None:
            if self.model_file is not None:
                self._bmm_model = load_model(self.model_file)
            elif self.model is not None:
                self._bmm_model = validate_model(
                    YamlDoc(str(self._path or "config"), self.model.model_dump(mode="json"))
                )
            else:
                raise ConfigError(
                    [f"{self._path or 'config'}:1: expected `model_file` or an inline `model`"]
                )
        return self._bmm_model


# ---------------------------------------------------------------- finding and loading


def find_config_path(explicit: Path | None = None) -> Path:
    """The config file to use: `explicit` (--config), else $BMMSYNC_CONFIG, else ./bmmsync.yaml.

    Raises `ConfigError` saying where it looked when the chosen file does not exist.
    """
    env = os.environ.get(CONFIG_ENV)
    if explicit is not None:
        path, origin = explicit, "--config"
    elif env:
        path, origin = Path(env), f"${CONFIG_ENV}"
    else:
        path, origin = Path(DEFAULT_CONFIG_NAME), "the current directory"
    if path.is_file():
        return path
    looked = f"{path} (from {origin})"
    if explicit is None and not env:
        looked += f"; set ${CONFIG_ENV} or pass --config"
    raise ConfigError([f"no config file found: looked for {looked}"])


def load_config(path: Path, *, with_model: bool = True) -> Config:
    """Load, substitute and validate a config file; also the model it names unless told not to.

    Raises `ConfigError` carrying every problem, each `file:line: key.path: message`.
    Every secret resolved is registered with `bmmsync.config.secrets` for log masking.
    """
    doc = load_yaml(path)
    data = {} if doc.data is None else doc.data
    if not isinstance(data, dict):
        raise ConfigError(
            [doc.problem((), f"expected a mapping at the top level (got {describe_value(data)})")]
        )
    base_dir = path.parent
    problems, failed = _substitute_all(data, doc, base_dir)
    problems += _duplicate_source_names(data, doc)
    inline_model = data.pop("model", None)
    config: Config | None = None
    try:
        config = Config.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        problems += validation_problems(exc, doc, Config, masked_keys=_MASKED_KEYS, skip=failed)
    bmm_model = None
    try:
        if inline_model is not None:
            data["model"] = inline_model
            if "model_file" in data:
                problems.append(
                    doc.problem(("model",), "expected `model` or `model_file`, not both")
                )
            bmm_model = validate_model(doc.sub("model"))
        elif with_model and config is not None and config.model_file is not None:
            if config.model_file.is_file():
                bmm_model = load_model(config.model_file)
            else:
                problems.append(
                    doc.problem(("model_file",), f"model file {config.model_file} does not exist")
                )
    except ConfigError as exc:
        problems += exc.problems
    if problems or config is None:
        raise ConfigError(sort_problems(problems))
    if inline_model is not None:
        config = config.model_copy(update={"model": ModelFile.model_validate(inline_model)})
    config._path = path
    config._bmm_model = bmm_model
    _register_secrets(config)
    return config


def _substitute_all(
    data: dict[str, Any], doc: YamlDoc, base_dir: Path
) -> tuple[list[str], list[KeyPath]]:
    """Resolve `${...}` in every string value, in place (not in the inline model).

    Returns the problems and the paths that failed, so validation errors there are not
    reported a second time.
    """
    problems: list[str] = []
    failed: list[KeyPath] = []

    def walk(node: Any, path: KeyPath) -> Any:
        if isinstance(node, dict):
            for key, value in node.items():
                if path or key != "model":
                    node[key] = walk(value, (*path, key))
            return node
        if isinstance(node, list):
            return [walk(item, (*path, i)) for i, item in enumerate(node)]
        if isinstance(node, str) and "${" in node:
            try:
                return substitute(node, base_dir=base_dir)[0]
            except SubstitutionError as exc:
                problems.append(doc.problem(path, str(exc)))
                failed.append(path)
        return node

    walk(data, ())
    return problems, failed


def _duplicate_source_names(data: dict[str, Any], doc: YamlDoc) -> list[str]:
    sources = data.get("sources")
    first: dict[str, int] = {}
    problems = []
    for index, source in enumerate(sources if isinstance(sources, list) else []):
        name = source.get("name") if isinstance(source, dict) else None
        if not isinstance(name, str):
            continue
        if name in first:
            line = doc.line(("sources", first[name], "name"))
            problems.append(
                doc.problem(
                    ("sources", index, "name"),
                    f"duplicate source name {name!r} (first at line {line})",
                )
            )
        else:
            first[name] = index
    return problems


def _register_secrets(config: Config) -> None:
    password = url_password(config.store.url.get_secret_value())
    if password:
        register_secret(password)
    for source in config.sources:
        if source.token is not None:
            register_secret(source.token.get_secret_value())
    if config.web.token is not None:
        register_secret(config.web.token.get_secret_value())
    for secret in (config.webhooks.github_secret, config.webhooks.jira_secret):
        if secret is not None:
            register_secret(secret.get_secret_value())


def config_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the config file, for editors and `bmmsync config schema`."""
    schema = Config.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "bmmsync configuration",
        **{k: v for k, v in schema.items() if k != "title"},
    }
