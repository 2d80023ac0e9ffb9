"""The identity file: providers from YAML, secrets from the environment, every mistake named."""

from __future__ import annotations

import pytest
import yaml

from panlearn.config import ConfigurationError
from panlearn.models import Role
from panlearn.sso.providers import RoleRule, load_identity_file
from panlearn.sso.roles import claim_values, grant_from_claims

UMBRELLA = {
    "name": "umbrellaid", "display_name": "UmbrellaID",
    "issuer": "https://umbrellaid.org/auth/realms/umbrella", "client_id": "panlearn",
    "client_secret_env": "UMBRELLA_SECRET",
    "roles": [
        {"claim": "eduperson_entitlement",
         "value": "urn:geant:umbrellaid.org:group:psi:training-admins#umbrellaid.org",
         "organisation": "psi", "role": "admin"},
        {"claim": "eduperson_entitlement",
         "value": "urn:geant:umbrellaid.org:group:psi:training-authors#umbrellaid.org",
         "organisation": "psi", "role": "author"},
    ],
}


def write(tmp_path, providers):
    path = tmp_path / "identity.yml"
    path.write_text(yaml.safe_dump({"providers": providers}))
    return path


def test_a_provider_is_read_with_its_secret_from_the_environment(tmp_path):
    [provider] = load_identity_file(write(tmp_path, [UMBRELLA]), {"UMBRELLA_SECRET": "s3"})
    assert provider.client_secret == "s3"
    assert provider.button_label == "Sign in with UmbrellaID"
    assert provider.scopes == ("openid", "profile", "email")
    assert provider.discovery_url == ("https://umbrellaid.org/auth/realms/umbrella/"
                                      ".well-known/openid-configuration")
    assert provider.link_by_verified_email is False
    assert [rule.role for rule in provider.roles] == [Role.ADMIN, Role.AUTHOR]
    assert "s3" not in repr(provider)


def test_no_file_or_an_empty_one_means_no_providers(tmp_path):
    assert load_identity_file(tmp_path / "absent.yml", {}) == []
    (tmp_path / "empty.yml").write_text("")
    assert load_identity_file(tmp_path / "empty.yml", {}) == []


@pytest.mark.parametrize(("change", "named"), [
    ({"client_secret": "oops"}, "secrets never go in this file"),
    ({"clientid": "typo"}, "clientid: Unknown field"),
    ({"issuer": "http://umbrellaid.org"}, "issuer: an https URL"),
    ({"issuer": "https://umbrellaid.org/?realm=x"}, "issuer: an https URL"),
    ({"name": "Umbrella ID"}, "name: lower-case letters"),
    ({"scopes": ["profile", "email"]}, "scopes: must include openid"),
    ({"client_secret_env": "NOT_SET_ANYWHERE"}, "NOT_SET_ANYWHERE is not set"),
    ({"roles": [{"claim": "groups", "value": "x", "organisation": "psi", "role": "student"}]},
     r"providers\[0\].roles\[0\].role: Must be one of"),
    ({"display_name": None}, "display_name"),
])
def test_every_mistake_is_named(tmp_path, change, named):
    entry = {**UMBRELLA, **change}
    with pytest.raises(ConfigurationError, match=named):
        load_identity_file(write(tmp_path, [entry]), {"UMBRELLA_SECRET": "s3"})


def test_names_are_unique_and_plain_http_is_for_this_machine_only(tmp_path):
    twice = [UMBRELLA, {**UMBRELLA, "display_name": "Again"}]
    with pytest.raises(ConfigurationError, match="'umbrellaid' is used twice"):
        load_identity_file(write(tmp_path, twice), {"UMBRELLA_SECRET": "s3"})
    local = {**UMBRELLA, "issuer": "http://127.0.0.1:8080/realms/dev"}
    public_client = {key: value for key, value in local.items() if key != "client_secret_env"}
    [provider] = load_identity_file(write(tmp_path, [public_client]), {})
    assert provider.client_secret is None


def test_a_list_instead_of_a_mapping_is_refused(tmp_path):
    path = tmp_path / "identity.yml"
    path.write_text(yaml.safe_dump([UMBRELLA]))
    with pytest.raises(ConfigurationError, match="a list `providers`"):
        load_identity_file(path, {"UMBRELLA_SECRET": "s3"})


def test_the_first_matching_rule_grants_and_claims_may_be_a_string_or_a_list(tmp_path):
    [provider] = load_identity_file(write(tmp_path, [UMBRELLA]), {"UMBRELLA_SECRET": "s3"})
    author = UMBRELLA["roles"][1]["value"]
    admin = UMBRELLA["roles"][0]["value"]
    assert grant_from_claims(provider.roles, {"eduperson_entitlement": author}).role == \
        Role.AUTHOR
    both = grant_from_claims(provider.roles, {"eduperson_entitlement": [author, admin]})
    assert (both.organisation, both.role) == ("psi", Role.ADMIN)
    assert grant_from_claims(provider.roles, {"eduperson_entitlement": ["urn:other"]}) is None
    assert grant_from_claims(provider.roles, {"groups": [author]}) is None
    assert grant_from_claims(provider.roles, {"eduperson_entitlement": {"x": author}}) is None


def test_a_rule_reads_keycloak_roles_along_the_claims_dots():
    realm = RoleRule(claim="realm_access.roles", value="training-author", organisation="psi",
                     role=Role.AUTHOR)
    client = RoleRule(claim="resource_access.panlearn.roles", value="admin",
                      organisation="psi", role=Role.ADMIN)
    keycloak = {"realm_access": {"roles": ["offline_access", "training-author"]},
                "resource_access": {"panlearn": {"roles": ["admin"]},
                                    "account": {"roles": ["view-profile"]}}}
    assert grant_from_claims([client, realm], keycloak).role == Role.ADMIN
    assert grant_from_claims([realm], keycloak).role == Role.AUTHOR
    assert grant_from_claims([client], {"resource_access": {"account": {"roles": ["admin"]}}}) \
        is None
    assert grant_from_claims([realm], {"realm_access": ["training-author"]}) is None
    assert grant_from_claims([realm], {"realm_access": {"roles": {"training-author": 1}}}) is None
    # A top-level claim named with dots (a URL) is read as it is, not followed.
    url = "https://panlearn.example.org/claims.groups"
    assert claim_values({url: ["a"], "https://panlearn": {"example": ["b"]}}, url) == ["a"]
