"""The gateway: the composition root and the HTTP face of Vendgate.

It will hold ``create_app(settings)`` and the HTTP routes for USSD, SMS and payment
callbacks and the vending API. Today it holds the ``vendgate`` command line (:mod:`gateway.cli`).
"""
