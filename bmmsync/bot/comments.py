"""The bot's one comment: a sandboxed Jinja template, rendered safely to each tracker's markup.

Why one template and a neutral structure (not one template per markup): admins override a
single file that works on GitHub (Markdown), Jira Server (wiki markup) and Jira Cloud (ADF),
and ticket data is made harmless *by construction*, not by remembering to escape:

1. Every `{{ expression }}` is wrapped (Jinja `finalize`) in private-use sentinels that mark it
   as literal text. Only the template's own text is read as markup.
2. The output is parsed into a small neutral tree: headings (`###`), bullets (`- `), rules
   (`---`), paragraphs; inline `**strong**`, `` `code` `` and `[text](https://url)`.
3. The tree is written as Markdown, Jira wiki or ADF, escaping every literal for that markup:
   no HTML, no Markdown or wiki syntax, no `@user`/`@org/team` mention (a zero-width joiner
   follows each `@`), no Jira `[~user]` mention can come out of ticket data.

Filters for templates: `|code` shows a value as code; `|ticks` shows trace-engine text, whose
`backticked` parts (labels, ids) become code. The hidden marker is added by the connector.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, Literal

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from bmmsync.bot.planner import CommentBody, Rendered, Subject
from bmmsync.errors import ConfigError
from bmmsync.trace.index import MapIndex
from bmmsync.trace.reasons import Reason

Markup = Literal["markdown", "jira-wiki", "adf"]

MAX_LITERAL = 300  # characters of one ticket-derived value; keeps comments far below limits

_TEXT, _CODE, _END = "\ue000", "\ue001", "\ue002"
_PRIVATE = re.compile("[\ue000-\ue00f]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
_ZWJ = "\u200d"


# ----------------------------------------------------------------- literals in the template


class _Neutral(str):
    """Template output that is already wrapped as literals (finalize leaves it alone)."""

    __slots__ = ()


def _clean(value: object) -> str:
    """One line of plain text: no sentinels, no control characters, at most MAX_LITERAL."""
    text = _CONTROL.sub(" ", _PRIVATE.sub("", str(value)))
    if len(text) > MAX_LITERAL:
        text = text[: MAX_LITERAL - 1] + "…"
    return text


def _literal(value: object, kind: str = _TEXT) -> _Neutral:
    return _Neutral(f"{kind}{_clean(value)}{_END}")


def _finalize(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, _Neutral):
        return value
    return _literal(value)


def _code_filter(value: object) -> _Neutral:
    return _literal(value, _CODE)


def _ticks_filter(value: object) -> _Neutral:
    """Trace-engine text: `backticked` parts are code, the rest text; all of it literal."""
    parts = str(value).split("`")
    if len(parts) % 2 == 0:  # an odd backtick (from ticket data): show everything as text
        return _literal(value)
    return _Neutral(
        "".join(_literal(part, _CODE if i % 2 else _TEXT) for i, part in enumerate(parts) if part)
    )


# ----------------------------------------------------------------- the neutral tree


@dataclass(frozen=True, slots=True)
class Span:
    text: str
    strong: bool = False
    code: bool = False
    href: str | None = None


@dataclass(frozen=True, slots=True)
class Block:
    kind: Literal["heading", "paragraph", "bullets", "rule"]
    lines: tuple[tuple[Span, ...], ...] = ()
    level: int = 0


_SLOT = re.compile("\ue003(\\d+)\ue004")
_INLINE = re.compile(
    r"\*\*(?P<strong>.+?)\*\*|`(?P<code>[^`]+)`|\[(?P<text>[^\]]+)\]\((?P<href>[^)\s]+)\)"
)
_LITERAL = re.compile(f"([{_TEXT}{_CODE}])(.*?){_END}", re.S)
_SAFE_HREF = re.compile(r"^(https?://|mailto:)[^\s]+$", re.I)


def _slots(line: str) -> tuple[str, list[tuple[str, str]]]:
    """Replace each literal by a numbered slot the inline grammar cannot mistake for markup."""
    found: list[tuple[str, str]] = []

    def take(match: re.Match[str]) -> str:
        found.append((match.group(1), match.group(2)))
        return f"\ue003{len(found) - 1}\ue004"

    return _LITERAL.sub(take, line), found


def _plain(
    text: str, literals: list[tuple[str, str]], strong: bool, href: str | None, code: bool = False
) -> Iterator[Span]:
    pos = 0
    for match in _SLOT.finditer(text):
        if match.start() > pos:
            yield Span(text[pos : match.start()], strong, code, href)
        kind, value = literals[int(match.group(1))]
        if value:
            yield Span(value, strong, code or kind == _CODE, href)
        pos = match.end()
    if pos < len(text):
        yield Span(text[pos:], strong, code, href)


def _resolve(text: str, literals: list[tuple[str, str]]) -> str:
    return _SLOT.sub(lambda m: literals[int(m.group(1))][1], text)


def _inline(
    text: str, literals: list[tuple[str, str]], strong: bool = False, href: str | None = None
) -> Iterator[Span]:
    pos = 0
    for match in _INLINE.finditer(text):
        yield from _plain(text[pos : match.start()], literals, strong, href)
        if match.group("strong") is not None:
            yield from _inline(match.group("strong"), literals, True, href)
        elif match.group("code") is not None:
            yield from _plain(match.group("code"), literals, strong, href, code=True)
        else:
            target = _resolve(match.group("href"), literals)
            safe = target if _SAFE_HREF.match(target) else None
            yield from _inline(match.group("text"), literals, strong, safe)
        pos = match.end()
    yield from _plain(text[pos:], literals, strong, href)


def _spans(line: str) -> tuple[Span, ...]:
    text, literals = _slots(line)
    return tuple(s for s in _inline(text, literals) if s.text)


_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_BULLET = re.compile(r"^\s*[-*]\s+(.*)$")
_RULE = re.compile(r"^\s*(-{3,}|\*{3,})\s*$")


def parse(text: str) -> list[Block]:
    """The neutral tree of a rendered template (literals are never read as markup)."""
    blocks: list[Block] = []
    para: list[tuple[Span, ...]] = []
    bullets: list[tuple[Span, ...]] = []

    def flush() -> None:
        if para:
            blocks.append(Block("paragraph", (tuple(s for line in para for s in line),)))
            para.clear()
        if bullets:
            blocks.append(Block("bullets", tuple(bullets)))
            bullets.clear()

    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip():
            flush()
        elif _RULE.match(line):
            flush()
            blocks.append(Block("rule"))
        elif heading := _HEADING.match(line):
            flush()
            blocks.append(Block("heading", (_spans(heading.group(2)),), len(heading.group(1))))
        elif bullet := _BULLET.match(line):
            if para:
                flush()
            bullets.append(_spans(bullet.group(1)))
        else:
            if bullets:
                flush()
            spans = _spans(line.strip())
            para.append(((Span(" "),) if para else ()) + spans)
    flush()
    return [b for b in blocks if b.kind == "rule" or any(line for line in b.lines)]


# ----------------------------------------------------------------- writers


def _defuse_mentions(text: str) -> str:
    return text.replace("@", "@" + _ZWJ)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]#!|~])")
_MD_LINE_START = re.compile(r"^([-+=]|\d+[.)])")


def _md_text(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _defuse_mentions(_MD_SPECIAL.sub(r"\\\1", text))


def _md_code(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{_defuse_mentions(text)}{pad}{fence}"


def _md_href(href: str) -> str:
    return re.sub(r"[()<>\s]", lambda m: f"%{ord(m.group()):02X}", href)


_WIKI_SPECIAL = re.compile(r"([\\*_?\-+^~{}\[\]|!#])")


def _wiki_text(text: str) -> str:
    return _defuse_mentions(_WIKI_SPECIAL.sub(r"\\\1", text))


def _groups(spans: Iterable[Span]) -> Iterator[tuple[bool, str | None, list[Span]]]:
    """Runs of spans sharing strong/link, so each run is wrapped once (no `****`)."""
    current: list[Span] = []
    for span in spans:
        if current and (span.strong, span.href) != (current[0].strong, current[0].href):
            yield current[0].strong, current[0].href, current
            current = []
        current.append(span)
    if current:
        yield current[0].strong, current[0].href, current


def _md_line(spans: Iterable[Span]) -> str:
    out = []
    for strong, href, run in _groups(spans):
        text = "".join(_md_code(s.text) if s.code else _md_text(s.text) for s in run)
        if href:
            text = f"[{text}]({_md_href(href)})"
        if strong and text.strip():
            text = f"**{text}**"
        out.append(text)
    # Literal text at the start of a line must not open a list, heading or setext underline.
    return _MD_LINE_START.sub(r"\\\1", "".join(out))


def _wiki_line(spans: Iterable[Span]) -> str:
    out = []
    for strong, href, run in _groups(spans):
        text = "".join(
            "{{" + _wiki_text(s.text) + "}}" if s.code else _wiki_text(s.text) for s in run
        )
        if href:
            text = f"[{text}|{href.replace('|', '%7C').replace(']', '%5D')}]"
        if strong and text.strip():
            text = f"*{text}*"
        out.append(text)
    return "".join(out)


def to_markdown(blocks: list[Block]) -> str:
    parts = []
    for block in blocks:
        if block.kind == "rule":
            parts.append("---")
        elif block.kind == "heading":
            parts.append("#" * block.level + " " + _md_line(block.lines[0]))
        elif block.kind == "bullets":
            parts.append("\n".join("- " + _md_line(line) for line in block.lines))
        else:
            parts.append(_md_line(block.lines[0]))
    return "\n\n".join(parts)


def to_wiki(blocks: list[Block]) -> str:
    parts = []
    for block in blocks:
        if block.kind == "rule":
            parts.append("----")
        elif block.kind == "heading":
            parts.append(f"h{block.level}. " + _wiki_line(block.lines[0]))
        elif block.kind == "bullets":
            parts.append("\n".join("* " + _wiki_line(line) for line in block.lines))
        else:
            parts.append(_wiki_line(block.lines[0]))
    return "\n\n".join(parts)


def _adf_inline(spans: Iterable[Span]) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    for span in spans:
        marks: list[dict[str, Any]] = []
        if span.code:
            marks.append({"type": "code"})  # ADF allows code only with link
        elif span.strong:
            marks.append({"type": "strong"})
        if span.href:
            marks.append({"type": "link", "attrs": {"href": span.href}})
        node: dict[str, Any] = {"type": "text", "text": span.text}
        if marks:
            node["marks"] = marks
        nodes.append(node)
    return nodes


def to_adf(blocks: list[Block]) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for block in blocks:
        if block.kind == "rule":
            content.append({"type": "rule"})
        elif block.kind == "heading":
            content.append(
                {
                    "type": "heading",
                    "attrs": {"level": block.level},
                    "content": _adf_inline(block.lines[0]),
                }
            )
        elif block.kind == "bullets":
            items = [
                {
                    "type": "listItem",
                    "content": [{"type": "paragraph", "content": _adf_inline(line)}],
                }
                for line in block.lines
            ]
            content.append({"type": "bulletList", "content": items})
        else:
            content.append({"type": "paragraph", "content": _adf_inline(block.lines[0])})
    return {"type": "doc", "version": 1, "content": content}


def write(blocks: list[Block], markup: Markup) -> CommentBody:
    if markup == "markdown":
        return to_markdown(blocks)
    if markup == "jira-wiki":
        return to_wiki(blocks)
    return to_adf(blocks)


def digest(body: CommentBody) -> str:
    """Stable across runs and processes: what the store compares to skip no-op edits."""
    text = body if isinstance(body, str) else json.dumps(body, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ----------------------------------------------------------------- the renderer


def default_template() -> str:
    return files("bmmsync").joinpath("templates/comment.md.j2").read_text(encoding="utf-8")


def environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        autoescape=False,
        finalize=_finalize,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["code"] = _code_filter
    env.filters["ticks"] = _ticks_filter
    return env


@dataclass(frozen=True, slots=True)
class CommentSettings:
    """What the comment shows besides the ticket: from the config's `flagging:` block."""

    label: str = "trace-broken"
    links: tuple[tuple[str, str], ...] = ()
    contacts: tuple[str, ...] = ()
    exempt_label: str | None = "no-trace"


class CommentRenderer:
    """Renders a subject's comment in each source's markup (see `planner.Renderer`).

    Raises `ConfigError` if the (admin's) template does not compile or fails to render.
    """

    def __init__(
        self,
        index: MapIndex,
        settings: CommentSettings,
        markup_for: dict[str, Markup],
        template_text: str | None = None,
    ) -> None:
        self.index = index
        self.settings = settings
        self.markup_for = markup_for
        try:
            self.template = environment().from_string(template_text or default_template())
        except TemplateError as exc:
            raise ConfigError([f"flagging.template: {exc}"]) from exc

    def text(self, subject: Subject, *, restored: bool) -> str:
        """The template output before it is parsed (for tests and debugging)."""
        try:
            return self.template.render(self.context(subject, restored=restored))
        except TemplateError as exc:
            raise ConfigError([f"flagging.template: {exc}"]) from exc

    def __call__(self, subject: Subject, *, restored: bool) -> Rendered:
        markup = self.markup_for.get(subject.verdict.source, "markdown")
        body = write(parse(self.text(subject, restored=restored)), markup)
        return Rendered(body, digest(body))

    def context(self, subject: Subject, *, restored: bool) -> dict[str, Any]:
        verdict, ticket = subject.verdict, subject.ticket
        errors = [f for f in verdict.findings if f.severity.value == "error"]
        primary = errors[0] if errors else verdict.primary
        settings = self.settings
        return {
            "restored": restored,
            "scope_reason": verdict.scope_reason,
            "ticket": {
                "key": ticket.key,
                "title": ticket.title,
                "url": ticket.url,
                "labels": list(ticket.labels),
                "assignee": ticket.assignee or "",
                "project": ticket.project,
            },
            "finding": _finding(primary) if primary else None,
            "findings": [_finding(f) for f in errors],
            "chain": self.chain(subject),
            "label": settings.label,
            "exempt_label": settings.exempt_label,
            "links": [{"title": t, "url": u} for t, u in settings.links],
            "contacts": list(settings.contacts),
        }

    def chain(self, subject: Subject) -> list[dict[str, Any]]:
        """Each capability link and how far it reaches (decisions, motivators), with names."""
        index = self.index
        out = []
        links = {link.capability: link for link in subject.verdict.links}
        for chain in subject.verdict.chain:
            capability = index.capabilities.get(chain.capability)
            link = links.get(chain.capability)
            out.append(
                {
                    "capability": {
                        "id": chain.capability,
                        "name": capability.name if capability else chain.capability,
                        "via": link.provenance if link else "",
                    },
                    "decisions": [
                        {"id": d, "name": index.decisions[d].name if d in index.decisions else d}
                        for d in chain.decisions
                    ],
                    "motivators": [
                        {
                            "id": m,
                            "name": index.motivators[m].name if m in index.motivators else m,
                        }
                        for m in chain.motivators
                    ],
                }
            )
        return out


def _finding(finding: Any) -> dict[str, str]:
    try:
        meaning = Reason(finding.reason).meaning
    except ValueError:
        meaning = ""
    return {
        "reason": finding.reason,
        "meaning": meaning,
        "severity": finding.severity.value,
        "detail": finding.detail,
        "suggestion": finding.suggestion,
    }


def fallback_body(markup: Markup, reason: str, detail: str, label: str) -> CommentBody:
    """A short comment for when the full one exceeds the tracker's size limit."""
    env = environment()
    text = env.from_string(
        "**bmmsync: {% if reason == 'restored' %}trace restored{% else %}broken trace "
        "({{ reason|code }}){% endif %}.** {{ detail|ticks }}\n\n"
        "Run `bmmsync review` for details; the {{ label|code }} label tracks this."
    ).render(reason=reason, detail=detail, label=label)
    return write(parse(text), markup)
