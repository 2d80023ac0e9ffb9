"""HTTP edge of the LTI 1.3 tool: OIDC login, launch, deep linking, the tool's JWKS.

The LTI endpoints take cross-site POSTs from the LMS, authenticated by the
platform's signed id_token (or, for the deep-linking form, by our own signed
token), so they are exempt from the pages' CSRF check. The id_token is read
through pylti1p3's Flask adapter; what a launch means is decided in
`lti.launch`.
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from panlearn.api.identity import SESSION_USER_KEY
from panlearn.errors import InvalidInputError
from panlearn.extensions import db
from panlearn.web.security import (
    allow_form_action,
    allow_framing,
    allow_script,
    register_csrf_exempt,
)
from panlearn.wiring import services

if TYPE_CHECKING:
    from pylti1p3.contrib.flask import FlaskCookieService, FlaskRequest

    from panlearn.lti.config import DatabaseToolConf
    from panlearn.lti.keys import ToolKey
    from panlearn.lti.nonces import DatabaseSessionService

# pylti1p3 (with requests and jwcrypto) and the tool's modules are imported by the views
# that use them: every `flask` command builds the app, and this module with it.

bp = Blueprint("lti", __name__, template_folder="templates")

#: The one inline script of the deep-linking return page, allowed by its hash.
AUTO_SUBMIT_SCRIPT = "document.getElementById('lti-return').submit();"
_AUTO_SUBMIT_HASH = "'sha256-" + base64.b64encode(
    hashlib.sha256(AUTO_SUBMIT_SCRIPT.encode()).digest()).decode() + "'"


def _key() -> ToolKey:
    return services().tool_key()


def _tool_conf() -> DatabaseToolConf:
    from panlearn.lti.config import DatabaseToolConf

    return DatabaseToolConf(db.session, _key())


def _lti_request() -> tuple[FlaskRequest, DatabaseSessionService, FlaskCookieService]:
    from pylti1p3.contrib.flask import FlaskCookieService, FlaskRequest

    from panlearn.lti.nonces import DatabaseSessionService

    lti_request = FlaskRequest()
    return (lti_request, DatabaseSessionService(lti_request, db.session),
            FlaskCookieService(lti_request))


@bp.route("/.well-known/jwks.json")
def jwks() -> Response:
    """The tool's public keys, with which platforms verify what panlearn signs."""
    from panlearn.lti.keys import tool_jwks

    response = jsonify(tool_jwks(_key()))
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response


@bp.route("/lti/login", methods=["GET", "POST"])
def login() -> Any:
    """OIDC third-party login initiation: the platform sends `iss` and `login_hint`."""
    from pylti1p3.contrib.flask import FlaskOIDCLogin

    from panlearn.lti.launch import begin_login

    lti_request, sessions, cookies = _lti_request()
    oidc = FlaskOIDCLogin(lti_request, _tool_conf(), session_service=sessions,
                          cookie_service=cookies)
    return begin_login(oidc, url_for("lti.launch", _external=True))


@bp.route("/lti/launch", methods=["POST"])
def launch() -> Any:
    """The platform posts the id_token here: open the lesson, or the deep-linking picker."""
    from pylti1p3.contrib.flask import FlaskMessageLaunch

    from panlearn.lti.config import TimeoutSession
    from panlearn.lti.deep_linking import pack_request, selectable_courses
    from panlearn.lti.launch import complete_launch

    lti_request, sessions, cookies = _lti_request()
    tool_conf = _tool_conf()
    message = FlaskMessageLaunch(lti_request, tool_conf, session_service=sessions,
                                 cookie_service=cookies, requests_session=TimeoutSession())
    outcome = complete_launch(db.session, message, tool_conf)
    if outcome.deep_link is not None:
        settings = outcome.deep_link.settings
        # The LMS shows the picker in its own frame; allow that frame only.
        allow_framing([_origin(str(settings.get("deep_link_return_url", "")))])
        multiple = str(settings.get("accept_multiple", "true")).lower() != "false"
        return render_template(
            "lti/select.html", courses=selectable_courses(db.session), multiple=multiple,
            token=pack_request(outcome.deep_link, outcome.user.id,
                               current_app.config["SECRET_KEY"]))
    # A new session on privilege change, as at password sign-in.
    session.clear()
    session[SESSION_USER_KEY] = outcome.user.id
    target = (url_for("pages.lesson", lesson_id=outcome.lesson_id)
              if outcome.lesson_id is not None else url_for("pages.catalogue"))
    return redirect(target, code=303)


@bp.route("/lti/deep-link", methods=["POST"])
def deep_link() -> str:
    """The picker's answer: sign the chosen lessons and post them back to the LMS."""
    from panlearn.lti.deep_linking import deep_link_response, unpack_request

    context, _ = unpack_request(request.form.get("token", ""),
                                current_app.config["SECRET_KEY"])
    try:
        lesson_ids = [int(value) for value in request.form.getlist("lesson")]
    except ValueError:
        raise InvalidInputError("Lessons are chosen by id.",
                                errors={"lesson": ["not an id"]}) from None
    return_url, jwt = deep_link_response(
        db.session, context, lesson_ids, tool_conf=_tool_conf(),
        lesson_url=lambda lesson_id: url_for("pages.lesson", lesson_id=lesson_id,
                                             _external=True))
    allow_framing([_origin(return_url)])
    allow_script(_AUTO_SUBMIT_HASH)
    # The page's whole point is a form posted to the platform.
    allow_form_action([_origin(return_url)])
    return render_template("lti/return.html", return_url=return_url, jwt=jwt,
                           script=AUTO_SUBMIT_SCRIPT)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else "'self'"


def init_app(app: Flask) -> None:
    """Register the tool's routes, exempt from CSRF (the id_token authenticates them)."""
    register_csrf_exempt(app, bp)
