"""Alembic migrations of the coordinator's database (``vigie-coordinator db upgrade``)."""
