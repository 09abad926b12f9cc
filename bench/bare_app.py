"""The baseline for bench/load.py: a bare Flask app whose one route does one INSERT.

    gunicorn -w 2 'bench.bare_app:create_app()'   (with BENCH_DATABASE_URL set)

No sessions, templates, CSRF or login: it measures what Flask, gunicorn, the connection pool
and one committed INSERT cost on this machine, so the real cast path can be compared to it.
"""

from __future__ import annotations

import os

from flask import Flask
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, create_engine, func

metadata = MetaData()
bare_insert = Table(
    "bench_bare_insert",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", DateTime(timezone=True), server_default=func.now()),
    Column("payload", String(40)),
)


def create_table(database_url: str) -> None:
    """Called once by the bench before gunicorn starts (workers would race to create it)."""
    engine = create_engine(database_url)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    engine.dispose()


def create_app() -> Flask:
    app = Flask(__name__)
    engine = create_engine(os.environ["BENCH_DATABASE_URL"], pool_pre_ping=True)

    @app.get("/")
    def index():
        return "ok"

    @app.post("/insert")
    def insert():
        with engine.begin() as connection:
            connection.execute(bare_insert.insert().values(payload="ballot"))
        return "", 204

    return app
