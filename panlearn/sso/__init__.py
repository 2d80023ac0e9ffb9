"""Single sign-on: people sign in with the identity they already have (OpenID Connect).

UmbrellaID, MyAccessID or a facility's Keycloak, configured in the identity
file, never in code. The modules, from configuration to protocol:

- `providers.py`: the identity file (`identity.yml`), checked at start-up;
  client secrets from the environment variables it names;
- `roles.py`: claim values → author/admin of an organisation, at every sign-in;
- `signin.py`: the use cases after the protocol: find the account by issuer
  and `sub` (the identity table shared with LTI), link one, or make one;
- `client.py`: the relying party (Authlib's Flask client), login state kept in
  the database and read once, every failure turned into a `SignInError`;
- `errors.py`: `SignInError`; `cli.py`: `flask sso providers [--check]`.

The HTTP edge is `web/sso.py` (sign-in, callback, linking) and
`web/account.py` (the account page and personal API tokens).
"""
