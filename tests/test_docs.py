"""The docs stay true where a machine can tell: paths, commands, tables, settings and quoted screens."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import inspect

from bot.tools.cli import parser
from bot.db import make_engine, upgrade
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TOP = ("bot", "flows", "menus", "integrations", "jobs", "locale", "tests", "bench", "docs")
PATH = re.compile(r"`((?:%s)/[\w./-]+)`" % "|".join(TOP))


def _text(doc: Path) -> str:
    return " ".join(doc.read_text("utf-8").split())  # quotes may wrap across lines


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_every_path_a_doc_names_exists(doc):
    """A renamed or removed module must not live on in the docs."""
    missing = [p for p in PATH.findall(doc.read_text("utf-8")) if "..." not in p and not (ROOT / p).exists()]
    assert not missing, f"{doc.name} names paths that do not exist: {missing}"


def test_the_readme_points_only_inside_the_clone():
    """A user's clone has no ../shared: the README may not send them there."""
    assert "../" not in (ROOT / "README.md").read_text("utf-8")


def _subcommands() -> list[str]:
    action = next(a for a in parser()._actions if a.dest == "command")
    return sorted(action.choices)


def test_every_command_is_in_the_readme_and_the_architecture():
    readme, arch = (ROOT / "README.md").read_text("utf-8"), (ROOT / "docs" / "architecture.md").read_text("utf-8")
    for name in _subcommands():
        assert f"`shortcode {name}" in readme, f"README's Commands table lacks `shortcode {name}`"
        assert f"`{name}" in arch, f"docs/architecture.md does not list the `{name}` command"


def test_every_table_of_the_schema_is_in_the_architecture(tmp_path):
    """The tables the migrations create, not the ones someone remembers."""
    url = f"sqlite:///{tmp_path / 'schema.db'}"
    upgrade(url)
    engine = make_engine(url)
    tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
    engine.dispose()
    arch = (ROOT / "docs" / "architecture.md").read_text("utf-8")
    assert not [t for t in sorted(tables) if f"`{t}`" not in arch]


def _code() -> str:
    files = [p for d in ("bot", "flows", "integrations", "jobs") for p in (ROOT / d).rglob("*.py")]
    return "\n".join(p.read_text("utf-8") for p in files if p.name != "settings.py")


def test_a_setting_the_reference_calls_unread_is_unread():
    """configuration.md once called `service.timezone` unread while the code read it: such a claim is checked."""
    code = _code()
    for row in (ROOT / "docs" / "configuration.md").read_text("utf-8").splitlines():
        cells = [c.strip(" `") for c in row.split("|")]
        if len(cells) > 3 and re.search(r"not read|never read|unused", row, re.I):
            assert not re.search(rf"\.{cells[2]}\b", code), f"configuration.md calls {cells[1]}.{cells[2]} unread"


def _msgid_pattern(msgid: str) -> re.Pattern:
    """A catalog entry as a pattern: a parameter matches its name or any value it was rendered with."""
    parts = re.split(r"(\{\w+\})", msgid)
    return re.compile("".join(r"(?:\{\w+\}|.+?)" if p.startswith("{") else re.escape(p) for p in parts))


def _says(msgid: str, quote: str, cut: bool) -> bool:
    """Whether a quote is the entry, or (cut short with '...') the entry's first words."""
    words = msgid.split()
    heads = [" ".join(words[:k]).rstrip(".,;:") for k in range(1, len(words) + 1)] if cut else [" ".join(words)]
    return any(_msgid_pattern(h).fullmatch(quote) for h in heads)


def _quoted_screens(doc: Path) -> list[str]:
    """Double-quoted English sentences of three words or more: what a doc says a screen says."""
    return [q for q in re.findall(r'"([A-Z][^"]{8,}?)"', _text(doc)) if len(q.split()) >= 3]


@pytest.mark.parametrize("doc", [d for d in DOCS if d.name in ("architecture.md", "channels.md", "products.md",
                                                               "operations.md")], ids=lambda d: d.name)
def test_quoted_screen_texts_are_what_the_catalog_says(doc):
    """A quoted reply ("Sorry, ...") must be a catalog entry, or its beginning when the doc cuts it with '...'."""
    with open(ROOT / "locale" / "messages.pot", "rb") as f:
        ids = [" ".join(m.id.split()) for m in read_po(f) if m.id and isinstance(m.id, str)]
    ids = [i for i in ids if len(re.sub(r"\{\w+\}", "", i).split()) >= 2]  # "{name}" alone says nothing
    wrong = []
    for quote in _quoted_screens(doc):
        cut = quote.endswith(("...", "…"))
        core = quote.rstrip(".…").strip().rstrip(".,;:") if cut else quote
        if not any(_says(i, core, cut) for i in ids):
            wrong.append(quote)
    assert not wrong, f"{doc.name} quotes screens the catalog does not have: {wrong}"


def test_the_package_promises_only_channels_that_exist():
    description = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["description"]
    for channel in ("USSD", "SMS", "Telegram", "WhatsApp"):
        if channel in description:
            assert (ROOT / "bot" / "channels" / f"{channel.lower()}.py").exists(), f"no {channel} channel"


def test_the_dockerfile_says_which_database_drivers_it_has():
    """The image installs the package's dependencies: a driver among them is there, whatever a comment says."""
    deps = " ".join(tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["dependencies"])
    dockerfile = (ROOT / "Dockerfile").read_text("utf-8")
    if "psycopg" in deps:
        assert not re.search(r"driver is not installed|no (PostgreSQL )?driver", dockerfile, re.I)
        assert "psycopg" in dockerfile
