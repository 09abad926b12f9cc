"""A background job run by a worker thread while a browser test watches its page."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from buurtbudget.extensions import db
from buurtbudget.models import BackgroundJob
from buurtbudget.services import jobs


@contextmanager
def worker_runs_the_job(app, go_on: threading.Event) -> Iterator[dict]:
    """A worker (as `flask jobs work` would) claims the queued job and runs it in a thread;
    the test's step is expected to wait for ``go_on``, which is set on leaving, so the page
    can be checked mid-step. Yields a dict that holds the job's final status ("status")
    once the block has ended."""
    job_id = jobs.claim().id
    ended: dict = {}

    def worker() -> None:
        with app.app_context():
            ended["status"] = jobs.run(db.session.get(BackgroundJob, job_id)).status
            db.session.remove()

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        yield ended
    finally:
        go_on.set()
        thread.join(timeout=60)
