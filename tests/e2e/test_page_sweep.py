"""Every GET route of the URL map, for every role, in real Chromium on the demo data: no page
scrolls sideways at 320 or 1280 CSS pixels (WCAG 1.4.10), no page repeats an element id, and
axe-core finds no WCAG 2.1 A/AA or best-practice violation. One browser, one context per role,
one page reused; see tests/e2e/sweep.py."""

from __future__ import annotations

import os
import time

import pytest

from buurtbudget.demo import seed_demo
from buurtbudget.demo.people import DEMO_PASSWORD
from buurtbudget.extensions import db
from tests.e2e.sweep import AXE_SCRIPT, RouteSweeper, get_rules

# Delft has an open round, a closed round with results, payouts, a council and initiatives in
# every state; bewoner1-1 is also a council member, bewoner1-2 only a resident.
ROLES = {
    "anonymous": None,
    "resident": "bewoner1-2.delft@demo.buurtbudget.nl",
    "council_member": "bewoner1-1.delft@demo.buurtbudget.nl",
    "coordinator": "coordinator1.delft@demo.buurtbudget.nl",
    "administrator": "admin.delft@demo.buurtbudget.nl",
}


def _log_in(page, email: str) -> None:
    page.goto("/account/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(DEMO_PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state("load")
    assert "/account/login" not in page.url, f"login as {email} failed"


@pytest.mark.e2e
@pytest.mark.timeout(1200)
def test_every_get_route_reflows_and_passes_axe_for_every_role(
    app, _playwright_browser, app_server
):
    if not AXE_SCRIPT.exists():
        message = "axe-core is missing: `make node_modules` installs it (npm ci)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    began = time.perf_counter()
    seed_demo(progress=lambda message: None)
    db.session.remove()
    seeded = time.perf_counter() - began

    sweeper = RouteSweeper(app, app_server)
    failures, report = [], [f"seed {seeded:.1f}s"]
    for role, email in ROLES.items():
        context = _playwright_browser.new_context(
            base_url=app_server,
            locale="nl-NL",
            bypass_csp=True,  # to inject axe-core
        )
        context.set_default_timeout(15_000)
        try:
            page = context.new_page()
            if email:
                _log_in(page, email)
            result = sweeper.sweep(page, role)
        finally:
            context.close()
        failures += result.failures
        report.append(
            f"{role}: {len(result.opened)} pages in {result.seconds:.0f}s "
            + ", ".join(f"{part} {seconds:.0f}s" for part, seconds in result.timing.items())
        )
        endpoints = set(result.opened.values())
        missing = [r.endpoint for r in get_rules(app) if r.endpoint not in endpoints]
        assert missing == [], f"{role}: routes not opened: {missing}"
    print("\n" + "; ".join(report))
    assert failures == [], "\n".join(failures + report)
