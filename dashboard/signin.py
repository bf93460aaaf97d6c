"""Who uses this session: single sign-on (``st.login``), a local user's password, or nobody asked.

:func:`signed_in` runs first on every run of the router. It returns the session's
:class:`~analytics.access.Principal`, or shows the sign-in screen and returns ``None`` (the router
then registers the pages hidden and stops, so the page asked for opens after sign-in); it stops
the run itself where there is nothing to sign in to (an open dashboard refused beyond this machine,
an identity without access). The principal is looked up in the users file
again on every run, so a changed role applies at the next click and a removed user is signed out.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from analytics.access import (
    AccessDenied,
    Principal,
    SignInFailed,
    check_binding,
    load_users,
    oidc_principal,
    oidc_providers,
    open_principal,
    refreshed,
    sign_in,
    sign_in_setup,
    users_path,
)
from analytics.errors import BadInput
from dashboard.common import settings
from dashboard.i18n import t

_KEY = "auth_principal"


def _secrets() -> dict[str, Any]:
    return st.secrets.to_dict() if st.secrets.load_if_toml_exists() else {}


def _sso_user() -> dict[str, Any]:
    user = st.user.to_dict()
    return user if user.get("is_logged_in") is True else {}


def _password_form(users) -> None:
    with st.form("signin_form", clear_on_submit=True):
        name = st.text_input(t("auth.name"), key="signin_name")
        password = st.text_input(t("auth.password"), type="password")
        submitted = st.form_submit_button(t("auth.sign_in"), type="primary")
    if submitted:
        try:
            st.session_state[_KEY] = sign_in(users, name, password)
        except SignInFailed as exc:
            st.error(t("auth.too_many", minutes=exc.details["seconds"] // 60) if exc.code == "too_many_attempts"
                     else t("auth.bad_credentials"))
            return
        st.rerun()


def _sign_in_screen(setup, users, secrets) -> None:
    st.title(t("auth.title"))
    for provider in oidc_providers(secrets):
        label = t("auth.sso_named", provider=provider) if provider else t("auth.sso")
        if st.button(label, key=f"signin_sso_{provider or 'default'}", type="primary"):
            st.login(provider)
    if setup.password_users:
        _password_form(users)


def signed_in() -> Principal | None:
    """The principal of this session, or ``None`` after showing the sign-in screen."""
    path = users_path(settings().data_dir)
    try:
        users = load_users(path)
    except BadInput:  # fail closed: nobody signs in until the file is fixed
        st.error(t("auth.users_file_bad", path=path))
        st.stop()
    secrets = _secrets()
    setup = sign_in_setup(users, secrets)
    if not setup.configured:
        try:
            check_binding(st.get_option("server.address"), setup)
        except AccessDenied as exc:
            st.error(t("auth.open_binding", address=exc.details["address"]))
            st.stop()
        return open_principal()
    principal = st.session_state.get(_KEY)
    if principal is not None:
        principal = refreshed(principal, users) if principal.source != "oidc" or setup.oidc else None
    if principal is None and setup.oidc:
        claims = _sso_user()
        if claims:
            principal = oidc_principal(users, claims)
            if principal is None:
                st.error(t("auth.not_allowed", email=str(claims.get("email") or "-")))
                if st.button(t("auth.sign_out"), key="signout_denied"):
                    st.logout()
                st.stop()
    if principal is None:
        st.session_state.pop(_KEY, None)
        _sign_in_screen(setup, users, secrets)
        return None
    st.session_state[_KEY] = principal
    return principal


def sign_out_button(principal: Principal) -> None:
    """The signed-in user and role in the sidebar, with a sign-out button (nothing to sign out of when open)."""
    role = t(f"auth.role.{principal.role}")
    if principal.source == "open":
        st.sidebar.caption(t("auth.open", role=role))
        return
    st.sidebar.caption(t("auth.as", name=principal.name, role=role))
    if st.sidebar.button(t("auth.sign_out"), key="signout"):
        st.session_state.pop(_KEY, None)
        if principal.source == "oidc":
            st.logout()
        st.rerun()
