"""A local user signs in with a password in a real browser, sees their name and role, and signs out."""

import pytest

from analytics.access import add_user

pytestmark = pytest.mark.browser

SERVER_DB_SOURCE = "sample_db"
SERVER_USERS_SOURCE = "users_file"


@pytest.fixture(scope="module")
def users_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("users") / "users.json"
    add_user(path, "vera", "viewer", "vera-password")
    return path


def _sign_in(page, name, password):
    page.get_by_role("textbox", name="User name").fill(name)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_with_a_local_user(server, page):
    page.goto(f"{server}/data")
    page.get_by_text("Sign in to Reelytics").first.wait_for()
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0  # nothing of the app before sign-in
    _sign_in(page, "vera", "wrong-password")
    page.get_by_text("Wrong user name or password.").first.wait_for()
    _sign_in(page, "vera", "vera-password")
    page.get_by_text("Signed in as vera · viewer").first.wait_for()
    # the page asked for (from the address) opens after sign-in; a viewer gets no upload controls
    page.get_by_text("Uploading, importing and removing data needs the admin role; you are viewer.").first.wait_for()
    assert page.locator('[data-testid="stFileUploader"]').count() == 0
    page.get_by_text("sample(users=300,days=28,seed=7)").first.wait_for()  # the uploads list is readable
    assert page.get_by_role("button", name="Remove").count() == 0
    page.get_by_role("button", name="Sign out").click()
    page.get_by_text("Sign in to Reelytics").first.wait_for()
    assert page.locator('[data-testid="stException"]').count() == 0
