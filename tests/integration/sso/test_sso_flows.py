"""Signing in with a real OpenID provider on 127.0.0.1: the flow, accounts, roles, refusals."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import func, select

from panlearn.extensions import db
from panlearn.models import Identity, IdentityKind, Role, User, utcnow
from tests.builders import PASSWORD, make_org, make_user
from tests.integration.sso.conftest import PROVIDER
from tests.web.conftest import csrf_token

pytestmark = pytest.mark.slow

ADA = {"name": "Ada Lovelace", "preferred_username": "ada", "email": "Ada@PSI.ch",
       "email_verified": True}


def leave_for_provider(browser, site, next_path=None):
    """Press the provider's button on the sign-in page: the redirect to its authorisation."""
    params = {"next": next_path} if next_path else {}
    response = browser.get(f"{site.url}/login/sso/{PROVIDER}", params=params,
                           allow_redirects=False)
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def authorise(browser, authorize_url, sub):
    """Sign in at the provider's page as `sub`; the redirect back to panlearn's callback."""
    page = browser.get(authorize_url, allow_redirects=False)
    assert page.status_code == 200, page.text
    response = browser.post(authorize_url, data={"sub": sub}, allow_redirects=False)
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def sign_in(browser, site, provider, sub, claims=None, next_path=None):
    """The whole round trip; the callback's answer (not followed)."""
    if claims is not None:
        provider.set_user(sub, claims)
    callback = authorise(browser, leave_for_provider(browser, site, next_path), sub)
    return browser.get(callback, allow_redirects=False)


def users(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


def user_named(app, username):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        db.session.expunge_all()
        return user


def identities(app):
    with app.app_context():
        rows = db.session.scalars(select(Identity)).all()
        return [(row.issuer, row.sub, row.kind, row.provider, row.user.username) for row in rows]


# -- the flow ---------------------------------------------------------------------------------


def test_first_sign_in_goes_through_the_whole_flow_and_makes_a_student(
        app, site, provider, browser):
    answer = sign_in(browser, site, provider, "ada-sub", ADA, next_path="/search")
    assert answer.status_code == 303, answer.text
    assert answer.headers["Location"] == "/search"

    seen = [(r.method, r.path) for r in provider.requests]
    assert seen == [
        ("POST", "/oauth2/clients"),                       # the operator registers panlearn
        ("PUT", "/users/ada-sub"),                         # the directory knows Ada
        ("GET", "/.well-known/openid-configuration"),      # discovery
        ("GET", "/oauth2/authorize"),                      # the browser, at the provider
        ("POST", "/oauth2/authorize"),                     # signs in there: a code
        ("POST", "/oauth2/token"),                         # panlearn: code → tokens
        ("GET", "/jwks"),                                  # the id_token's keys
        ("GET", "/userinfo"),
    ]
    authorize = next(r for r in provider.requests if r.path == "/oauth2/authorize")
    assert authorize.query["response_type"] == "code"
    assert authorize.query["scope"] == "openid profile email"
    assert authorize.query["code_challenge_method"] == "S256"
    assert authorize.query["state"] and authorize.query["nonce"]
    assert authorize.query["redirect_uri"] == f"{site.url}/login/sso/{PROVIDER}/callback"
    token = next(r for r in provider.requests if r.path == "/oauth2/token")
    assert token.form["code_verifier"]  # checked against the challenge by the provider

    ada = user_named(app, "ada")
    assert (ada.role, ada.organisation_id, ada.email, ada.display_name) == (
        Role.STUDENT, None, "ada@psi.ch", "Ada Lovelace")
    assert identities(app) == [(provider.issuer, "ada-sub", IdentityKind.OIDC, PROVIDER, "ada")]
    page = browser.get(f"{site.url}/search")
    assert "Signed in as <strong>ada</strong>" in page.text
    # No password works for this account.
    refused = browser.post(f"{site.url}/api/auth/token", json={"username": "ada",
                                                                 "password": "any guess"})
    assert refused.status_code == 401


def test_the_second_sign_in_finds_the_same_account(app, site, provider):
    with requests.Session() as first:
        assert sign_in(first, site, provider, "ada-sub", ADA).status_code == 303
    before = user_named(app, "ada")
    with requests.Session() as second:
        # The directory changed her name since: the account is found by issuer and sub.
        answer = sign_in(second, site, provider, "ada-sub", {**ADA, "preferred_username": "al"})
        assert answer.status_code == 303
        assert "Signed in as <strong>ada</strong>" in second.get(site.url + "/").text
    assert users(app) == 1
    assert user_named(app, "ada").id == before.id


def test_a_taken_username_is_made_unique_and_an_email_never_identifies(
        app, site, provider, browser):
    make_user(app, "ada")
    with app.app_context():
        local = db.session.scalar(select(User).where(User.username == "ada"))
        local.email = "ada@psi.ch"
        db.session.commit()
    assert sign_in(browser, site, provider, "ada-sub", ADA).status_code == 303
    assert user_named(app, "ada-2") is not None
    assert identities(app)[0][-1] == "ada-2"  # not linked to the local account by e-mail


def test_missing_profile_claims_still_make_a_usable_account(app, site, provider, browser):
    assert sign_in(browser, site, provider, "x", {"email": "xu@example.org"}).status_code == 303
    made = user_named(app, "xu")  # from the e-mail's local part
    assert made is not None and made.email is None  # unverified: not kept


# -- roles from the provider ------------------------------------------------------------------


def test_a_group_claim_makes_an_author_and_its_removal_demotes_at_the_next_sign_in(
        app, site, provider):
    make_org(app, "psi")
    with requests.Session() as browser:
        answer = sign_in(browser, site, provider, "grace",
                         {"preferred_username": "grace", "groups": ["psi-training-authors",
                                                                    "other"]})
        assert answer.status_code == 303
        grace = user_named(app, "grace")
        assert (grace.role, grace.role_source) == (Role.AUTHOR, PROVIDER)
        # As an author she may upload a course of psi (the API with the page's CSRF token).
        page = browser.get(f"{site.url}/account").text
        assert "author of PSI" in page
    with app.app_context():
        assert db.session.get(User, grace.id).organisation.slug == "psi"

    # The facility removes her from the group: at her next sign-in she is a student again.
    with requests.Session() as browser:
        assert sign_in(browser, site, provider, "grace",
                       {"preferred_username": "grace", "groups": ["other"]}).status_code == 303
    grace = user_named(app, "grace")
    assert (grace.role, grace.organisation_id, grace.role_source) == (Role.STUDENT, None, None)


@pytest.mark.parametrize("identity_config", [{"roles": [
    {"claim": "realm_access.roles", "value": "training-author", "organisation": "psi",
     "role": "author"}]}])
def test_keycloak_realm_roles_nested_in_a_claim_make_an_author(app, site, provider, browser):
    make_org(app, "psi")
    claims = {"preferred_username": "lise",
              "realm_access": {"roles": ["offline_access", "training-author"]}}
    assert sign_in(browser, site, provider, "lise", claims).status_code == 303
    lise = user_named(app, "lise")
    assert (lise.role, lise.role_source) == (Role.AUTHOR, PROVIDER)


def test_a_role_given_here_is_not_taken_away_by_a_provider_that_never_granted_it(
        app, site, provider):
    make_org(app, "psi")
    make_org(app, "ess")
    with requests.Session() as browser:
        assert sign_in(browser, site, provider, "lin", {"preferred_username": "lin"}
                       ).status_code == 303
    with app.app_context():
        from panlearn.models import Organisation
        lin = db.session.scalar(select(User).where(User.username == "lin"))
        lin.role = Role.ADMIN  # an admin of this site made her an admin of ess
        lin.organisation = db.session.scalar(select(Organisation).where(
            Organisation.slug == "ess"))
        db.session.commit()
    with requests.Session() as browser:
        assert sign_in(browser, site, provider, "lin", {"preferred_username": "lin"}
                       ).status_code == 303
    lin = user_named(app, "lin")
    assert lin.role == Role.ADMIN and lin.role_source is None


# -- refusals: each a clear page and a log line, never a 500 ----------------------------------


def _refusal(answer, status, words, log, reason):
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "Sign-in did not work" in answer.text
    assert words in answer.text
    assert 'href="/login"' in answer.text
    assert any(reason in record.getMessage() for record in log.records
               if record.name == "panlearn.web.sso"), [r.getMessage() for r in log.records]


def test_a_replayed_state_is_refused(app, site, provider, browser, sign_in_log):
    callback = authorise(browser, leave_for_provider(browser, site), "eve")
    cookies_before = browser.cookies.copy()
    assert browser.get(callback, allow_redirects=False).status_code == 303
    # The same answer again, even with the cookie the first one was made with.
    with requests.Session() as attacker:
        attacker.cookies.update(cookies_before)
        replay = attacker.get(callback, allow_redirects=False)
    _refusal(replay, 400, "already completed", sign_in_log, "unknown or replayed state")
    # A state that was never handed out.
    forged = callback.replace("state=", "state=forged")
    _refusal(browser.get(forged, allow_redirects=False), 400, "already completed",
             sign_in_log, "unknown or replayed state")
    assert users(app) == 1


def test_an_id_token_with_a_wrong_nonce_is_refused(app, site, provider, browser, sign_in_log):
    provider.send_wrong_nonce()
    answer = sign_in(browser, site, provider, "mallory")
    _refusal(answer, 401, "could not be verified", sign_in_log, "nonce")
    assert users(app) == 0
    assert "Signed in as" not in browser.get(site.url + "/").text


def test_an_id_token_for_another_audience_is_refused(app, site, provider, browser,
                                                      sign_in_log):
    other = provider.register(f"{site.url}/login/sso/{PROVIDER}/callback")
    provider.issue_to(other)
    answer = sign_in(browser, site, provider, "mallory")
    _refusal(answer, 401, "another audience", sign_in_log, "id_token for another audience")
    assert users(app) == 0


def test_an_expired_code_is_refused(app, site, provider, browser, sign_in_log):
    callback = authorise(browser, leave_for_provider(browser, site), "slow")
    provider.expire_codes()
    answer = browser.get(callback, allow_redirects=False)
    _refusal(answer, 400, "expired or was already used", sign_in_log, "invalid_grant")
    assert users(app) == 0


def test_a_denied_sign_in_at_the_provider_is_a_clear_page(app, site, provider, browser,
                                                          sign_in_log):
    authorize_url = leave_for_provider(browser, site)
    denied = browser.post(authorize_url, data={"action": "deny"}, allow_redirects=False)
    answer = browser.get(denied.headers["Location"], allow_redirects=False)
    _refusal(answer, 401, "did not sign you in", sign_in_log, "access_denied")


def test_a_provider_that_is_down_gives_a_clear_page(app, site, provider, browser,
                                                    sign_in_log):
    provider.stop()  # before this process ever read its discovery document
    answer = browser.get(f"{site.url}/login/sso/{PROVIDER}", allow_redirects=False)
    _refusal(answer, 504, "cannot be reached", sign_in_log, "provider unreachable")


def test_a_provider_that_goes_down_mid_sign_in_gives_a_clear_page(app, site, provider, browser,
                                                                  sign_in_log):
    callback = authorise(browser, leave_for_provider(browser, site), "ada-sub")
    provider.stop()  # the code cannot be exchanged
    _refusal(browser.get(callback, allow_redirects=False), 504, "cannot be reached",
             sign_in_log, "provider unreachable")


@pytest.mark.parametrize("app_settings", [{"OIDC_TIMEOUT_S": 0.5}])
def test_a_provider_that_hangs_is_given_up_on_after_the_timeout(app, site, provider, browser,
                                                                sign_in_log, app_settings):
    provider.answer_after(3)
    answer = browser.get(f"{site.url}/login/sso/{PROVIDER}", allow_redirects=False, timeout=10)
    # The provider had not answered yet: panlearn gave up (its read timed out) and said so.
    _refusal(answer, 504, "cannot be reached", sign_in_log, "ReadTimeout")


def test_sign_in_starts_are_throttled_per_address(app, site, provider, browser):
    statuses = [browser.get(f"{site.url}/login/sso/{PROVIDER}", allow_redirects=False,
                            headers={"Accept": "text/html"}).status_code for _ in range(11)]
    assert statuses == [302] * 10 + [429]


def test_an_identity_linked_to_another_account_is_not_taken_over(app, site, provider):
    with requests.Session() as first:
        assert sign_in(first, site, provider, "ada-sub", ADA).status_code == 303
    make_user(app, "curie")
    with requests.Session() as browser:
        _password_sign_in(browser, site, "curie")
        page = browser.get(f"{site.url}/account").text
        started = browser.post(f"{site.url}/account/identities/{PROVIDER}/link",
                               data={"csrf_token": csrf_token(page)}, allow_redirects=False)
        back = browser.get(authorise(browser, started.headers["Location"], "ada-sub"),
                           allow_redirects=False)
        assert back.status_code == 409 and "already linked" in back.text
    assert [owner for *_, owner in identities(app)] == ["ada"]


def test_an_unknown_provider_is_404(app, site, browser):
    answer = browser.get(f"{site.url}/login/sso/nobody", allow_redirects=False)
    assert answer.status_code == 404 and "No identity provider" in answer.text


# -- accounts: linking, e-mail, tokens, sign-out ----------------------------------------------


def _password_sign_in(browser, site, username):
    token = csrf_token(browser.get(f"{site.url}/login").text)
    answer = browser.post(f"{site.url}/login", data={"username": username, "password": PASSWORD,
                                                     "csrf_token": token},
                          allow_redirects=False)
    assert answer.status_code == 303, answer.text


def test_a_local_user_links_a_provider_from_the_account_page(app, site, provider, browser):
    make_user(app, "curie")
    _password_sign_in(browser, site, "curie")
    page = browser.get(f"{site.url}/account").text
    assert "Link Test ID" in page
    started = browser.post(f"{site.url}/account/identities/{PROVIDER}/link",
                           data={"csrf_token": csrf_token(page)}, allow_redirects=False)
    assert started.status_code == 302
    provider.set_user("marie", {"preferred_username": "marie"})
    back = browser.get(authorise(browser, started.headers["Location"], "marie"),
                       allow_redirects=False)
    assert back.status_code == 303 and back.headers["Location"] == "/account"
    assert identities(app) == [(provider.issuer, "marie", IdentityKind.OIDC, PROVIDER,
                                "curie")]
    assert "Test ID" in browser.get(f"{site.url}/account").text
    # From now on the provider signs her in to the same account.
    with requests.Session() as other_browser:
        assert sign_in(other_browser, site, provider, "marie").status_code == 303
        assert "Signed in as <strong>curie</strong>" in other_browser.get(site.url + "/").text
    assert users(app) == 1


def test_a_link_without_the_form_token_is_refused(app, site, provider, browser):
    make_user(app, "curie")
    _password_sign_in(browser, site, "curie")
    answer = browser.post(f"{site.url}/account/identities/{PROVIDER}/link",
                          allow_redirects=False)
    assert answer.status_code == 400
    assert not [r for r in provider.requests if r.path.startswith("/oauth2/authorize")]


@pytest.mark.parametrize("identity_config", [{"link_by_verified_email": True}])
def test_a_verified_email_links_only_where_the_provider_is_trusted_for_it(
        app, site, provider, identity_config):
    make_user(app, "ada-local")
    with app.app_context():
        local = db.session.scalar(select(User).where(User.username == "ada-local"))
        local.email = "ada@psi.ch"
        db.session.commit()
    # An address the provider did not verify could be anyone's: a new account.
    with requests.Session() as browser:
        assert sign_in(browser, site, provider, "impostor",
                       {**ADA, "email_verified": False}).status_code == 303
        assert "Signed in as <strong>ada</strong>" in browser.get(site.url + "/").text
    # A verified one finds the existing account.
    with requests.Session() as browser:
        assert sign_in(browser, site, provider, "ada-sub", ADA).status_code == 303
        assert "Signed in as <strong>ada-local</strong>" in browser.get(site.url + "/").text
    owners = {sub: username for _, sub, _, _, username in identities(app)}
    assert owners == {"impostor": "ada", "ada-sub": "ada-local"}


def test_an_sso_user_makes_a_personal_token_sees_it_once_and_revokes_it(
        app, site, provider, browser):
    assert sign_in(browser, site, provider, "ada-sub", ADA).status_code == 303
    page = browser.get(f"{site.url}/account").text
    made = browser.post(f"{site.url}/account/tokens", data={
        "csrf_token": csrf_token(page), "name": "course import from CI", "days": "7"},
        allow_redirects=False)
    assert made.status_code == 201
    assert made.headers["Cache-Control"] == "no-store"
    token = made.text.split('id="new-token" type="text" readonly value="')[1].split('"')[0]
    assert token.startswith("pl_")
    bearer = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{site.url}/api/me/progress", headers=bearer, timeout=10
                        ).status_code == 200
    # Shown once: the account page lists it by name, never its value again.
    page = browser.get(f"{site.url}/account").text
    assert "course import from CI" in page and token not in page
    with app.app_context():
        from panlearn.models import ApiToken
        record = db.session.scalar(select(ApiToken).where(ApiToken.name.is_not(None)))
        assert abs(record.expires_at - (utcnow() + timedelta(days=7))) < timedelta(minutes=5)
        token_id = record.id
    revoked = browser.post(f"{site.url}/account/tokens/{token_id}/revoke",
                           data={"csrf_token": csrf_token(page)}, allow_redirects=False)
    assert revoked.status_code == 303
    assert requests.get(f"{site.url}/api/me/progress", headers=bearer, timeout=10
                        ).status_code == 401


def test_someone_elses_token_cannot_be_revoked(app, site, provider, browser):
    make_user(app, "other")
    with app.app_context():
        from panlearn.accounts.service import issue_token
        other = db.session.scalar(select(User).where(User.username == "other"))
        issue_token(db.session, other, ttl=timedelta(days=1), name="theirs")
        theirs = other.tokens[0].id
    assert sign_in(browser, site, provider, "ada-sub", ADA).status_code == 303
    page = browser.get(f"{site.url}/account").text
    answer = browser.post(f"{site.url}/account/tokens/{theirs}/revoke",
                          data={"csrf_token": csrf_token(page)}, headers={"Accept": "text/html"},
                          allow_redirects=False)
    assert answer.status_code == 404
    with app.app_context():
        from panlearn.models import ApiToken
        assert db.session.get(ApiToken, theirs).revoked_at is None


def test_the_only_way_in_cannot_be_unlinked(app, site, provider, browser):
    assert sign_in(browser, site, provider, "ada-sub", ADA).status_code == 303
    page = browser.get(f"{site.url}/account").text
    assert "Stop signing in with" not in page  # no button offered
    with app.app_context():
        identity_id = db.session.scalar(select(Identity.id))
    answer = browser.post(f"{site.url}/account/identities/{identity_id}/unlink",
                          data={"csrf_token": csrf_token(page)}, headers={"Accept": "text/html"},
                          allow_redirects=False)
    assert answer.status_code == 409
    assert len(identities(app)) == 1


def test_signing_out_goes_on_to_the_providers_end_session_endpoint(
        app, site, provider, browser):
    assert sign_in(browser, site, provider, "ada-sub", ADA).status_code == 303
    page = browser.get(f"{site.url}/account")
    # The page's forms may lead to the provider (the browser checks redirects against it).
    assert f"form-action 'self' {provider.issuer}" in page.headers["Content-Security-Policy"]
    out = browser.post(f"{site.url}/logout", data={"csrf_token": csrf_token(page.text)},
                       allow_redirects=False)
    assert out.status_code == 303
    location = urlsplit(out.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        f"{provider.issuer}/oauth2/end_session")
    query = parse_qs(location.query)
    assert query["post_logout_redirect_uri"] == [f"{site.url}/logout"]
    assert query["client_id"] and query["id_token_hint"]
    assert "Signed in as" not in browser.get(site.url + "/").text


def test_a_password_session_signs_out_here_only(app, site, provider, browser):
    make_user(app, "curie")
    _password_sign_in(browser, site, "curie")
    page = browser.get(f"{site.url}/logout").text
    out = browser.post(f"{site.url}/logout", data={"csrf_token": csrf_token(page)},
                       allow_redirects=False)
    assert out.headers["Location"] == "/"


@pytest.mark.parametrize("app_settings", [{"LOCAL_LOGIN": False}])
def test_with_local_login_off_only_the_providers_remain(app, site, provider, browser,
                                                       app_settings):
    make_user(app, "curie")
    page = browser.get(f"{site.url}/login").text
    assert "Sign in with Test ID" in page
    assert 'name="password"' not in page
    api = browser.post(f"{site.url}/api/auth/token", json={"username": "curie",
                                                           "password": PASSWORD})
    assert api.status_code == 403 and api.headers["Content-Type"] == "application/problem+json"
    assert sign_in(browser, site, provider, "ada-sub", ADA).status_code == 303
    # Even with a good form token, the password form is refused.
    token = csrf_token(browser.get(f"{site.url}/account").text)
    answer = browser.post(f"{site.url}/login", data={
        "username": "curie", "password": PASSWORD, "csrf_token": token},
        headers={"Accept": "text/html"}, allow_redirects=False)
    assert answer.status_code == 403 and "turned off" in answer.text


def test_the_cli_tells_operators_what_to_register_and_checks_discovery(app, site, provider):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["sso", "providers", "--check"])
    assert result.exit_code == 0, result.output
    assert f"redirect URI:             {site.url}/login/sso/{PROVIDER}/callback" in result.output
    assert f"post-logout redirect URI: {site.url}/logout" in result.output
    assert "groups contains 'psi-training-authors' → author of psi" in result.output
    assert "check: ok; end-session endpoint yes" in result.output


def test_the_cli_check_fails_when_a_provider_is_unreachable(app, provider):
    provider.stop()
    result = app.test_cli_runner().invoke(args=["sso", "providers", "--check"])
    assert result.exit_code == 1
    assert "check: FAILED: provider unreachable" in result.output
