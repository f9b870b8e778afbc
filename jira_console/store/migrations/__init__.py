"""Alembic environment shipped inside the package, so an installed tool can migrate its own database."""
