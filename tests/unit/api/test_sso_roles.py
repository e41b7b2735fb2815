"""Which role a person's groups give them, and a group mapping with a typo stops the start."""

from __future__ import annotations

import dataclasses

import pytest

from api.console.oidc import SsoError, check_issuer_url
from moatmetrics.appdb.sso_users import claim_values, mapped_clients, mapped_role
from moatmetrics.settings import SettingsError, get_settings


def _settings(monkeypatch: pytest.MonkeyPatch, mapping: str):
    monkeypatch.setenv("MOATMETRICS_OIDC_GROUP_ROLES", mapping)
    return get_settings()


def test_the_highest_mapped_group_wins_and_unmapped_groups_give_nothing(monkeypatch) -> None:
    settings = _settings(monkeypatch, "msp-viewers=viewer, msp-admins=admin,msp-analysts=analyst")
    assert mapped_role(settings, ["staff", "msp-viewers", "msp-admins"]) == "admin"
    assert mapped_role(settings, ["msp-analysts"]) == "analyst"
    assert mapped_role(settings, ["contractors", "admin"]) is None  # a role name is no group
    assert mapped_role(settings, []) is None
    # Without a mapping, claim values that are role names are the role (e.g. app roles).
    unmapped = dataclasses.replace(settings, oidc_group_roles=())
    assert mapped_role(unmapped, ["analyst", "viewer"]) == "analyst"
    assert mapped_role(unmapped, ["msp-admins"]) is None


def test_a_dotted_claim_path_reaches_nested_roles() -> None:
    claims = {"realm_access": {"roles": ["admin", 7]}, "groups": "msp-admins"}
    assert claim_values(claims, "realm_access.roles") == ["admin"]
    assert claim_values(claims, "groups") == ["msp-admins"]
    assert claim_values(claims, "missing.path") == []


@pytest.mark.parametrize("mapping", ["msp-admins=root", "msp-admins", "=admin"])
def test_a_mapping_typo_is_refused_with_the_fix(monkeypatch, mapping: str) -> None:
    with pytest.raises(SettingsError, match="MOATMETRICS_OIDC_GROUP_ROLES.*msp-admins=admin"):
        _settings(monkeypatch, mapping)


def test_the_issuer_is_https_or_loopback_http() -> None:
    check_issuer_url("https://login.example.com/tenant/v2.0")
    check_issuer_url("http://127.0.0.1:4100")
    with pytest.raises(SsoError, match="must be an https:// URL"):
        check_issuer_url("http://login.example.com")


def test_groups_mapped_to_clients_scope_their_members(monkeypatch) -> None:
    monkeypatch.setenv("MOATMETRICS_OIDC_GROUP_CLIENTS", " acme-staff=C2, C1 ;globex=C7;")
    settings = get_settings()
    assert settings.oidc_group_clients == (("acme-staff", ("C1", "C2")), ("globex", ("C7",)))
    assert mapped_clients(settings, ["acme-staff", "globex", "msp-viewers"]) == {"C1", "C2", "C7"}
    assert mapped_clients(settings, ["msp-viewers"]) is None  # not listed: every client


@pytest.mark.parametrize("mapping", ["acme-staff", "acme-staff=", "=C1", "acme-staff= , "])
def test_a_client_mapping_typo_is_refused_with_the_fix(monkeypatch, mapping: str) -> None:
    monkeypatch.setenv("MOATMETRICS_OIDC_GROUP_CLIENTS", mapping)
    with pytest.raises(SettingsError, match="MOATMETRICS_OIDC_GROUP_CLIENTS.*acme-staff=C1,C2"):
        get_settings()
