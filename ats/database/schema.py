"""The journal's SQLite schema and its migrations.

The version lives in the ``meta`` table (``schema_version``). Opening a journal applies
every migration from its version up to :data:`SCHEMA_VERSION` in one transaction; a
journal from a newer ATS, or a SQLite file that is not an ATS journal, is refused with a
message that says so, never read with the wrong layout.
"""

from __future__ import annotations

APP_ID = "ats-journal"
SCHEMA_VERSION = 1

MIGRATIONS: dict[int, str] = {
    # 0 -> 1: the initial layout.
    0: """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE jobs (
        job_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        mode TEXT,
        config TEXT NOT NULL,
        status TEXT NOT NULL,
        error TEXT,
        report TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE orders (
        job_id TEXT NOT NULL,
        order_id TEXT NOT NULL,
        client_order_id TEXT NOT NULL,
        symbol TEXT NOT NULL,
        side TEXT NOT NULL,
        type TEXT NOT NULL,
        amount REAL NOT NULL,
        price REAL,
        stop_price REAL,
        quote_amount REAL,
        status TEXT NOT NULL,
        filled REAL NOT NULL,
        cost REAL NOT NULL,
        fee REAL NOT NULL,
        fee_currency TEXT,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        expires_ms INTEGER,
        triggered INTEGER NOT NULL DEFAULT 0,
        reason TEXT,
        PRIMARY KEY (job_id, order_id)
    ) WITHOUT ROWID;
    CREATE INDEX orders_by_client_id ON orders (job_id, client_order_id);
    CREATE TABLE order_status (
        id INTEGER PRIMARY KEY,
        job_id TEXT NOT NULL,
        order_id TEXT NOT NULL,
        status TEXT NOT NULL,
        filled REAL NOT NULL,
        at_ms INTEGER NOT NULL,
        recorded_at REAL NOT NULL,
        UNIQUE (job_id, order_id, status, filled)
    );
    CREATE TABLE fills (
        job_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        order_id TEXT NOT NULL,
        symbol TEXT NOT NULL,
        side TEXT NOT NULL,
        amount REAL NOT NULL,
        price REAL NOT NULL,
        fee REAL NOT NULL,
        fee_currency TEXT NOT NULL,
        timestamp_ms INTEGER NOT NULL,
        taker INTEGER NOT NULL,
        recorded_at REAL NOT NULL,
        PRIMARY KEY (job_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE trades (
        job_id TEXT NOT NULL,
        idx INTEGER NOT NULL,
        symbol TEXT NOT NULL,
        entry_ms INTEGER NOT NULL,
        entry_price REAL NOT NULL,
        amount REAL NOT NULL,
        exit_ms INTEGER,
        exit_price REAL,
        fees REAL NOT NULL,
        pnl REAL NOT NULL,
        PRIMARY KEY (job_id, idx)
    ) WITHOUT ROWID;
    CREATE TABLE balances (
        job_id TEXT NOT NULL,
        asset TEXT NOT NULL,
        free REAL NOT NULL,
        used REAL NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (job_id, asset)
    ) WITHOUT ROWID;
    CREATE TABLE equity (
        job_id TEXT NOT NULL,
        timestamp_ms INTEGER NOT NULL,
        equity REAL NOT NULL,
        PRIMARY KEY (job_id, timestamp_ms)
    );
    CREATE TABLE logs (
        id INTEGER PRIMARY KEY,
        job_id TEXT NOT NULL,
        time REAL NOT NULL,
        level TEXT NOT NULL,
        message TEXT NOT NULL
    );
    CREATE INDEX logs_by_job ON logs (job_id, id);
    """,
}
"""``MIGRATIONS[n]`` upgrades a version-``n`` journal to version ``n + 1``."""

JOB_TABLES = ("orders", "order_status", "fills", "trades", "balances", "equity", "logs")
"""Tables with per-job rows (besides ``jobs`` itself)."""
RUN_TABLES = ("orders", "order_status", "fills", "trades", "balances", "equity")
"""What a fresh run of a job (rebuilt exchange) replaces; logs are kept."""
