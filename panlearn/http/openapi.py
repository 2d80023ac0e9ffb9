"""The REST API object (flask-smorest), created unbound here and bound in `create_app`.

It documents every error response as RFC 9457 problem+json (`ProblemSchema`), the
body `http.problems` renders.
"""

from __future__ import annotations

from flask_smorest import Api

from panlearn.http.problems import PROBLEM_MIMETYPE
from panlearn.schemas.common import ProblemSchema


class ProblemApi(Api):
    """flask-smorest, documenting every error as RFC 9457 problem+json."""

    def _register_responses(self) -> None:
        self.ERROR_SCHEMA = ProblemSchema
        self.DEFAULT_RESPONSE_CONTENT_TYPE = PROBLEM_MIMETYPE
        try:
            super()._register_responses()
        finally:
            # Success responses stay application/json.
            self.DEFAULT_RESPONSE_CONTENT_TYPE = "application/json"


api = ProblemApi()
