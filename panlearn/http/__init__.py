"""What every HTTP edge shares: errors as problem+json, the documented REST API object.

`api/`, `web/` and the route modules of `lti/`, `sso/`, `metadata/` and `ops/`
use these; services never do (they raise `panlearn.errors` kinds instead).
"""
