"""The README's reason-code table is generated from the code and kept in step."""

from __future__ import annotations

from pathlib import Path

from bmmsync.readme.reason_reference import (
    END,
    START,
    main,
    readme_section,
    render_reason_codes,
    with_reason_codes,
)
from bmmsync.trace import Reason

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_lists_every_reason_code() -> None:
    section = readme_section(README.read_text(encoding="utf-8"))
    assert section == render_reason_codes(), (
        "README's reason codes are stale: "
        "run python -m bmmsync.readme.reason_reference --write README.md"
    )
    for reason in Reason:
        about = "map" if reason.is_map_reason else "ticket"
        assert f"| `{reason.value}` | {about} | {reason.severity.value} | {reason.meaning} |" in (
            section
        )


def test_write_replaces_only_the_section(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n{START}\nold\n{END}\n\nAfter.\n")
    assert main(["--write", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("# Title\n\n") and text.endswith(f"{END}\n\nAfter.\n")
    assert readme_section(text) == render_reason_codes()
    assert with_reason_codes(text) == text
    bare = tmp_path / "bare.md"
    bare.write_text("# Title\n")
    assert main(["--write", str(bare)]) == 1 and bare.read_text() == "# Title\n"
