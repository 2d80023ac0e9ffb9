"""Publishing organisations (facilities)."""

from __future__ import annotations

from flask_smorest import Blueprint

from panlearn.catalogue import list_organisations as list_all
from panlearn.extensions import db
from panlearn.models import Organisation
from panlearn.schemas.accounts import OrganisationSchema

bp = Blueprint("organisations", __name__, url_prefix="/api/organisations",
               description="Publishing organisations")


@bp.route("")
@bp.response(200, OrganisationSchema(many=True))
def list_organisations() -> list[Organisation]:
    """Every organisation, by slug."""
    return list_all(db.session)
