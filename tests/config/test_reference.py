"""The README's configuration reference is generated from the schema and kept in step."""

from __future__ import annotations

from pathlib import Path

import pytest

from bmmsync.config.settings import Config
from bmmsync.readme.config_reference import (
    END,
    START,
    main,
    readme_section,
    render_reference,
    with_reference,
)

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_reference_is_up_to_date() -> None:
    section = readme_section(README.read_text(encoding="utf-8"))
    if section is None:
        pytest.skip("README.md has no config-reference markers yet")
    assert section == render_reference(), (
        "README's configuration reference is stale: run "
        "python -m bmmsync.readme.config_reference --write README.md"
    )


def test_reference_lists_every_section_and_key() -> None:
    table = render_reference()
    for name in Config.model_fields:
        assert f"| `{name}" in table
    for key in ("sources[] (jira).jql", "flagging.escalation.close", "schedule.poll_every"):
        assert f"| `{key}` |" in table
    assert "| `schedule.poll_every` | duration | `15m` |" in table


def test_write_replaces_only_the_section(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n{START}\nold\n{END}\n\nAfter.\n")
    assert main(["--write", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("# Title\n\n") and text.endswith(f"{END}\n\nAfter.\n")
    assert readme_section(text) == render_reference()
    assert with_reference(text) == text


def test_write_refuses_a_readme_without_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n")
    assert main(["--write", str(readme)]) == 1
    assert readme.read_text() == "# Title\n"
