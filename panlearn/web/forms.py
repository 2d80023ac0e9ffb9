"""The page forms (Flask-WTF): each carries the session's CSRF token."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional


class LoginForm(FlaskForm):
    """Sign in to the browser session with a username and password."""

    username = StringField("Username", validators=[DataRequired(), Length(max=80)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=500)])
    next = HiddenField()


class LogoutForm(FlaskForm):
    """Sign out; a form (POST with CSRF token), so another site cannot sign a visitor out."""


class SubmissionForm(FlaskForm):
    """Hand in a completed exercise notebook."""

    notebook = FileField("Your completed notebook (.ipynb)", validators=[FileRequired()])


class ImportForm(FlaskForm):
    """Import a course into the author's organisation: a zip, or a public git URL at a ref."""

    archive = FileField("Course archive (.zip of the course folder)")
    git_url = StringField("Repository URL (https)",
                          validators=[Optional(), Length(max=500)])
    git_ref = StringField("Branch, tag or commit", default="main",
                          validators=[Optional(), Length(max=200)])
    #: "import" or "validate"; the page offers both as radio buttons (checked by the service).
    mode = StringField("What to do", default="import", validators=[Optional(), Length(max=16)])


class ConfirmForm(FlaskForm):
    """A confirmed change (publish, withdraw): only the CSRF token."""


#: Lifetimes a personal API token may be given, in days.
TOKEN_LIFETIMES = [SelectChoice("7", "7 days"), SelectChoice("30", "30 days"),
                   SelectChoice("90", "90 days"), SelectChoice("365", "1 year")]


class TokenForm(FlaskForm):
    """Create a personal API token (shown once)."""

    name = StringField("Name", validators=[DataRequired(), Length(max=100)],
                       description="What it is for, e.g. “course import from CI”.")
    days = SelectField("Valid for", choices=TOKEN_LIFETIMES, default="30")
