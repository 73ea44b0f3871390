"""Alembic migrations of the tracking schema."""
