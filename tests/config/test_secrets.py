"""Secrets: substitution, masking in repr/str/logs, and a missing variable located."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bmmsync.config.secrets import (
    MaskingFilter,
    Secret,
    SecretUrl,
    SubstitutionError,
    install_masking,
    mask,
    register_secret,
    substitute,
)
from bmmsync.config.settings import load_config

from .helpers import problems_of, write

SOURCE = """\
model: {{}}
sources:
  - name: web
    kind: github
    repos: [acme/web]
    token: {token}
"""


def test_substitution_forms(tmp_path: Path) -> None:
    env = {"A": "alpha", "EMPTY": ""}
    write(tmp_path, "s.txt", "from-file\n")
    assert substitute("x${A}y", base_dir=tmp_path, environ=env) == ("xalphay", True)
    assert substitute("${B:-dflt}", base_dir=tmp_path, environ=env)[0] == "dflt"
    assert substitute("${EMPTY:-dflt}", base_dir=tmp_path, environ=env)[0] == "dflt"
    assert substitute("${EMPTY:-}", base_dir=tmp_path, environ=env)[0] == ""
    assert substitute("${file:s.txt}", base_dir=tmp_path, environ=env)[0] == "from-file"
    assert substitute("$${A} ${A}", base_dir=tmp_path, environ=env) == ("${A} alpha", True)
    assert substitute("plain $A", base_dir=tmp_path, environ=env) == ("plain $A", False)
    with pytest.raises(SubstitutionError, match="environment variable B is not set"):
        substitute("${B}", base_dir=tmp_path, environ=env)
    with pytest.raises(SubstitutionError, match="environment variable EMPTY is empty"):
        substitute("${EMPTY}", base_dir=tmp_path, environ=env)
    with pytest.raises(SubstitutionError, match="invalid reference"):
        substitute("${not valid}", base_dir=tmp_path, environ=env)


def test_missing_env_var_names_file_line_key_and_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    path = write(tmp_path, "bmmsync.yaml", SOURCE.format(token="${GITHUB_TOKEN}"))
    assert problems_of(load_config, path) == [
        f"{path}:6: sources[0].token: environment variable GITHUB_TOKEN is not set"
    ]


def test_file_secret_is_read_relative_to_the_config(tmp_path: Path) -> None:
    write(tmp_path, "token.txt", "file-token-value\n")
    config = load_config(write(tmp_path, "c.yaml", SOURCE.format(token="${file:token.txt}")))
    assert config.sources[0].token == Secret("file-token-value")

    path = write(tmp_path, "bad.yaml", SOURCE.format(token="${file:/nonexistent/token}"))
    assert problems_of(load_config, path) == [
        f"{path}:6: sources[0].token: cannot read secret file /nonexistent/token:"
        " No such file or directory"
    ]


def test_wrong_type_for_a_secret_does_not_echo_it(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", SOURCE.format(token="[12345678]"))
    [problem] = problems_of(load_config, path)
    assert problem == f"{path}:6: sources[0].token: expected a valid string"
    assert "12345678" not in problem


def test_secrets_are_masked_in_repr_str_and_dumps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKEN_UNDER_TEST", "tok-4f9a8b7c")
    monkeypatch.setenv("DB_PW", "pw-91d2e3")
    text = SOURCE.format(token="${TOKEN_UNDER_TEST}") + (
        'store: {url: "postgresql+psycopg://bm:${DB_PW}@db/bm"}\n'
    )
    config = load_config(write(tmp_path, "c.yaml", text))
    token = config.sources[0].token
    assert token is not None and token.get_secret_value() == "tok-4f9a8b7c"
    assert str(token) == "***" and repr(token) == "Secret('***')"
    assert str(config.store.url) == "postgresql+psycopg://bm:***@db/bm"
    assert config.store.url.get_secret_value() == "postgresql+psycopg://bm:pw-91d2e3@db/bm"
    for shown in (repr(config), str(config), config.model_dump_json()):
        assert "tok-4f9a8b7c" not in shown and "pw-91d2e3" not in shown
    assert mask("auth tok-4f9a8b7c to pw-91d2e3") == "auth *** to ***"


def test_url_without_password_shows_as_is() -> None:
    assert str(SecretUrl("sqlite:///x.db")) == "sqlite:///x.db"


def test_masking_filter_scrubs_messages_args_tracebacks_and_extras(
    caplog: pytest.LogCaptureFixture,
) -> None:
    register_secret("s3cr3t-value-xyz")
    logger = logging.getLogger("bmmsync.test.masking")
    caplog.handler.addFilter(MaskingFilter())
    try:
        logger.warning("token=%s", "s3cr3t-value-xyz", extra={"url": "https://s3cr3t-value-xyz@h"})
        try:
            raise RuntimeError("bad token s3cr3t-value-xyz")
        except RuntimeError:
            logger.exception("failed")
    finally:
        caplog.handler.filters.clear()
    assert "s3cr3t-value-xyz" not in caplog.text
    assert "token=***" in caplog.text
    assert "bad token ***" in caplog.text
    assert caplog.records[0].url == "https://***@h"


def test_install_masking_adds_one_filter_per_handler() -> None:
    logger = logging.getLogger("bmmsync.test.install")
    handler = logging.StreamHandler()
    logger.addHandler(handler)
    try:
        install_masking(logger)
        install_masking(logger)
        assert sum(isinstance(f, MaskingFilter) for f in handler.filters) == 1
    finally:
        logger.removeHandler(handler)


def test_short_values_are_not_registered() -> None:
    register_secret("ab")
    assert mask("ab abc") == "ab abc"
