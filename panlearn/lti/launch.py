"""Validating a launch and deciding what it means here: who, which lesson, which line item.

pylti1p3 checks the id_token (state, nonce, registration, RS256 signature with
the platform's JWKS, expiry, deployment, message claims). It only compares the
first `aud` with the client id, so `check_audience` adds OpenID Connect's rule
for several audiences (`azp` must then be our client id). Every refusal is an
`UnauthorizedError` naming the reason, which is what an LMS admin needs to fix
a registration.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pylti1p3.exception import LtiException, OIDCException
from pylti1p3.message_launch import MessageLaunch
from pylti1p3.oidc_login import OIDCLogin
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from panlearn.errors import UnauthorizedError
from panlearn.lti.config import DatabaseToolConf
from panlearn.lti.users import user_for_launch
from panlearn.models import Lesson, LessonKind, LtiLineItem, User, utcnow

log = logging.getLogger(__name__)

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
DEEP_LINKING_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
#: The custom parameter deep links carry, naming the lesson to open.
LESSON_PARAMETER = "panlearn_lesson"
_LESSON_PATH = re.compile(r"^/lessons/(\d+)(?:/|$)")


@dataclass(frozen=True)
class DeepLinkRequest:
    """What a deep-linking response needs later: where to, for whom, with which settings."""

    issuer: str
    client_id: str
    deployment_id: str
    settings: dict[str, Any]


@dataclass
class LaunchOutcome:
    """A validated launch: the panlearn user, and a lesson or a deep-linking request."""

    user: User
    lesson_id: int | None = None
    deep_link: DeepLinkRequest | None = None
    roles: list[str] = field(default_factory=list)


def begin_login(login: OIDCLogin[Any, Any, Any, Any, Any], launch_url: str) -> Any:
    """Answer the platform's third-party login initiation: redirect to its auth endpoint."""
    try:
        return login.redirect(launch_url)
    except (OIDCException, LtiException) as error:
        raise UnauthorizedError(f"LTI login refused: {error}") from None


def complete_launch(session: Session, launch: MessageLaunch[Any, Any, Any, Any],
                    tool_conf: DatabaseToolConf) -> LaunchOutcome:
    """Validate the id_token of a launch and map it onto panlearn; raise if it is refused."""
    try:
        claims = dict(launch.get_launch_data())
    except (LtiException, OIDCException) as error:
        raise UnauthorizedError(f"LTI launch refused: {error}") from None
    issuer, client_id = str(claims["iss"]), launch.get_client_id()
    check_audience(claims, client_id)
    platform = tool_conf.platform(issuer, client_id)
    if platform is None:  # removed between validation and now
        raise UnauthorizedError("LTI launch refused: the platform is not registered.")
    user = user_for_launch(session, issuer, str(claims["sub"]))
    roles = [str(role) for role in claims.get(CLAIM + "roles", [])]
    if launch.is_deep_link_launch():
        return LaunchOutcome(user=user, roles=roles, deep_link=DeepLinkRequest(
            issuer=issuer, client_id=client_id,
            deployment_id=str(claims[CLAIM + "deployment_id"]),
            settings=dict(claims.get(DEEP_LINKING_CLAIM) or {})))
    if not launch.is_resource_launch():
        raise UnauthorizedError("LTI launch refused: panlearn answers resource-link and "
                                "deep-linking launches only.")
    lesson = target_lesson(session, claims)
    if lesson is not None and lesson.exercise is not None:
        remember_line_item(session, claims, user, lesson, platform.id)
    return LaunchOutcome(user=user, roles=roles, lesson_id=lesson.id if lesson else None)


def check_audience(claims: dict[str, Any], client_id: str) -> None:
    """`aud` must name our client id, and with several audiences `azp` must too (OIDC §3.1.3.7).

    pylti1p3 takes the first audience as the client id and never looks at the others.
    """
    audiences = claims.get("aud")
    audiences = audiences if isinstance(audiences, list) else [audiences]
    if client_id not in audiences:
        raise UnauthorizedError("LTI launch refused: the id_token is for another audience.")
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise UnauthorizedError("LTI launch refused: several audiences and no matching azp.")


def target_lesson(session: Session, claims: dict[str, Any]) -> Lesson | None:
    """The lesson a resource link opens: its custom parameter, else its target link URI."""
    custom = claims.get(CLAIM + "custom") or {}
    raw = str(custom.get(LESSON_PARAMETER, "")) if isinstance(custom, dict) else ""
    if not raw.isdigit():
        match = _LESSON_PATH.match(urlsplit(str(claims.get(CLAIM + "target_link_uri", ""))).path)
        raw = match.group(1) if match else ""
    return session.get(Lesson, int(raw)) if raw.isdigit() else None


def remember_line_item(session: Session, claims: dict[str, Any], user: User, lesson: Lesson,
                       platform_id: int) -> LtiLineItem | None:
    """Keep the AGS line item of an exercise launch, so grading can post the score there."""
    endpoint = claims.get(AGS_CLAIM) or {}
    url = endpoint.get("lineitem") if isinstance(endpoint, dict) else None
    scopes = [str(s) for s in endpoint.get("scope", [])] if isinstance(endpoint, dict) else []
    if lesson.kind != LessonKind.EXERCISE or lesson.exercise is None or not url:
        return None
    if SCORE_SCOPE not in scopes:
        log.info("launch of exercise %s: the platform grants no score scope", lesson.id)
        return None
    link = session.scalar(select(LtiLineItem).where(
        LtiLineItem.user_id == user.id, LtiLineItem.exercise_id == lesson.exercise.id,
        LtiLineItem.lineitem_url == url))
    if link is None:
        link = LtiLineItem(user_id=user.id, exercise_id=lesson.exercise.id, lineitem_url=url,
                           platform_id=platform_id)
        session.add(link)
    link.scopes, link.launched_at, link.platform_id = scopes, utcnow(), platform_id
    try:
        session.commit()
    except IntegrityError as error:  # a lost race on the unique key: the other launch won
        session.rollback()
        log.info("line item of exercise %s not recorded again: %s", lesson.id, error)
        return None
    return link

