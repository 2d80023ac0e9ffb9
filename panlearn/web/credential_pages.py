"""A credential's own page: read, print (one A4 page) and share a certificate of completion.

`/credentials/<id>` is open to anyone who has the address, like the verify
endpoint: the learner shares it with a user office, which sees the course, the
organisation, the date and the platform's live verification, and can check
the username the visitor gives. The signed JSON-LD stays where it was
(`/api/credentials/<id>`, its holder and the issuer's staff).
"""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for

from panlearn.api.identity import current_user
from panlearn.credentials.public import credential_page
from panlearn.extensions import db

bp = Blueprint("credential_pages", __name__)

#: Longest username the holder check reads (usernames are at most 80 characters).
MAX_CLAIMED_HOLDER = 200


@bp.route("/credentials/<credential_id>")
def show(credential_id: str) -> str:
    """The certificate in words, verified live; `?holder=NAME` checks a username."""
    claimed = request.args.get("holder", "")[:MAX_CLAIMED_HOLDER]
    page = credential_page(db.session, credential_id, current_user(), claimed_holder=claimed)
    return render_template(
        "credential.html", page=page, claimed_holder=claimed.strip(),
        page_url=url_for("credential_pages.show", credential_id=credential_id, _external=True),
        download_url=url_for("credentials.download", credential_id=credential_id),
        verify_url=url_for("credentials.verify", credential_id=credential_id, _external=True),
        keys_url=url_for("credentials.keys", slug=page.credential.organisation.slug,
                         _external=True),
    )
