"""One pass of real Chromium over every GET route of the URL map, per role.

Each page is checked at 1280 and at 320 CSS pixels for sideways scrolling of the page (WCAG
1.4.10 Reflow), for duplicate element ids, and with axe-core (WCAG 2.1 A/AA and best practice).

Routes are found from the app's URL map, not from a list: a crawl follows the links each role
sees (so id-taking routes open with ids that exist and pages render real content), and every GET
route the crawl did not reach is then opened with argument values seen elsewhere for the same
argument name (or 1, as the permission matrix does). A route added by anyone is therefore swept.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect, Rule

REPOSITORY = Path(__file__).resolve().parents[2]
AXE_SCRIPT = REPOSITORY / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
WIDTHS = (320, 1280)  # phone first: axe-core runs at the first width
HEIGHT = 800
STRING_ARGUMENTS = {"lang": "en", "filename": "css/app.css", "code": "XXXX-XXXX", "token": "x"}
# The header and footer are the same on every page of a role: axe-core checks them on the
# role's first page and leaves them out after that.
CHROME = ["header.site-header", "footer.site-footer", "a.skip-link"]
# What a page shows in <main>, without the per-request CSRF token: pages that show the same
# (public pages seen by several roles) are checked by axe-core once.
MAIN_SCRIPT = """() => {
  const main = document.querySelector('main');
  return main ? main.innerHTML.replace(/value="[^"]*"/g, '') : document.body.innerHTML;
}"""
# Endpoints that must not be followed by a crawl that runs as a logged-in user.
NEVER_OPEN = {"auth.logout", "static"}

OVERFLOW_SCRIPT = """() => {
  const root = document.documentElement;
  const overflow = root.scrollWidth - root.clientWidth;
  if (overflow <= 0) return null;
  const culprits = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.right > root.clientWidth + 1 && box.width > 0) {
      let inside = false;
      for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
        const style = getComputedStyle(p);
        if (['auto', 'scroll', 'hidden'].includes(style.overflowX)) {
          inside = true; break;
        }
      }
      if (!inside && getComputedStyle(el).position !== 'fixed') {
        const classes = typeof el.className === 'string' ? el.className.trim() : '';
        const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
          (classes ? '.' + classes.split(/\\s+/).join('.') : '');
        culprits.push(name + ' (right ' + Math.round(box.right) + ')');
        if (culprits.length >= 3) break;
      }
    }
  }
  if (!culprits.length) {  // text wider than its box: a long word, a button label
    for (const el of document.body.querySelectorAll('*')) {
      if (el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0 && el.children.length === 0
          && getComputedStyle(el).overflowX === 'visible') {
        const text = el.textContent.trim().slice(0, 40);
        culprits.push(el.tagName.toLowerCase() + ' text "' + text + '"');
        if (culprits.length >= 3) break;
      }
    }
  }
  return {overflow, culprits};
}"""

DUPLICATE_IDS_SCRIPT = """() => {
  const seen = new Map();
  for (const el of document.querySelectorAll('[id]')) seen.set(el.id, (seen.get(el.id) || 0) + 1);
  return [...seen].filter(([, n]) => n > 1).map(([id]) => id);
}"""

NEXT_FRAMES_SCRIPT = """() =>
  new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"""

LINKS_SCRIPT = (
    """() => [...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))"""
)

AXE_RUN_SCRIPT = """async ([tags, exclude]) => {
  const context = exclude.length ? {include: [document], exclude: exclude.map(s => [s])} : document;
  const result = await axe.run(
    context, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return result.violations.map(v => v.id + ' (' + v.impact + '): ' +
    v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '));
}"""


@dataclass
class Sweep:
    """What one role's pass saw: the pages opened (url -> endpoint) and what failed."""

    role: str
    opened: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    seen: set[str] = field(default_factory=set)
    chrome_checked: bool = False  # the header and footer of this role
    timing: dict[str, float] = field(
        default_factory=lambda: {"load": 0.0, "reflow": 0.0, "axe": 0.0}
    )


def get_rules(app) -> list[Rule]:
    return [
        rule
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and rule.endpoint not in NEVER_OPEN
    ]


class RouteSweeper:
    def __init__(self, app, base_url: str, *, per_endpoint: int = 1, check_axe: bool = True):
        self.app = app
        self.base_url = base_url
        self.host = urlsplit(base_url).netloc
        self.adapter = app.url_map.bind(self.host)
        self.per_endpoint = per_endpoint
        self.check_axe = check_axe
        self.axe_source = AXE_SCRIPT.read_text(encoding="utf-8") if check_axe else ""
        self.main_checked: set[str] = set()  # hashes of <main> contents axe-core checked
        # Argument values seen in any role's crawl, by argument name, for routes not reached.
        self.values: dict[str, list[object]] = {}

    def _match(self, path: str) -> tuple[str, dict] | None:
        try:
            return self.adapter.match(path, method="GET")
        except RequestRedirect:
            return None
        except HTTPException:
            return None

    def _local_path(self, href: str, current: str) -> str | None:
        absolute = urljoin(current, href)
        parts = urlsplit(absolute)
        if parts.netloc != self.host or parts.scheme not in ("http", "https"):
            return None
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def _urls_for(self, rule: Rule, tries: int = 4) -> list[str]:
        """URLs for a rule: argument values seen in the crawls (by argument name) first, else
        1 or a fixed string as the permission matrix does."""
        choices = []
        for argument in rule.arguments:
            converter = rule._converters[argument].__class__.__name__
            seen = self.values.get(argument)
            if seen:
                choices.append(seen[:tries])
            elif "Integer" in converter:
                choices.append([1])
            else:
                choices.append([STRING_ARGUMENTS.get(argument, "x")])
        urls = []
        with self.app.test_request_context():
            from flask import url_for

            for attempt in range(max((len(c) for c in choices), default=1)):
                values = {
                    name: options[min(attempt, len(options) - 1)]
                    for name, options in zip(rule.arguments, choices, strict=True)
                }
                url = url_for(rule.endpoint, **values)
                if url not in urls:
                    urls.append(url)
        return urls

    def _check(self, page, path: str, sweep: Sweep) -> tuple[int, list[str]]:
        """Open one page and check it at every width: its status and the links on it."""
        began = time.perf_counter()
        try:
            page.set_viewport_size({"width": WIDTHS[0], "height": HEIGHT})
            response = page.goto(path, wait_until="load")
        except Exception as error:  # a download (CSV, PDF, .pb) is not a page
            if "Download is starting" in str(error):
                return 200, []
            sweep.failures.append(f"{sweep.role} {path}: did not load: {error}")
            return 599, []
        status = response.status if response else 599
        if status >= 500:
            sweep.failures.append(f"{sweep.role} {path}: status {status}")
        if response is None or "text/html" not in (response.headers.get("content-type") or ""):
            return status, []
        # A redirect (to the login page) or a refusal shows a page already checked for this
        # role: the login form, or the error page of that status.
        final = urlsplit(page.url)
        if final.path != urlsplit(path).path:
            seen_as, status = f"redirect {final.path}", 302
        elif status >= 400:
            seen_as = f"status {status}"
        else:
            seen_as = None
        if seen_as in sweep.seen:
            return status, []
        if seen_as:
            sweep.seen.add(seen_as)
        sweep.timing["load"] += time.perf_counter() - began
        began = time.perf_counter()
        self._reflow(page, path, WIDTHS[0], sweep)
        duplicates = page.evaluate(DUPLICATE_IDS_SCRIPT)
        if duplicates:
            sweep.failures.append(f"{sweep.role} {path}: duplicate ids {duplicates}")
        links = page.evaluate(LINKS_SCRIPT)
        sweep.timing["reflow"] += time.perf_counter() - began
        began = time.perf_counter()
        main = hashlib.sha256(page.evaluate(MAIN_SCRIPT).encode()).hexdigest()
        if self.check_axe and not (sweep.chrome_checked and main in self.main_checked):
            if not page.evaluate("() => typeof axe !== 'undefined'"):
                page.add_script_tag(content=self.axe_source)
            exclude = CHROME if sweep.chrome_checked else []
            for violation in page.evaluate(AXE_RUN_SCRIPT, [AXE_TAGS, exclude]):
                sweep.failures.append(f"{sweep.role} {path} ({WIDTHS[0]}px): {violation}")
            sweep.chrome_checked = True
            self.main_checked.add(main)
        sweep.timing["axe"] += time.perf_counter() - began
        began = time.perf_counter()
        for width in WIDTHS[1:]:
            page.set_viewport_size({"width": width, "height": HEIGHT})
            page.evaluate(NEXT_FRAMES_SCRIPT)  # charts resize on a ResizeObserver
            self._reflow(page, path, width, sweep)
        sweep.timing["reflow"] += time.perf_counter() - began
        return status, links

    @staticmethod
    def _reflow(page, path: str, width: int, sweep: Sweep) -> None:
        overflow = page.evaluate(OVERFLOW_SCRIPT)
        if overflow:
            sweep.failures.append(
                f"{sweep.role} {path}: scrolls sideways at {width}px by "
                f"{overflow['overflow']}px: {', '.join(overflow['culprits'])}"
            )

    def sweep(self, page, role: str, start: tuple[str, ...] = ("/",)) -> Sweep:
        """Crawl from ``start`` following the links this role sees (up to ``per_endpoint``
        pages per endpoint that answer 2xx), then open every GET route not reached."""
        began = time.perf_counter()
        result = Sweep(role)
        shown: dict[str, int] = {}  # endpoint -> pages that answered 2xx
        queue = deque((path, None) for path in start)  # (path, page that links to it)
        queued = set(start)

        def visit(path: str, endpoint: str, arguments: dict) -> int:
            status, links = self._check(page, path, result)
            result.opened[path] = endpoint
            if status < 300:
                shown[endpoint] = shown.get(endpoint, 0) + 1
                for name, value in arguments.items():
                    known = self.values.setdefault(name, [])
                    if value not in known:
                        known.append(value)
            current = urljoin(self.base_url, path)
            for href in links:
                local = self._local_path(href, current)
                if local is None or local in queued:
                    continue
                found = self._match(urlsplit(local).path)
                if found and found[0] not in NEVER_OPEN:
                    queued.add(local)
                    queue.append((local, path))
            return status

        while queue:
            path, linked_from = queue.popleft()
            matched = self._match(urlsplit(path).path)
            if matched is None or shown.get(matched[0], 0) >= self.per_endpoint:
                continue
            if visit(path, *matched) == 403 and linked_from:
                result.failures.append(f"{role} {linked_from}: links to {path}, which answers 403")
        # Every GET route the crawl did not show, with argument values seen elsewhere.
        for rule in get_rules(self.app):
            if shown.get(rule.endpoint):
                continue
            for path in self._urls_for(rule):
                if path in result.opened:
                    continue
                matched = self._match(urlsplit(path).path)
                if visit(path, rule.endpoint, matched[1] if matched else {}) < 300:
                    break
        result.seconds = time.perf_counter() - began
        return result
