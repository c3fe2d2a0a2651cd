"""The comment: ticket data can never become markup or a mention, in any tracker markup."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bmmsync.bot.comments import CommentRenderer, CommentSettings, Markup, fallback_body
from bmmsync.bot.planner import Subject
from bmmsync.errors import ConfigError
from bmmsync.trace.judge import judge
from bmmsync.trace.rules import MappingRules
from tests.trace.factories import TODAY, demo_index, ticket

INDEX = demo_index()
HOSTILE = "@org/team <script>alert(1)</script> [~admin] **bold** [x](javascript:alert(1))"
TITLE_TEMPLATE = "### {{ ticket.title }}\n{{ ticket.title }} and **{{ ticket.title }}**"
SETTINGS = CommentSettings(
    links=(("Strategy map", "https://wiki.example.com/map"),), contacts=("@acme/architects",)
)


def subject(*labels: str, title: str = "A ticket") -> Subject:
    t = ticket("ACME-1", *labels, title=title)
    (verdict,) = judge([t], INDEX, MappingRules(), TODAY)
    return Subject(verdict, t)


def render(s: Subject, markup: Markup, template: str | None = None, restored: bool = False):
    renderer = CommentRenderer(INDEX, SETTINGS, {"jira": markup}, template)
    return renderer(s, restored=restored).body


@pytest.mark.parametrize("markup", ["markdown", "jira-wiki"])
def test_hostile_title_is_escaped(markup: Markup) -> None:
    body = render(subject("cap:portl", title=HOSTILE), markup, TITLE_TEMPLATE)
    assert isinstance(body, str)
    assert "@org" not in body  # a zero-width joiner follows every @
    if markup == "markdown":  # wiki markup shows HTML as text; `{html}` needs `{`, escaped
        assert "<script>" not in body and "&lt;script&gt;" in body
    assert "{html}" not in body
    assert "[~admin]" not in body
    assert "**bold**" not in body
    assert "[x](" not in body and "[x|" not in body


def test_hostile_title_in_code_stays_code() -> None:
    body = render(subject("cap:portl", title=HOSTILE), "markdown", "in `{{ ticket.title }}`")
    assert body == "in `@\u200dorg/team <script>alert(1)</script> [~admin] **bold** " + (
        "[x](javascript:alert(1))`"
    )


def test_hostile_title_in_adf_is_one_plain_text_node() -> None:
    body = render(subject("cap:portl", title=HOSTILE), "adf", "{{ ticket.title }}")
    assert body == {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": HOSTILE}]}],
    }


def test_hostile_label_in_detail_is_code_without_mention() -> None:
    body = render(subject("cap:@acme/admins"), "markdown")
    assert "`cap:@\u200dacme/admins`" in body
    assert "@acme" not in body


def test_broken_comment_says_what_why_how() -> None:
    body = render(subject("cap:portl"), "markdown")
    assert "unknown-capability" in body
    assert "`cap:portl`" in body
    assert "Did you mean `cap:self-service-portal`" in body
    assert "[Strategy map](https://wiki.example.com/map)" in body
    assert "@\u200dacme/architects" in body


def test_chain_as_far_as_it_holds() -> None:
    body = render(subject("cap:no-motivator"), "markdown")
    assert "capability **No Motivator**" in body
    assert "decision **Orphan" in body
    assert "✗" in body


def test_restored_variant() -> None:
    body = render(subject("cap:self-service-portal"), "markdown", restored=True)
    assert "Trace restored" in body
    assert "motivator **Retention**" in body


def test_jira_wiki_markup() -> None:
    body = render(subject("cap:portl"), "jira-wiki")
    assert body.startswith("h3. ")
    assert "{{cap:portl}}" in body or "{{cap\\:portl}}" in body


def test_admin_template_errors_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        CommentRenderer(INDEX, SETTINGS, {}, "{% if %}")
    with pytest.raises(ConfigError):
        render(subject("cap:portl"), "markdown", "{{ no_such_thing.attr }}")


def test_sandbox_blocks_unsafe_attributes() -> None:
    with pytest.raises(ConfigError):
        render(subject("cap:portl"), "markdown", "{{ ticket.__class__.__mro__ }}")


def test_same_input_same_digest() -> None:
    renderer = CommentRenderer(INDEX, SETTINGS, {"jira": "adf"})
    s = subject("cap:portl")
    assert renderer(s, restored=False).digest == renderer(s, restored=False).digest
    assert renderer(s, restored=False).digest != renderer(s, restored=True).digest


def test_fallback_says_what_and_where_to_look() -> None:
    body = fallback_body("markdown", "unknown-capability", "`cap:portl` @bob", "trace-broken")
    assert body == (
        "**bmmsync: broken trace (`unknown-capability`).** `cap:portl` @\u200dbob\n\n"
        "Run `bmmsync review` for details; the `trace-broken` label tracks this."
    )
    restored = fallback_body("jira-wiki", "restored", "was `cap:portl`", "flag")
    assert restored == (
        "*bmmsync: trace restored.* was {{cap:portl}}\n\n"
        "Run {{bmmsync review}} for details; the {{flag}} label tracks this."
    )


def test_fallback_is_short_whatever_the_detail() -> None:
    body = fallback_body("markdown", "unknown-capability", "x" * 10_000, "trace-broken")
    assert isinstance(body, str) and len(body) < 500
    assert "x" * 299 + "…\n\nRun `bmmsync review`" in body and "x" * 300 not in body
    assert body.startswith("**bmmsync: broken trace (`unknown-capability`).** xxx")


def visible(title: str) -> str:
    """What a reader must see of a title: control characters as spaces, sentinels dropped."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", re.sub("[\ue000-\ue00f]", "", title))


def unescape(body: str, markdown: bool = False) -> str:
    """Undo the writers' escaping: ZWJ after mentions, backslash escapes, HTML entities."""
    text = re.sub(r"\\(.)", r"\1", body.replace("\u200d", ""), flags=re.S)
    if markdown:
        text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return text


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("@[]~<>*_`#!|\\/-:{}()ab \n\ue000\ue002"), max_size=60))
def test_no_markup_or_mention_from_any_title(title: str) -> None:
    s = subject("cap:portl", title=title)
    md = render(s, "markdown", "{{ ticket.title }}")
    wiki = render(s, "jira-wiki", "{{ ticket.title }}")
    assert isinstance(md, str) and isinstance(wiki, str)
    assert "<" not in md
    for body in (md, wiki):
        assert "\n" not in body.strip()
    assert unescape(md, markdown=True) == unescape(wiki) == visible(title), "nothing lost"
    for body in (md, wiki):
        for i, ch in enumerate(body):
            if ch == "@":
                assert body[i + 1 : i + 2] == "\u200d"
    assert "[~" not in wiki.replace("\\[~", "")
