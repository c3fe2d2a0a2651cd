"""The required-kinds gate (`tests/required_kinds.py`), run on small suites with pytester."""

from __future__ import annotations

import pytest

from tests.conftest import REPO_ROOT

CONFTEST = """
import pytest

pytest_plugins = ["tests.required_kinds"]


def pytest_configure(config):
    config.addinivalue_line("markers", "spec: needs the specs")
    config.addinivalue_line("markers", "browser: needs a browser")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request):
    if request.param == "postgresql" and request.config.getoption("--no-pg"):
        pytest.skip("BMMSYNC_TEST_DATABASE_URL is not set")
    return request.param


def pytest_addoption(parser):
    parser.addoption("--no-pg", action="store_true")
"""

SUITE = """
import pytest


def test_store(db_url):
    assert db_url


@pytest.mark.spec
@pytest.mark.parametrize("case", ["a", "b"])
def test_spec(case):
    if case == "b":
        pytest.skip("OpenAPI subsets not found")


@pytest.mark.browser
def test_page():
    pass
"""


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("BMMSYNC_REQUIRE", raising=False)
    monkeypatch.delenv("BMMSYNC_REQUIRE_POSTGRES", raising=False)
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def test_nothing_required_means_skips_are_fine(suite: pytest.Pytester) -> None:
    result = suite.runpytest("--no-pg")
    result.assert_outcomes(passed=3, skipped=2)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.no_fnmatch_line("*required kinds*")


def test_one_skipped_postgres_item_fails_the_session(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BMMSYNC_REQUIRE", "postgres")
    result = suite.runpytest("--no-pg")
    result.assert_outcomes(passed=3, skipped=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "postgres: 0 ran, 1 skipped",
            "  SKIPPED test_suite.py::test_store[[]postgresql[]]: "
            "BMMSYNC_TEST_DATABASE_URL is not set",
            "ERROR: 1 required postgres item(s) skipped",
            "ERROR: no required postgres item ran",
        ]
    )


def test_the_old_variable_is_an_alias(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BMMSYNC_REQUIRE_POSTGRES", "1")
    assert suite.runpytest("--no-pg").ret == pytest.ExitCode.TESTS_FAILED
    result = suite.runpytest()
    result.assert_outcomes(passed=4, skipped=1)  # the spec skip is not required here
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["postgres: 1 ran, 0 skipped"])


def test_a_partial_spec_skip_fails_even_when_others_ran(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BMMSYNC_REQUIRE", "postgres, spec")
    result = suite.runpytest()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "postgres: 1 ran, 0 skipped",
            "spec: 1 ran, 1 skipped",
            "  SKIPPED test_suite.py::test_spec[[]b[]]: OpenAPI subsets not found",
            "ERROR: 1 required spec item(s) skipped",
        ]
    )
    result.stdout.no_fnmatch_line("ERROR: *postgres*")


def test_a_required_kind_with_no_items_fails(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BMMSYNC_REQUIRE", "browser")
    assert suite.runpytest().ret == pytest.ExitCode.OK
    result = suite.runpytest("-k", "not page")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["browser: 0 ran, 0 skipped", "ERROR: no required browser item ran"]
    )


def test_all_required_kinds_ran(suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BMMSYNC_REQUIRE", "postgres,spec,browser")
    result = suite.runpytest("--deselect", "test_suite.py::test_spec[b]")
    result.assert_outcomes(passed=4)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        ["postgres: 1 ran, 0 skipped", "spec: 1 ran, 0 skipped", "browser: 1 ran, 0 skipped"]
    )


def test_the_xdist_controller_decides(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BMMSYNC_REQUIRE", "postgres,spec")
    failed = suite.runpytest_subprocess("-n", "2", "--no-pg")
    assert failed.ret == pytest.ExitCode.TESTS_FAILED
    failed.stdout.fnmatch_lines(
        [
            "postgres: 0 ran, 1 skipped",
            "  SKIPPED test_suite.py::test_store[[]postgresql[]]: *",
            "spec: 1 ran, 1 skipped",
        ]
    )
    passed = suite.runpytest_subprocess("-n", "2", "--deselect", "test_suite.py::test_spec[b]")
    assert passed.ret == pytest.ExitCode.OK, passed.stdout.str()
    passed.stdout.fnmatch_lines(["postgres: 1 ran, 0 skipped", "spec: 1 ran, 0 skipped"])


def test_an_unknown_kind_is_a_usage_error(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BMMSYNC_REQUIRE", "postgres,postgre")
    result = suite.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown kind(s) postgre; expected postgres, spec, browser*"])
