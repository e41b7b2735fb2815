"""Sign-ins under way (single sign-on): each state works once, and anyone starting sign-ins
cannot grow the table without bound."""

from __future__ import annotations

import pytest

from moatmetrics.appdb import sso_users
from moatmetrics.appdb.db import session_scope


def test_a_state_is_claimed_once_and_only_its_own(app_settings) -> None:
    with session_scope(app_settings, write=True) as session:
        pending = sso_users.begin(session, "/console/clients")
    with session_scope(app_settings, write=True) as session:
        assert sso_users.claim_sign_in(session, "not-" + pending.state) is None
        claimed = sso_users.claim_sign_in(session, pending.state)
    assert claimed == pending  # nonce, verifier and page kept server-side
    with session_scope(app_settings, write=True) as session:
        assert sso_users.claim_sign_in(session, pending.state) is None  # a replay


def test_sign_ins_under_way_are_bounded(app_settings, monkeypatch) -> None:
    monkeypatch.setattr(sso_users, "MAX_PENDING", 3)
    with session_scope(app_settings, write=True) as session:
        first = sso_users.begin(session, "/console")
        for _ in range(2):
            sso_users.begin(session, "/console")
        with pytest.raises(sso_users.TooManySignIns):
            sso_users.begin(session, "/console")
    with session_scope(app_settings, write=True) as session:
        sso_users.claim_sign_in(session, first.state)  # a finished one frees its place
        sso_users.begin(session, "/console")
