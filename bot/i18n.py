"""Gettext catalogs on disk: compile and load them into `Catalogs`, and extract menu strings for babel."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from bot.engine.catalogs import Catalogs

LANGUAGES = ("zh_Hans", "en")
DOMAIN = "messages"


def _mo_path(locale_dir: Path, lang: str) -> Path:
    return locale_dir / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"


def compile_catalogs(locale_dir: Path) -> list[Path]:
    """Compile every .po whose .mo is missing or older (what `pybabel compile` does)."""
    done = []
    for po in sorted(locale_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as f:
            catalog = read_po(f)
        with mo.open("wb") as f:
            write_mo(f, catalog, use_fuzzy=True)
        done.append(mo)
    return done


def load_catalogs(locale_dir: Path) -> Catalogs:
    """Load the compiled catalogs, compiling them first when the .mo files are stale or missing."""
    try:
        compile_catalogs(locale_dir)
    except OSError:  # a read-only install: the image compiled them at build time
        pass
    loaded: dict[str, NullTranslations] = {}
    for lang in LANGUAGES:
        mo = _mo_path(locale_dir, lang)
        loaded[lang] = Translations.load(str(locale_dir), [lang], DOMAIN) if mo.exists() else NullTranslations()
    return Catalogs(loaded)


def extract_toml(fileobj, keywords, comment_tags, options) -> Iterator[tuple[int, str, str, list[str]]]:
    """Babel extractor for menus/*.toml: every `title` and `label` value is a message id."""
    import tomllib

    data = tomllib.loads(fileobj.read().decode("utf-8"))
    for menu in data.get("menu", {}).values():
        yield 0, "", menu["title"], []
        for item in menu.get("items", []):
            yield 0, "", item["label"], []
