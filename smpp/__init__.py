"""SMPP for the mobile operators' SMSCs.

It will hold the ESME client session, inbound MO and delivery-receipt handling, and an
outbound SMS sender with a window and retries.
"""
