"""Deep linking: a teacher picks published lessons, the LMS gets signed resource links.

The deep-linking launch shows a selection page; its form carries the launch's
context as a signed, short-lived token (not the session: inside the LMS's
frame our cookies may not be sent), and the chosen lessons come back as an
`LtiDeepLinkingResponse` JWT signed with the tool's key, auto-posted to the
platform's return URL. Exercises carry a line item (their points as
`scoreMaximum`), so the LMS makes a gradebook column and sends its AGS
endpoint with each launch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from pylti1p3.deep_link import DeepLink
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.lineitem import LineItem
from sqlalchemy.orm import Session

from panlearn.catalogue import lessons_of, list_courses
from panlearn.errors import InvalidInputError, UnauthorizedError
from panlearn.lti.config import DatabaseToolConf
from panlearn.lti.launch import LESSON_PARAMETER, DeepLinkRequest
from panlearn.models import CourseVersion, Lesson, LessonKind

#: How long a teacher may take to pick lessons, in seconds.
SELECTION_TTL_S = 3600
_SALT = "panlearn.lti.deep-link"
#: Read in one go: the whole public catalogue.
_ALL = 1_000_000


@dataclass(frozen=True)
class Selectable:
    """A published lesson a teacher may link into the LMS."""

    id: int
    title: str
    kind: str
    points: float | None


def selectable_courses(session: Session) -> list[tuple[CourseVersion, list[Selectable]]]:
    """Every published course with its lessons, as anonymous visitors see them."""
    courses = []
    for version in list_courses(session, None, per_page=_ALL).items:
        lessons = [Selectable(id=lesson.id, title=lesson.title, kind=lesson.kind.value,
                              points=lesson.exercise.points if lesson.exercise else None)
                   for _, lesson in lessons_of(version)]
        courses.append((version, lessons))
    return courses


def pack_request(request: DeepLinkRequest, user_id: int, secret: str) -> str:
    """The deep-linking context as a signed token for the selection form."""
    return URLSafeTimedSerializer(secret, salt=_SALT).dumps(
        {"request": asdict(request), "user": user_id})


def unpack_request(token: str, secret: str) -> tuple[DeepLinkRequest, int]:
    """The context back from the form; expired or forged tokens are refused."""
    try:
        data: Any = URLSafeTimedSerializer(secret, salt=_SALT).loads(
            token, max_age=SELECTION_TTL_S)
        return DeepLinkRequest(**data["request"]), int(data["user"])
    except SignatureExpired:
        raise UnauthorizedError("The selection took too long; open it again from the "
                                "LMS.") from None
    except (BadSignature, KeyError, TypeError, ValueError):
        raise UnauthorizedError("The deep-linking request is not valid.") from None


def deep_link_response(session: Session, request: DeepLinkRequest, lesson_ids: list[int], *,
                       tool_conf: DatabaseToolConf,
                       lesson_url: Callable[[int], str]) -> tuple[str, str]:
    """(the platform's return URL, the signed response JWT) for the chosen lessons."""
    settings = request.settings
    accepted = settings.get("accept_types") or ["ltiResourceLink"]
    if "ltiResourceLink" not in accepted:
        raise InvalidInputError("This LMS accepts no LTI resource links here.")
    if not lesson_ids:
        raise InvalidInputError("Choose at least one lesson.", errors={"lesson": ["required"]})
    if len(lesson_ids) > 1 and str(settings.get("accept_multiple", "true")).lower() == "false":
        raise InvalidInputError("This LMS accepts one lesson at a time.",
                                errors={"lesson": ["choose one"]})
    published = {item.id for _, items in selectable_courses(session) for item in items}
    resources = []
    for lesson_id in lesson_ids:
        lesson = session.get(Lesson, lesson_id)
        if lesson is None or lesson_id not in published:
            raise InvalidInputError(f"No published lesson {lesson_id}.",
                                    errors={"lesson": [f"unknown: {lesson_id}"]})
        resources.append(_resource(lesson, lesson_url(lesson.id)))
    registration = tool_conf.find_registration_by_params(request.issuer, request.client_id)
    if registration is None:
        raise UnauthorizedError("The platform is no longer registered.")
    deep_link = DeepLink(registration, request.deployment_id, settings)  # type: ignore[arg-type]
    return str(settings["deep_link_return_url"]), deep_link.get_response_jwt(resources)


def _resource(lesson: Lesson, url: str) -> DeepLinkResource:
    resource = (_WindowResource().set_url(url).set_title(lesson.title)
                .set_custom_params({LESSON_PARAMETER: str(lesson.id)}))
    if lesson.kind == LessonKind.EXERCISE and lesson.exercise is not None:
        resource.set_lineitem(LineItem().set_score_maximum(lesson.exercise.points)
                              .set_label(lesson.title)
                              .set_resource_id(f"panlearn-exercise-{lesson.exercise.id}")
                              .set_tag("panlearn"))
    return resource


class _WindowResource(DeepLinkResource):
    """A resource link the LMS opens in a new window (pylti1p3 cannot say so itself).

    Lesson pages refuse to be framed by other sites, and browsers withhold our
    session cookie inside another site's frame: a window is what works.
    """

    def to_dict(self) -> dict[str, object]:
        """The content item, with `window` as its presentation."""
        item = super().to_dict()
        item["window"] = {"targetName": "_blank"}
        return item
