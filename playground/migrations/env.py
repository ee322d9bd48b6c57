"""Alembic's environment for the store: the store hands over its own connection, already inside the transaction
(and the lock) it opened, so a migration commits or rolls back with everything else the store did to open."""

from __future__ import annotations

from alembic import context

from playground.store import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # the store is the only caller; a bare `alembic upgrade` has no URL to work on
    raise RuntimeError("the playground's migrations run from playground.store.Store, which hands over its connection")

context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
