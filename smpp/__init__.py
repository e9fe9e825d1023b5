"""SMPP 3.4 for the mobile operators' SMSCs: we are the ESME.

Public interface (the composition root builds these; nothing is created at import time):

* :class:`~smpp.config.BindConfig` — one bind (host, credentials, TPS, window, timers,
  reconnect backoff, MSISDN prefixes routed to it).
* :class:`~smpp.client.SmppLink` — one ``bind_transceiver`` kept up in a background task:
  ``start()``, ``stop()``, ``state``, ``wait_bound()``, ``submit(OutboundSms) -> SendOutcome``,
  callbacks ``on_mo(InboundMessage)`` and ``on_receipt(DeliveryReport)``.
* :class:`~smpp.sender.SmppSmsSender` — the ``SmsSender`` port over the links (routing by
  longest MSISDN prefix), driven by the persistent outbox.
* :class:`~smpp.models.InboundMessage`, :class:`~smpp.models.LinkState`.

Why our own PDU layer and not aiosmpplib 0.7.4 (messaging.md §3.6): the library answers
every ``deliver_sm`` with ``ESME_ROK`` (we need ``ESME_RX_T_APPN`` when an MO cannot be
stored), has no window, keeps its queue in memory, does not retry while unbound, and its
correlator loses receipts that beat the ``submit_sm_resp``. Covering those gaps would have
meant bypassing most of it; the codec (:mod:`smpp.pdu`) is a few hundred lines of pure code,
tested against octets from the specification and against the independent smpp34 server.

Exceptions (all derive from :class:`~smpp.errors.SmppError`): ``PduDecodeError`` (carries
the ``generic_nack`` status), ``BindRefused`` (the SMSC's bind status), ``LinkDown``. They
stay inside the package: ``SmppLink.submit`` turns every failure into a ``SendOutcome``
and the session task into a reconnect.
"""
