"""The docs site's structure: generated pages are fresh, the nav and the files agree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def _nav_pages(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node] if node.endswith(".md") else []
    if isinstance(node, list):
        return [page for item in node for page in _nav_pages(item)]
    if isinstance(node, dict):
        return [page for value in node.values() for page in _nav_pages(value)]
    return []


class _MkdocsLoader(yaml.SafeLoader):
    """Safe loading plus mkdocs' own ``!relative`` tag (kept as its text)."""


def _relative(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    assert isinstance(node, yaml.ScalarNode)
    return f"!relative {loader.construct_scalar(node)}"


_MkdocsLoader.add_constructor("!relative", _relative)


def _mkdocs() -> dict[str, Any]:
    loaded = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=_MkdocsLoader)
    assert isinstance(loaded, dict)
    return loaded


def test_generated_pages_are_not_stale() -> None:
    # Regenerates configuration.md, cli.md and the hook reference of plugins.md in
    # memory (a fresh interpreter, so plugin loading is the generator's own) and compares.
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_docs.py"), "--check"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{proc.stderr.strip()}\n(run python scripts/gen_docs.py and commit the result)"


def test_every_nav_page_exists() -> None:
    missing = [page for page in _nav_pages(_mkdocs()["nav"]) if not (DOCS / page).is_file()]
    assert not missing, f"mkdocs.yml nav lists pages that do not exist: {missing}"


def test_every_page_is_in_the_nav() -> None:
    in_nav = set(_nav_pages(_mkdocs()["nav"]))
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    orphans = sorted(pages - in_nav)
    assert not orphans, f"pages missing from the mkdocs.yml nav: {orphans}"


def test_nav_lists_each_page_once() -> None:
    pages = _nav_pages(_mkdocs()["nav"])
    assert len(pages) == len(set(pages)), sorted(p for p in pages if pages.count(p) > 1)


def test_one_page_per_builtin_detector_and_notify_channel() -> None:
    from rlwatch.plugins import builtin_detector_classes

    in_nav = set(_nav_pages(_mkdocs()["nav"]))
    wanted = {f"detectors/{cls.id}.md" for cls in builtin_detector_classes()}
    wanted |= {f"channels/{name}.md" for name in ("slack", "discord", "email", "webhook", "pagerduty")}
    assert wanted <= in_nav, sorted(wanted - in_nav)


def test_changelog_page_includes_the_root_changelog() -> None:
    # docs/changelog.md is a pymdownx.snippets include, not a copy: it cannot drift.
    page = (DOCS / "changelog.md").read_text(encoding="utf-8")
    assert '--8<-- "CHANGELOG.md"' in page
    extensions = _mkdocs()["markdown_extensions"]
    snippets = next(e["pymdownx.snippets"] for e in extensions if isinstance(e, dict) and "pymdownx.snippets" in e)
    assert snippets["check_paths"] is True  # a missing CHANGELOG.md fails the build


def test_the_site_builds_offline() -> None:
    # No web fonts, no analytics: nothing in the theme reaches out when the site is built or opened.
    config = _mkdocs()
    assert config["theme"]["font"] is False
    assert "analytics" not in config.get("extra", {})
    assert config.get("strict") is True


def test_every_environment_variable_the_code_reads_is_documented() -> None:
    # The configuration reference covers config-backed variables; this catches the others
    # (adapter switches, debugging aids) that a user can only learn about from the docs.
    import re

    names: set[str] = set()
    for source in ROOT.glob("rlwatch-*/src/**/*.py"):
        names |= set(re.findall(r"\bRLWATCH_[A-Z][A-Z0-9_]*[A-Z0-9]\b", source.read_text(encoding="utf-8")))
    docs_text = "\n".join(p.read_text(encoding="utf-8") for p in DOCS.rglob("*.md"))
    undocumented = sorted(n for n in names if n not in docs_text)
    assert names and not undocumented, f"environment variables read by the code but not in docs/: {undocumented}"


def test_built_site_loads_nothing_from_the_network(tmp_path: Path) -> None:
    # Pages must open offline: no stylesheet, script, font or image from another host.
    import os
    import re

    site = os.environ.get("DOCS_SITE_DIR", "")
    if not site:
        import importlib.util

        import pytest

        if importlib.util.find_spec("mkdocs") is None:
            pytest.skip("mkdocs is not installed (nox -s docs installs it)")
        site = str(tmp_path / "site")
        subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-f", str(ROOT / "mkdocs.yml"),
                        "--site-dir", site], check=True, capture_output=True, timeout=300,
                       env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    remote = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=["']?(?:https?:)?//""", re.I)
    css_remote = re.compile(r"""(?:url\(|@import\s+)["']?(?:https?:)?//""", re.I)
    offenders = []
    for path in Path(site).rglob("*"):
        if path.suffix == ".html":
            text = path.read_text(encoding="utf-8")
            for tag in remote.finditer(text):
                line = text[tag.start():text.find(">", tag.start()) + 1]
                if 'rel="canonical"' not in line:
                    offenders.append(f"{path.name}: {line[:120]}")
        elif path.suffix == ".css" and css_remote.search(path.read_text(encoding="utf-8")):
            offenders.append(path.name)
    assert Path(site, "index.html").is_file()
    assert not offenders, offenders[:10]
