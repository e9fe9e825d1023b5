"""The admin API: an aiohttp sub-app for the back office.

It will hold authentication and roles, master data, operations, reports and the audit trail.
"""
