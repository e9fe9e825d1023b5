"""The admin API: an aiohttp sub-app for the back office, mounted at ``/admin/v1`` (issue 6).

Staff log in (:mod:`admin_api.users`) and call routes whose minimum level is in one table
(:mod:`admin_api.permissions`, enforced by :mod:`admin_api.auth`); meters, POS sales,
reversals and the sales report are in :mod:`admin_api.operations`; the audit log in
:mod:`admin_api.audit`. Refusals are RFC 9457 problem JSON (:mod:`admin_api.problems`); the
OpenAPI 3.1 document is :mod:`admin_api.openapi`. See ``docs/admin.md``.

The composition root mounts :func:`admin_api.app.create_admin_app` and puts the vending
core on the parent app under :data:`admin_api.context.ADMIN_CORE`.
"""
