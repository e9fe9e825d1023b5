"""``VENDGATE_TRUSTED_PROXIES``: the load balancers whose ``X-Forwarded-For`` is believed."""

from __future__ import annotations

import ipaddress

import pytest

from config.gateway import gateway_from_env
from config.settings import ConfigError


def test_unset_trusts_nobody() -> None:
    """Without the variable no proxy is trusted (the header is ignored)."""
    assert gateway_from_env({}).trusted_proxies == ()


def test_addresses_and_networks_are_parsed() -> None:
    """A comma-separated list of addresses and networks, spaces allowed; a host is a /32."""
    settings = gateway_from_env({"VENDGATE_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.10 ,fd00::/8"})
    assert settings.trusted_proxies == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("192.0.2.10/32"),
        ipaddress.ip_network("fd00::/8"),
    )


def test_a_bad_entry_is_a_configuration_error() -> None:
    """An entry that is no address names the variable in the error."""
    with pytest.raises(ConfigError, match="VENDGATE_TRUSTED_PROXIES"):
        gateway_from_env({"VENDGATE_TRUSTED_PROXIES": "10.0.0.0/8,lb.internal"})
