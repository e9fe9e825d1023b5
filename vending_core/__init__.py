"""Vending core: everything a purchase goes through, whatever the channel.

``domain`` is pure (money split, tariffs, free basic electricity, debt, TID policy),
``service`` holds the use cases, unit of work and ports, and ``adapters`` implements the
driven ports (SQLAlchemy repositories, key store).
"""
