"""mkdocs hook: pages under docs/ that mkdocs.yml's nav does not list are added to the navigation
automatically — feature guides (docs/*.md) under "Guides", worked cases (docs/cases/*.md) under
"Worked cases" — so a new page is never orphaned. mkdocs.yml lists the hand-ordered pages."""

from __future__ import annotations

from mkdocs.structure.nav import Section
from mkdocs.structure.pages import Page


def on_nav(nav, config, files):
    listed = {page.file.src_uri for page in nav.pages}
    extra = sorted((f for f in files.documentation_pages()
                    if f.src_uri not in listed and isinstance(f.page, Page) and f.inclusion.is_in_nav()),
                   key=lambda f: f.src_uri)
    guides = [f.page for f in extra if "/" not in f.src_uri]
    cases = [f.page for f in extra if f.src_uri.startswith("cases/")]
    others = [f.page for f in extra if "/" in f.src_uri and not f.src_uri.startswith("cases/")]
    for title, pages in (("Guides", guides), ("Worked cases", cases), ("More", others)):
        if not pages:
            continue
        section = Section(title, pages)
        for page in pages:
            page.parent = section
        nav.items.append(section)
        nav.pages.extend(pages)
    for before, after in zip(nav.pages, nav.pages[1:]):
        before.next_page = after
        after.previous_page = before
    return nav
