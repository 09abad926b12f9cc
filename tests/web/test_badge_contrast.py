"""The unread-notifications badge in the header is readable: its text against its background
has a contrast of at least 4.5:1 (WCAG AA), computed from static/css/app.css for the element
as the page renders it (its own classes and those of its ancestors)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from buurtbudget.extensions import db
from buurtbudget.models import Notification

CSS = Path(__file__).resolve().parents[2] / "static" / "css" / "app.css"


def _rules(css: str) -> list[tuple[str, dict[str, str]]]:
    """Top-level rules in order (blocks inside @media and the like are left out)."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    rules, depth, start, selector = [], 0, 0, ""
    for index, char in enumerate(css):
        if char == "{":
            if depth == 0:
                selector, start = css[start:index].strip(), index + 1
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                if not selector.startswith("@"):
                    body = css[start:index]
                    declarations = {}
                    for part in body.split(";"):
                        if ":" in part:
                            name, value = part.split(":", 1)
                            declarations[name.strip()] = value.strip()
                    rules.append((selector, declarations))
                start = index + 1
    return rules


def _compound_matches(compound: str, element: tuple[str, set[str]]) -> bool:
    if re.search(r"[:\[>+~]", compound):
        return False  # pseudo-classes (hover, focus) and other combinators: not at rest
    tag, classes = element
    name = re.match(r"^[a-zA-Z][\w-]*|\*", compound)
    if name and name.group(0) not in ("*", tag):
        return False
    return set(re.findall(r"\.([\w-]+)", compound)) <= classes


def _matches(selector: str, chain: list[tuple[str, set[str]]]) -> tuple[int, int] | None:
    """The specificity (classes, tags) when ``selector`` matches the last element of chain."""
    compounds = selector.split()
    if not compounds or not _compound_matches(compounds[-1], chain[-1]):
        return None
    position = len(chain) - 1
    for compound in reversed(compounds[:-1]):
        position -= 1
        while position >= 0 and not _compound_matches(compound, chain[position]):
            position -= 1
        if position < 0:
            return None
    classes = sum(len(re.findall(r"\.[\w-]+", c)) for c in compounds)
    tags = sum(1 for c in compounds if re.match(r"^[a-zA-Z]", c))
    return classes, tags


def _declared(rules, chain, names) -> str | None:
    best = None
    for order, (selectors, declarations) in enumerate(rules):
        for selector in selectors.split(","):
            specificity = _matches(selector.strip(), chain)
            if specificity is None:
                continue
            for name in names:
                if name in declarations:
                    key = (specificity, order)
                    if best is None or key >= best[0]:
                        best = (key, declarations[name])
    return best[1] if best else None


def _resolve(value: str, variables: dict[str, str]) -> str:
    while "var(" in value:
        value = re.sub(r"var\((--[\w-]+)\)", lambda m: variables[m.group(1)], value)
    return value


def _colour(value: str) -> tuple[float, float, float]:
    found = re.search(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b", value)
    assert found, f"no colour in {value!r}"
    digits = found.group(1)
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    return tuple(int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4))


def _luminance(rgb) -> float:
    def channel(c):
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(foreground, background) -> float:
    high, low = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def computed_colours(css: str, chain) -> tuple[tuple, tuple]:
    """The text colour (inherited upwards) and the backdrop (the nearest background)."""
    rules = _rules(css)
    variables = {
        name: value
        for selector, declarations in rules
        if selector == ":root"
        for name, value in declarations.items()
        if name.startswith("--")
    }
    colour = background = None
    for depth in range(len(chain), 0, -1):
        if colour is None:
            colour = _declared(rules, chain[:depth], ["color"])
        if background is None:
            value = _declared(rules, chain[:depth], ["background", "background-color"])
            if value and "transparent" not in value and "none" not in value:
                background = value
    colour, background = colour or "#000000", background or "#ffffff"
    return _colour(_resolve(colour, variables)), _colour(_resolve(background, variables))


class _BadgeChain(HTMLParser):
    """The tags and classes from <html> down to the header's badge."""

    VOID = {"meta", "link", "img", "br", "input", "hr", "source"}

    def __init__(self):
        super().__init__()
        self.stack, self.chain = [], None

    def handle_starttag(self, tag, attrs):
        classes = set((dict(attrs).get("class") or "").split())
        if tag in self.VOID:
            return
        self.stack.append((tag, classes))
        if (
            self.chain is None
            and "badge" in classes
            and any("site-header" in c for _, c in self.stack)
        ):
            self.chain = list(self.stack)

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        while self.stack:
            if self.stack.pop()[0] == tag:
                break


def test_the_contrast_formula():
    assert round(contrast(_colour("#ffffff"), _colour("#f3f6f4")), 2) == 1.09
    assert round(contrast(_colour("#000"), _colour("#fff")), 1) == 21.0


def test_the_unread_badge_is_readable(app, make, client_for):
    user = make.resident(make.area())
    db.session.add(Notification(user=user, kind="initiative.commented", params={}))
    db.session.commit()
    page = client_for(user).get("/").text
    parser = _BadgeChain()
    parser.feed(page)
    assert parser.chain, "no unread badge in the header"
    foreground, background = computed_colours(CSS.read_text(encoding="utf-8"), parser.chain)
    assert contrast(foreground, background) >= 4.5
