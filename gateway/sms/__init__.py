"""Outbound SMS senders (driven adapters of ``vending_core.service.sms_ports.SmsSender``).

* :class:`~gateway.sms.africastalking.AfricasTalkingSms`: Africa's Talking HTTP API (aiohttp),
  plus :func:`~gateway.sms.africastalking.parse_delivery_report` for its delivery callbacks.
* :class:`~gateway.sms.memory.MemorySmsSender`: records messages; can be switched down and up
  to simulate an outage (tests, demos).
* :class:`~gateway.sms.console.ConsoleSmsSender`: prints each message to a stream (the
  embedded default of ``make run``, for a developer's console only).

Exceptions (``SmsAdapterError`` tree) are only raised for our own callers' mistakes, such as a
malformed delivery-report callback; sending never raises (see the port)::

    SmsAdapterError
    └── MalformedDeliveryReport   a callback without ``id`` / ``status``
"""
