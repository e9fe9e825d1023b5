"""Alembic migrations of the vending schema (run them with :mod:`vending_core.adapters.migrate`).

A package so that it ships with the distribution: ``env.py`` and ``versions/`` are found next
to this file wherever Vendgate is installed.
"""
