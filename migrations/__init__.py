"""Alembic migrations; shipped as a package so `taskql migrate` finds them anywhere."""
