"""The page forms (Flask-WTF): each carries the session's CSRF token."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length


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


#: Lifetimes a personal API token may be given, in days.
TOKEN_LIFETIMES = [SelectChoice("7", "7 days"), SelectChoice("30", "30 days"),
                   SelectChoice("90", "90 days"), SelectChoice("365", "1 year")]


class TokenForm(FlaskForm):
    """Create a personal API token (shown once)."""

    name = StringField("Name", validators=[DataRequired(), Length(max=100)],
                       description="What it is for, e.g. “course import from CI”.")
    days = SelectField("Valid for", choices=TOKEN_LIFETIMES, default="30")
