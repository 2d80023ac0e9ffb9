"""marshmallow schemas: every request and response body of the API goes through one.

One module per resource (`courses`, `submissions`, `search`, ...), and `common`
for the problem+json body and pages; import a schema from its module.
"""
