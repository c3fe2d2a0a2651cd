"""`bmmsync explain` over the demo data: the sandbox synced into a real store, then the CLI.

One ticket of each kind from the table in `bmmsync/sandbox/demo.py`: traced through a label,
a Jira field and inheritance, and broken for every ticket reason code. The console script is
run for the rendered cases; the per-reason loop calls the same entry point in-process, since
each process costs seconds on a loaded machine.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bmmsync.cli.main import main
from bmmsync.sandbox.server import SandboxServer
from bmmsync.store.database import Store
from tests.bot.helpers import bot_config, sync
from tests.cli.helpers import run_cli, write_sandbox_config

TODAY = "2026-11-23"

# key -> (exit code, reason of the broken step or None, kinds of the nodes that break)
BROKEN: dict[str, tuple[int, str, set[str]]] = {
    "acme/web#9": (1, "no-capability", set()),
    "acme/web#10": (1, "unknown-capability", {"unknown-capability"}),
    "acme/web#11": (1, "ambiguous-capability", set()),
    "acme/web#12": (1, "retired-capability", {"capability"}),
    "acme/web#13": (1, "capability-without-decision", {"capability"}),
    "PLAT-12": (1, "decision-without-motivator", {"capability", "decision"}),
    "PLAT-11": (1, "retired-motivator", {"capability", "decision", "motivator"}),
    "acme/mobile#9": (0, "motivator-review-overdue", set()),
    "acme/web#19": (1, "parent-missing", {"missing-parent"}),
    "PLAT-19": (1, "parent-cycle", {"ancestor", "loop"}),
}


def _walk(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *(n for child in node["children"] for n in _walk(child))]


def test_explain_shows_each_kind_of_chain_in_the_demo(
    tmp_path: Path,
    sandbox: SandboxServer,
    db_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_sandbox_config(tmp_path, sandbox, db_url, budget=30)
    store = Store.open(db_url)
    sync(bot_config(sandbox), store)
    store.close()

    def explain(*args: str, code: int = 0) -> str:
        result = run_cli("--config", str(config), "explain", *args, "--today", TODAY)
        assert result.returncode == code, (args, result.stdout, result.stderr)
        return result.stdout + result.stderr

    def explain_json(key: str, code: int) -> dict[str, Any]:
        with pytest.raises(SystemExit) as exit_info:
            main(["--config", str(config), "explain", key, "--format", "json", "--today", TODAY])
        assert exit_info.value.code == code, key
        return dict(json.loads(capsys.readouterr().out))

    # Traced: own label, Jira field, inherited through two levels (sub-task -> story -> epic).
    label = json.loads(explain("acme/web#1", "--format", "json"))
    assert label["traced"] and label["broken_step"] is None
    kinds = [(n["kind"], n["id"], n["provenance"]) for n in _walk(label["tree"])]
    assert kinds == [
        ("ticket", "acme/web#1", ""),
        ("capability", "self-service-portal", "label cap:self-service-portal"),
        ("decision", "onboarding", ""),
        ("motivator", "retention", ""),
    ]
    field = explain_json("PLAT-1", 0)
    assert field["links"] == [
        {"capability": "self-service-portal", "via": "field", "origin": "Capability"}
    ]
    inherited = explain("PLAT-4")
    assert "✓ parent PLAT-2" in inherited and "✓ ancestor PLAT-1" in inherited
    assert "(inherited from PLAT-1: field Capability)" in inherited
    assert "✓ motivator retention" in inherited and "traced:" in inherited

    # Broken: the step that breaks, the reason, and the team's suggestion.
    for key, (code, reason, broken_kinds) in BROKEN.items():
        out = explain_json(key, code)
        assert out["key"] == key and out["broken_step"] == reason, out
        assert out["suggestion"], key
        nodes = _walk(out["tree"])
        assert {n["kind"] for n in nodes if not n["ok"]} - {"ticket"} == broken_kinds, key
        assert out["traced"] is (code == 0)
    table = explain("acme/web#10", code=1)
    assert "✗ capability self-service-portl [not in the map] (label cap:self-service-portl)" in (
        table
    )
    assert "error: unknown-capability:" in table
    assert "suggestion: Did you mean `cap:self-service-portal`?" in table

    # Out of scope, unknown keys (with did-you-mean) and a wrong source.
    assert explain_json("acme/web#3", 0)["scope_reason"] == "closed"
    unknown = explain("acme/web#99", code=2)
    assert unknown.startswith("error: no stored ticket acme/web#99; did you mean acme/web#9")
    with pytest.raises(SystemExit) as exit_info:
        main(["--config", str(config), "explain", "plat-1", "--source", "platform"])
    assert exit_info.value.code == 2
    assert "no stored ticket plat-1 in source 'platform'; did you mean PLAT-1?" in (
        capsys.readouterr().err
    )
