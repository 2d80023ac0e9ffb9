"""panlearn as an LTI 1.3 tool: launches from an LMS, deep linking, grade passback.

An LMS (Moodle, Canvas, Open edX) registered as a platform (`flask lti register`)
launches lessons and exercises through the OIDC third-party login
(`/lti/login` → the platform → `/lti/launch`); its users get student accounts
here, keyed by issuer and `sub`. Deep linking lets a teacher pick lessons to
add to the LMS course. Exercise launches remember the AGS line item, so that a
graded submission's score is posted to the LMS gradebook (`passback.post_score`).

The protocol work (id_token validation, deep linking and AGS messages) is done
by pylti1p3; this package stores its configuration in the database, keeps the
tool's key pair in the instance dir, consumes nonces server-side, and maps
launches onto panlearn's users and lessons.
"""
