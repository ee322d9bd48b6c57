"""The store's schema migrations (Alembic), run by ``playground.store.Store`` itself: nobody needs an alembic.ini."""
