"""Completion credentials: Open Badges 3.0, signed by the organisation, verifiable by anyone.

- `badges`: the OpenBadgeCredential document for a completed course version.
- `verify`: JCS canonicalisation, multibase, and eddsa-jcs-2022 proof checking;
  standalone (no app, no database), for verifying offline with a public key.
- `signing`: adds the Data Integrity proof, with the same hashing as `verify`.
- `keys`: organisations' Ed25519 keys, made on first need, stored encrypted.
- `service`: issue, show, verify and revoke credentials, as a given viewer.
"""
