"""Driven adapters for the service ports: SQLAlchemy repositories and the key store."""
