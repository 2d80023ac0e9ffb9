"""Live runs of a lesson's cells and learners' autosaved drafts."""

from __future__ import annotations

from marshmallow import Schema, fields, validate


class RunRequestSchema(Schema):
    """Run a code cell and the cells above it, as your notebook has them."""

    notebook = fields.Dict(required=True, metadata={
        "description": "Your notebook (nbformat 4 JSON). Only the sources of the cells you "
                       "may edit are taken, matched by cell id; every other cell is the "
                       "lesson's own."})
    cell = fields.String(required=True, validate=validate.Length(min=1, max=64),
                         metadata={"description": "The id of the code cell to run."})
    outputs = fields.String(load_default="cell", validate=validate.OneOf(["cell", "all"]),
                            metadata={"description": "`all` also returns the outputs of "
                                                     "every cell above (Run all)."})


class CellRunSchema(Schema):
    """One cell of a run."""

    cell = fields.String()
    status = fields.String(metadata={"description": "ok, error, timeout, or not-run (the run "
                                                    "stopped above it)"})
    execution_count = fields.Integer(allow_none=True)
    outputs = fields.List(fields.Dict(), metadata={"description": "nbformat outputs (only "
                                                                  "for the asked cell unless "
                                                                  "`outputs` is `all`)"})
    html = fields.String(metadata={"description": "The outputs as the lesson page shows "
                                                  "them, sanitised like a lesson."})


class RunResultSchema(Schema):
    """What a run gave: the asked cell's status and outputs, and every cell it ran."""

    cell = fields.String()
    status = fields.String(metadata={"description": "ok, error or timeout"})
    outputs = fields.List(fields.Dict(), metadata={"description": "nbformat outputs; error "
                                                                  "tracebacks show your own "
                                                                  "frames"})
    html = fields.String()
    ms = fields.Integer(metadata={"description": "Milliseconds from the request to the "
                                                 "outputs, queue included."})
    message = fields.String(allow_none=True, metadata={
        "description": "Why the run stopped early (\"Stopped after 10 s: …\"), if it did."})
    execution_count = fields.Integer(allow_none=True)
    cells = fields.List(fields.Nested(CellRunSchema))
    timings = fields.Dict(metadata={"description": "Seconds per phase on the worker."})


class DraftSchema(Schema):
    """Your autosaved notebook of an exercise: `notebook` is null until you save one."""

    notebook = fields.Dict(allow_none=True)
    saved_at = fields.DateTime(allow_none=True)
    size = fields.Integer(allow_none=True)


class DraftSaveSchema(Schema):
    """Save your notebook of an exercise as your draft (the last save is kept)."""

    notebook = fields.Dict(required=True, metadata={"description": "nbformat 4 JSON"})


class DraftSavedSchema(Schema):
    """A stored draft: when, and how many bytes."""

    saved_at = fields.DateTime()
    size = fields.Integer()
