"""USSD menus: a pure engine that runs menus written as data, over a session store port.

Modules:
    model      canonical ``UssdEvent`` / ``UssdReply`` / ``SessionClosed``, ``CodecError``
    codecs     one module per aggregator (africastalking, hubtel, nalo, arkesel): parse/render
    engine     ``Engine.step(session, event)`` / ``Engine.resume(session, result)``, no I/O
    screens    the menu table types (``Screen``, ``Choice``, ``Field``, ``Go``/``Stay``/``Ask``)
    actions    what the menus ask the caller to do, and the results fed back
    menus      the Vendgate menu (``MENU``, ``build_engine()``); flows, menu_kit its parts
    texts      screen texts in en/fr/sw/ar (``catalog/``); charset: GSM-7/UCS-2 budgets
    session    ``SessionState`` (JSON), the ``SessionStore`` port, ``MemorySessionStore``
    redis_store ``RedisSessionStore``: the Redis twin (sessions under SET PX, lease locks)

Exceptions::

    CodecError (ValueError)   a provider request that cannot be read -> answer 4xx
    EngineError               the caller broke the step/resume protocol (a bug)
    SessionBusy (TimeoutError) the session's lock was not free in time (Redis store)
    SessionLockLost           a hop outlived its lock lease (Redis store)
"""
