"""`flask --app app sso …`: what to register at each identity provider, and a live check.

Thin commands over `sso.client`: the redirect URI and the other values an
operator enters at UmbrellaID, MyAccessID or a Keycloak, and (with `--check`)
whether each provider's discovery document is reachable and names the
configured issuer.
"""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from panlearn.sso.errors import SignInError
from panlearn.wiring import services

sso_cli = AppGroup("sso", help="Sign-in through OpenID Connect identity providers.")


@sso_cli.command("providers")
@click.option("--base-url", default=None, help="Where this panlearn is served (default "
              "PANLEARN_PUBLIC_URL, else http://localhost:5000).")
@click.option("--check", is_flag=True, help="Fetch each provider's discovery document.")
def providers_command(base_url: str | None, check: bool) -> None:
    """List the configured providers with what to register at each."""
    base = (base_url or services().settings["PUBLIC_URL"]
            or "http://localhost:5000").rstrip("/")
    clients = services().sso
    if not clients.providers:
        click.echo("no identity providers configured (see PANLEARN_IDENTITY_FILE)")
        return
    failed = False
    for provider in clients.providers:
        click.echo(f"{provider.name}: {provider.display_name}")
        click.echo(f"  issuer:                   {provider.issuer}")
        click.echo(f"  client id:                {provider.client_id} ("
                   + ("confidential: secret set" if provider.client_secret else
                      "public: PKCE only") + ")")
        click.echo(f"  redirect URI:             {base}/login/sso/{provider.name}/callback")
        click.echo(f"  post-logout redirect URI: {base}/logout")
        click.echo(f"  scopes:                   {' '.join(provider.scopes)}")
        for rule in provider.roles:
            click.echo(f"  role: {rule.claim} contains {rule.value!r} → {rule.role.value} of "
                       f"{rule.organisation}")
        if check:
            try:
                metadata = clients.discover(provider.name)
            except SignInError as error:
                failed = True
                click.echo(f"  check: FAILED: {error.reason}", err=True)
                continue
            click.echo("  check: ok; end-session endpoint "
                       + ("yes" if metadata.get("end_session_endpoint") else "no"))
    if failed:
        sys.exit(1)
