"""`flask --app app lti …`: register LMS platforms, show the tool's URLs and key.

Thin commands over `lti.config`; domain errors print plainly with exit status 1.
"""

from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup

from panlearn.errors import PanlearnError
from panlearn.wiring import services

lti_cli = AppGroup("lti", help="Run panlearn as an LTI 1.3 tool of an LMS.")


def _fail(error: PanlearnError) -> None:
    click.echo(f"{error.title}: {error.detail}", err=True)
    for name, messages in (error.errors or {}).items():
        click.echo(f"  {name}: {messages}", err=True)
    sys.exit(1)


@lti_cli.command("register")
@click.option("--issuer", required=True, help="The platform's issuer (iss), e.g. "
              "https://moodle.example.org")
@click.option("--client-id", required=True, help="The client id the platform gave the tool.")
@click.option("--deployment-id", "deployment_ids", multiple=True,
              help="A deployment id (repeat for several); launches from others are refused.")
@click.option("--auth-login-url", required=True, help="The platform's OIDC authentication URL.")
@click.option("--token-url", required=True, help="The platform's OAuth2 access token URL.")
@click.option("--jwks-url", required=True, help="The platform's public keyset URL.")
@click.option("--audience", default=None, help="The token URL's audience, if the platform "
              "wants another than the token URL itself.")
@click.option("--name", default="", help="A name for people (default: the issuer's host).")
def register_command(issuer: str, client_id: str, deployment_ids: tuple[str, ...],
                     auth_login_url: str, token_url: str, jwks_url: str, audience: str | None,
                     name: str) -> None:
    """Register (or update) a platform; deployments are added to those it has."""
    from panlearn.extensions import db
    from panlearn.lti.config import PlatformInput, register_platform  # pylti1p3: when run

    try:
        platform = register_platform(db.session, PlatformInput(
            issuer=issuer, client_id=client_id, auth_login_url=auth_login_url,
            auth_token_url=token_url, key_set_url=jwks_url, deployment_ids=deployment_ids,
            name=name, auth_audience=audience))
    except PanlearnError as error:
        _fail(error)
        return
    deployments = ", ".join(d.deployment_id for d in platform.deployments) or "none yet"
    click.echo(f"registered {platform.name}: issuer {platform.issuer}, client id "
               f"{platform.client_id}, deployments: {deployments}")


@lti_cli.command("list")
def list_command() -> None:
    """List the registered platforms."""
    from panlearn.extensions import db
    from panlearn.lti.config import list_platforms

    for platform in list_platforms(db.session):
        deployments = ", ".join(d.deployment_id for d in platform.deployments) or "-"
        click.echo(f"{platform.issuer}  client {platform.client_id}  deployments {deployments}"
                   f"  ({platform.name})")


@lti_cli.command("remove")
@click.argument("issuer")
@click.argument("client_id")
def remove_command(issuer: str, client_id: str) -> None:
    """Forget a platform registration."""
    from panlearn.extensions import db
    from panlearn.lti.config import remove_platform

    try:
        remove_platform(db.session, issuer, client_id)
    except PanlearnError as error:
        _fail(error)
        return
    click.echo(f"removed {issuer} {client_id}")


@lti_cli.command("tool")
@click.option("--base-url", default="https://panlearn.example.org", show_default=True,
              help="Where this panlearn is served (the URLs an LMS admin enters).")
def tool_command(base_url: str) -> None:
    """Print what an LMS admin enters for panlearn: URLs, and the public key."""
    from panlearn.lti.keys import tool_jwks

    base = base_url.rstrip("/")
    key = services().tool_key()
    click.echo(f"Tool URL / redirection URI: {base}/lti/launch")
    click.echo(f"Initiate login URL:         {base}/lti/login")
    click.echo(f"Deep linking URL:           {base}/lti/launch")
    click.echo(f"Public keyset URL:          {base}/.well-known/jwks.json")
    click.echo("Public key (PEM), for platforms that take a key instead of a keyset URL:")
    click.echo(key.public_pem.strip())
    click.echo("Public keyset:")
    click.echo(json.dumps(tool_jwks(key), indent=2))
