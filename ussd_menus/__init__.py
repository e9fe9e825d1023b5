"""USSD menus: a pure engine that runs menus written as data, over a session store port.

It will also hold the session stores (memory and Redis) and the codecs of the USSD
providers (Africa's Talking, Hubtel, Nalo, Arkesel).
"""
