"""Config loading: valid input, and every bad input reported as file:line: key: message."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest

from bmmsync.config.settings import (
    Config,
    GitHubSource,
    JiraSource,
    find_config_path,
    format_duration,
    load_config,
    parse_duration,
)
from bmmsync.errors import ConfigError

from .helpers import MODEL, problems_of, write

GOOD = """\
store: {url: "sqlite:///bmmsync.db"}
model_file: model.yaml
sources:
  - name: web
    kind: github
    token: ${GITHUB_TOKEN}
    repos: [acme/web]
    orgs: [acme]
  - name: platform
    kind: jira
    url: https://acme.atlassian.net
    deployment: cloud
    email: bot@acme.io
    token: ${JIRA_TOKEN}
    jql: project = PLAT
mapping:
  capability_labels: ["cap:{id}"]
  capability_field: Capability
  inherit_from_parent: true
  exempt_labels: [no-trace]
  ignore_types: []
  ignore_closed: true
flagging: {label: trace-broken, comment: true, max_writes_per_run: 50}
schedule: {poll_every: 15m}
"""


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret_value_1")
    monkeypatch.setenv("JIRA_TOKEN", "jira_secret_value_2")


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    write(tmp_path, "model.yaml", MODEL)
    return tmp_path


def test_the_contract_example_loads_with_defaults(env: None, model_dir: Path) -> None:
    config = load_config(write(model_dir, "bmmsync.yaml", GOOD))
    web, platform = config.sources
    assert isinstance(web, GitHubSource) and isinstance(platform, JiraSource)
    assert web.base_url == "https://api.github.com"
    assert web.token is not None and web.token.get_secret_value() == "ghp_secret_value_1"
    assert platform.token.get_secret_value() == "jira_secret_value_2"
    assert platform.story_points_field == "Story Points"
    assert config.schedule.poll_every == timedelta(minutes=15)
    assert config.schedule.jitter == timedelta(seconds=30)
    assert config.schedule.snapshot_at == time(0, 0)
    assert config.sync.overlap == timedelta(minutes=5)
    assert config.store.url.get_secret_value() == "sqlite:///bmmsync.db"
    assert config.model_file == model_dir / "model.yaml"
    assert config.path == model_dir / "bmmsync.yaml"
    assert config.source("platform") is platform
    assert [c.id for c in config.load_model().capabilities] == ["self-service-portal"]


def test_inline_model_is_validated_with_the_config_lines(env: None, tmp_path: Path) -> None:
    text = GOOD.replace("model_file: model.yaml\n", "model:\n  decisions: [{id: d, name: D}]\n")
    text += "  # padding\n"
    config = load_config(write(tmp_path, "c.yaml", text))
    assert [d.id for d in config.load_model().decisions] == ["d"]

    bad = text.replace("{id: d, name: D}", "{id: d, name: D, motivators: [nope]}")
    path = write(tmp_path, "bad.yaml", bad)
    assert problems_of(load_config, path) == [
        f"{path}:3: model.decisions[0].motivators[0]: unknown motivator 'nope'"
    ]


def test_minimal_config_takes_every_default(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "c.yaml", "model: {}\n"))
    assert config.sources == []
    assert config.mapping.capability_labels == ["cap:{id}"]
    assert config.flagging.label == "trace-broken"
    assert config.flagging.max_writes_per_run == 50
    assert config.logging.format == "text"


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", "store:\n  url: [unclosed\nsources: []\n")
    [problem] = problems_of(load_config, path)
    assert problem.startswith(f"{path}:3: YAML syntax error: ")


def test_duplicate_key_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", "model: {}\nflagging: {}\nflagging: {}\n")
    assert problems_of(load_config, path) == [
        f"{path}:3: flagging: duplicate key (first at line 2)"
    ]


def test_unknown_key_suggests_the_closest(tmp_path: Path) -> None:
    path = write(tmp_path, "bmmsync.yaml", "model: {}\n\nmapping:\n  capabilty_labels: [x]\n")
    assert problems_of(load_config, path) == [
        f"{path}:4: mapping.capabilty_labels: unknown key; did you mean 'capability_labels'?"
    ]


def test_unknown_key_in_a_source_suggests_from_that_kind(env: None, model_dir: Path) -> None:
    path = write(model_dir, "c.yaml", GOOD.replace("    jql: project", "    jqll: x\n    jql: p"))
    assert problems_of(load_config, path) == [
        f"{path}:15: sources[1].jqll: unknown key; did you mean 'jql'?"
    ]


def test_wrong_kind_lists_the_kinds(env: None, model_dir: Path) -> None:
    path = write(model_dir, "bad.yaml", GOOD.replace("kind: jira", "kind: gitlab"))
    assert problems_of(load_config, path) == [
        f"{path}:10: sources[1].kind: expected one of 'github', 'jira' (got 'gitlab')"
    ]


def test_every_problem_is_reported_at_once(
    monkeypatch: pytest.MonkeyPatch, model_dir: Path
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.setenv("JIRA_TOKEN", "x" * 10)
    text = (
        GOOD.replace("max_writes_per_run: 50", "max_writes_per_run: lots")
        .replace("poll_every: 15m", "poll_every: soon")
        .replace("deployment: cloud", "deployment: cloudy")
        .replace("ignore_closed: true", "ignore_closd: true")
    )
    path = write(model_dir, "bad.yaml", text)
    assert problems_of(load_config, path) == [
        f"{path}:6: sources[0].token: environment variable GITHUB_TOKEN is not set",
        f"{path}:12: sources[1].deployment: expected one of 'cloud', 'server' (got 'cloudy')",
        f"{path}:22: mapping.ignore_closd: unknown key; did you mean 'ignore_closed'?",
        f"{path}:23: flagging.max_writes_per_run: expected a valid integer,"
        " unable to parse string as an integer (got 'lots')",
        f"{path}:24: schedule.poll_every: expected a duration: a number and a unit"
        " ms, s, m, h, d or w, e.g. 90s, 15m, 1h30m (got 'soon')",
    ]


def test_wrong_types(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.yaml",
        """\
        model: {}
        mapping:
          inherit_from_parent: maybe
          exempt_labels: no-trace
          capability_labels: ["cap"]
        sources: {name: web}
        """,
    )
    assert problems_of(load_config, path) == [
        f"{path}:3: mapping.inherit_from_parent: expected a valid boolean,"
        " unable to interpret input (got 'maybe')",
        f"{path}:4: mapping.exempt_labels: expected a valid list (got 'no-trace')",
        f"{path}:5: mapping.capability_labels: expected each pattern to contain {{id}} once"
        " (got 'cap')",
        f"{path}:6: sources: expected a valid list (got a mapping)",
    ]


def test_source_rules(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.yaml",
        """\
        model: {}
        sources:
          - {name: web, kind: github, token: t0ken, repos: [acme/web]}
          - {name: web, kind: github, token: t0ken}
          - {name: App, kind: github, app_id: 1, repos: [a/b]}
          - {name: p, kind: jira, url: "ftp://x", deployment: cloud, token: t0ken, jql: "x"}
          - {name: q, url: "http://x"}
        """,
    )
    assert problems_of(load_config, path) == [
        f"{path}:4: sources[1].name: duplicate source name 'web' (first at line 3)",
        f"{path}:4: sources[1]: expected `repos` and/or `orgs`",
        f"{path}:5: sources[2].name: expected a name of lowercase letters, digits, _ and -"
        " (got 'App')",
        f"{path}:6: sources[3].url: expected an http:// or https:// URL (got 'ftp://x')",
        f"{path}:7: sources[4].kind: required key is missing",
    ]


def test_source_auth_rules(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.yaml",
        """\
        model: {}
        sources:
          - {name: app, kind: github, app_id: 1, repos: [a/b]}
          - {name: both, kind: github, app_id: 1, token: t0ken, repos: [a/b]}
          - {name: p, kind: jira, url: "https://x", deployment: cloud, token: t0ken, jql: "x"}
        """,
    )
    assert problems_of(load_config, path) == [
        f"{path}:3: sources[0]: expected `token`, or GitHub App auth"
        " (missing `private_key_file`, `installation_id`)",
        f"{path}:4: sources[1]: expected either `token` or GitHub App auth, not both",
        f"{path}:5: sources[2]: expected `email`: Jira Cloud authenticates with email + API token",
    ]


def test_missing_required_key_points_at_its_parent(tmp_path: Path) -> None:
    path = write(
        tmp_path, "bad.yaml", "model: {}\nsources:\n  - name: p\n    kind: jira\n    jql: x\n"
    )
    assert problems_of(load_config, path) == [
        f"{path}:3: sources[0].url: required key is missing",
        f"{path}:3: sources[0].token: required key is missing",
    ]


def test_github_app_auth_with_a_key_file(tmp_path: Path) -> None:
    write(tmp_path, "app.pem", "-----BEGIN PRIVATE KEY-----\n")
    config = load_config(
        write(
            tmp_path,
            "c.yaml",
            """\
            model: {}
            sources:
              - {name: gh, kind: github, app_id: 1, installation_id: 2,
                 private_key_file: app.pem, orgs: [acme], base_url: "http://127.0.0.1:9/"}
            """,
        )
    )
    source = config.sources[0]
    assert isinstance(source, GitHubSource)
    assert source.private_key_file == tmp_path / "app.pem"
    assert source.base_url == "http://127.0.0.1:9"


def test_model_file_problems_are_part_of_the_config_check(tmp_path: Path) -> None:
    model = write(tmp_path, "model.yaml", "decisions: [{id: d, name: D, motivators: [m]}]\n")
    path = write(tmp_path, "c.yaml", "model_file: model.yaml\n")
    assert problems_of(load_config, path) == [
        f"{model}:1: decisions[0].motivators[0]: unknown motivator 'm'"
    ]
    missing = write(tmp_path, "d.yaml", "model_file: nowhere.yaml\n")
    assert problems_of(load_config, missing) == [
        f"{missing}:1: model_file: model file {tmp_path / 'nowhere.yaml'} does not exist"
    ]
    assert load_config(missing, with_model=False).model_file == tmp_path / "nowhere.yaml"


def test_model_and_model_file_together_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", "model_file: m.yaml\nmodel: {}\n")
    assert problems_of(load_config, path) == [
        f"{path}:2: model: expected `model` or `model_file`, not both"
    ]


def test_no_model_at_all_is_reported_when_asked_for(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "c.yaml", "sources: []\n"))
    with pytest.raises(ConfigError, match="expected `model_file` or an inline `model`"):
        config.load_model()


def test_flagging_escalation_and_templates(tmp_path: Path) -> None:
    write(tmp_path, "comment.j2", "Hello {{ ticket }}")
    config = load_config(
        write(
            tmp_path,
            "c.yaml",
            """\
            model: {}
            flagging:
              escalate_after: 14d
              escalation: {label: needs-justification, close: false}
              template: comment.j2
              links: [{title: Map, url: "https://wiki.example/map"}]
              contacts: ["@arch"]
            """,
        )
    )
    assert config.flagging.escalate_after == timedelta(days=14)
    assert config.flagging.template_text() == "Hello {{ ticket }}"
    inline = load_config(
        write(tmp_path, "i.yaml", 'model: {}\nflagging: {template: "Hi {{ x }}"}\n')
    )
    assert inline.flagging.template_text() == "Hi {{ x }}"

    path = write(
        tmp_path,
        "bad.yaml",
        "model: {}\nflagging:\n  template: missing.j2\n  label: trace broken\n",
    )
    assert problems_of(load_config, path) == [
        f"{path}:3: flagging.template: template file {tmp_path / 'missing.j2'} does not exist",
        f"{path}:4: flagging.label: expected a label without spaces (got 'trace broken')",
    ]
    half = write(tmp_path, "half.yaml", "model: {}\nflagging:\n  escalate_after: 14d\n")
    assert problems_of(load_config, half) == [
        f"{half}:2: flagging: expected `escalate_after` and `escalation` together"
    ]


def test_times_are_not_sexagesimal_numbers(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "c.yaml", "model: {}\nschedule: {snapshot_at: 12:30}\n"))
    assert config.schedule.snapshot_at == time(12, 30)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", timedelta(minutes=15)),
        ("90s", timedelta(seconds=90)),
        ("24h", timedelta(hours=24)),
        ("14d", timedelta(days=14)),
        ("1h30m", timedelta(minutes=90)),
        ("500ms", timedelta(milliseconds=500)),
        (30, timedelta(seconds=30)),
    ],
)
def test_durations(text: str | int, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_duration_round_trip() -> None:
    for text in ("15m", "1h30m", "14d", "0s", "1d2h3m4s"):
        assert format_duration(parse_duration(text)) == text


def test_find_config_path_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BMMSYNC_CONFIG", raising=False)
    with pytest.raises(
        ConfigError, match=r"looked for bmmsync\.yaml \(from the current directory\)"
    ):
        find_config_path(None)
    local = write(tmp_path, "bmmsync.yaml", "model: {}\n")
    assert find_config_path(None) == Path("bmmsync.yaml")
    from_env = write(tmp_path, "env.yaml", "model: {}\n")
    monkeypatch.setenv("BMMSYNC_CONFIG", str(from_env))
    assert find_config_path(None) == from_env
    assert find_config_path(local) == local
    with pytest.raises(ConfigError, match=r"nope\.yaml \(from --config\)"):
        find_config_path(tmp_path / "nope.yaml")
    monkeypatch.setenv("BMMSYNC_CONFIG", str(tmp_path / "gone.yaml"))
    with pytest.raises(ConfigError, match=r"gone\.yaml \(from \$BMMSYNC_CONFIG\)"):
        find_config_path(None)


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", "- a\n- b\n")
    assert problems_of(load_config, path) == [
        f"{path}:1: expected a mapping at the top level (got a list)"
    ]


def test_unreadable_file(tmp_path: Path) -> None:
    [problem] = problems_of(load_config, tmp_path / "absent.yaml")
    assert problem.startswith(f"{tmp_path / 'absent.yaml'}: cannot read")


def test_mapping_to_rules(tmp_path: Path) -> None:
    from bmmsync.domain import Severity

    config = load_config(
        write(
            tmp_path,
            "c.yaml",
            """\
            model: {}
            mapping:
              capability_labels: "capability/{id}"
              ignore_types: [Bug]
              review_overdue_severity: error
            """,
        )
    )
    rules = config.mapping.to_rules()
    assert rules.capability_labels == ("capability/{id}",)
    assert rules.ignore_types == ("Bug",)
    assert rules.exempt_labels == ("no-trace",)
    assert rules.review_overdue_severity is Severity.ERROR
    assert rules.render_label("portal") == "capability/portal"


def test_failed_substitution_is_reported_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SANDBOX", raising=False)
    path = write(
        tmp_path,
        "c.yaml",
        """\
        model: {}
        sources:
          - name: web
            kind: github
            base_url: ${SANDBOX}/github
            token: $${literal}
            orgs: [acme]
        """,
    )
    assert problems_of(load_config, path) == [
        f"{path}:5: sources[0].base_url: environment variable SANDBOX is not set"
    ]
    monkeypatch.setenv("SANDBOX", "http://127.0.0.1:1")
    source = load_config(path).sources[0]
    assert isinstance(source, GitHubSource)
    assert source.base_url == "http://127.0.0.1:1/github"
    assert source.token is not None and source.token.get_secret_value() == "${literal}"


def test_yaml_1_1_booleans_stay_strings_but_boolean_keys_accept_them(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            "c.yaml",
            "model: {}\nmapping: {ignore_types: [No, on], ignore_closed: no}\n",
        )
    )
    assert config.mapping.ignore_types == ["No", "on"]
    assert config.mapping.ignore_closed is False


def test_a_jira_sources_capability_field_is_what_the_trace_reads() -> None:
    source = {
        "name": "p",
        "kind": "jira",
        "url": "https://x.atlassian.net",
        "email": "a@b.c",
        "token": "t",
        "jql": "project = P",
        "capability_field": "Capability",
    }
    config = Config.model_validate({"sources": [source]})
    assert config.mapping.to_rules().capability_field == "Capability"
    explicit = Config.model_validate(
        {"sources": [source], "mapping": {"capability_field": "Theme"}}
    )
    assert explicit.mapping.to_rules().capability_field == "Theme"
