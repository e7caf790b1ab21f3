"""README.md and the pages of ``docs/`` name only files that exist and link only to headings
that exist.

``make docs`` (``mkdocs build --strict``, part of ``make test``) checks the links between the
pages of ``docs/``; it does not see README.md, which GitHub renders as the front page and whose
links go into ``docs/``, nor the paths of ``examples/`` the pages mention in code spans. This
checks those: every ``examples/...`` path is a file (or folder) of the repository, every relative
link points to an existing file, and every ``#anchor`` is the id of a heading of the target, both
as MkDocs makes it (Python-Markdown's ``toc``, as in the built site) and as GitHub does (when
the page is read in the repository).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import markdown  # type: ignore[import-untyped]
import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
PAGES = [REPO / "README.md", *sorted(DOCS.glob("*.md"))]

FENCE = re.compile(r"^( {0,3})(```|~~~).*?^\1\2[^\n]*$", re.M | re.S)
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
EXAMPLE_PATH = re.compile(r"(?<![\w./-])examples/[\w./-]*[\w-]")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$", re.M)


def _name(path: Path) -> str:
    return str(path.relative_to(REPO))


def _without_code(text: str) -> str:
    """The text with fenced code blocks and code spans blanked out (no links live there)."""
    text = FENCE.sub("", text)
    return CODE_SPAN.sub("", text)


def _links(path: Path) -> list[str]:
    return LINK.findall(_without_code(path.read_text(encoding="utf-8")))


def _is_relative(target: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) and not target.startswith("/")


@cache
def mkdocs_ids(path: Path) -> frozenset[str]:
    """The heading ids MkDocs gives the page: Python-Markdown's ``toc`` extension, which
    MkDocs always loads (lowercase, markup and punctuation dropped, spaces to hyphens)."""
    md = markdown.Markdown(extensions=["toc", "tables", "fenced_code"])
    md.convert(path.read_text(encoding="utf-8"))
    ids: set[str] = set()

    def walk(tokens: list[dict[str, Any]]) -> None:
        for token in tokens:
            ids.add(str(token["id"]))
            walk(token["children"])

    walk(md.toc_tokens)
    return frozenset(ids)


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: its text (code spans and links as their text),
    lowercased, everything but letters, digits, ``_``, ``-`` and spaces dropped, each space a
    hyphen."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = text.replace("`", "").replace("*", "")
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


@cache
def github_ids(path: Path) -> frozenset[str]:
    """Every heading's GitHub anchor, with GitHub's ``-1``, ``-2`` for repeated ones."""
    seen: dict[str, int] = {}
    ids: set[str] = set()
    for _, heading in HEADING.findall(FENCE.sub("", path.read_text(encoding="utf-8"))):
        slug = github_slug(heading)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        ids.add(slug if count == 0 else f"{slug}-{count}")
    return frozenset(ids)


def test_the_pages_are_there() -> None:
    """The README's documentation links have pages to go to, and each page is in the nav."""
    names = {path.name for path in DOCS.glob("*.md")}
    assert {"index.md", "site-admins.md", "hr-and-integrators.md", "fleet-operators.md"} <= names
    assert {"developers.md"} <= names
    nav = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    assert not [name for name in names if f": {name}" not in nav], "a page missing from the nav"


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_example_paths_exist(page: Path) -> None:
    """Every ``examples/...`` path the page names (in text or code) is in the repository."""
    paths = set(EXAMPLE_PATH.findall(page.read_text(encoding="utf-8")))
    missing = sorted(p for p in paths if not (REPO / p).exists())
    assert not missing, f"{_name(page)} names files that do not exist: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_relative_links_exist(page: Path) -> None:
    """Every relative link points to a file of the repository."""
    missing = []
    for target in _links(page):
        if not _is_relative(target) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0]
        if not (page.parent / path).exists():
            missing.append(target)
    assert not missing, f"{_name(page)} links to files that do not exist: {missing}"


@pytest.mark.parametrize("page", PAGES, ids=_name)
def test_anchors_exist(page: Path) -> None:
    """Every ``#anchor`` (on the page itself or on another Markdown page) is a heading's id
    there, for MkDocs and for GitHub alike."""
    broken = []
    for target in _links(page):
        if not _is_relative(target) or "#" not in target:
            continue
        path, anchor = target.split("#", 1)
        doc = (page.parent / path).resolve() if path else page
        if doc.suffix != ".md" or not doc.is_file():
            continue
        if anchor not in mkdocs_ids(doc) or anchor not in github_ids(doc):
            broken.append(target)
    assert not broken, f"{_name(page)} links to headings that do not exist: {broken}"


def test_readme_links_into_docs() -> None:
    """The front page links to the pages of every reader."""
    targets = {target.split("#", 1)[0] for target in _links(REPO / "README.md")}
    for page in ("index", "site-admins", "hr-and-integrators", "fleet-operators", "developers"):
        assert f"docs/{page}.md" in targets


def test_slugs_match_mkdocs() -> None:
    """The GitHub slug above agrees with Python-Markdown on the kinds of heading these pages
    use (code spans, commas, colons, apostrophes, parentheses, underscores)."""
    heading = "What `open`, `unverified` and `no_verdict_clock` mean: the HR system's (v1)"
    md = markdown.Markdown(extensions=["toc"])
    md.convert(f"## {heading}\n")
    assert md.toc_tokens[0]["id"] == github_slug(heading)


def test_quick_start_commands_name_examples() -> None:
    """The README's quick start runs the example configs it promises."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name in ("usb-camera-screen.toml", "video-file.toml", "training-room-door.toml"):
        assert f"examples/{name}" in readme
    for command in ("enroll --id", "events list", "make demo", "make test", ".venv/bin/kiosk"):
        assert command in readme
