"""The Alembic migrations create exactly the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from panlearn.extensions import db


def test_migrations_and_models_agree(app):
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_upgrade_creates_every_model_table(app):
    from sqlalchemy import inspect

    with app.app_context():
        tables = set(inspect(db.engine).get_table_names())
    assert set(db.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_migrations_form_one_linear_history():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from tests.conftest import REPO_ROOT

    config = Config()
    config.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_the_identity_migration_moves_every_lti_link_over_and_back(app):
    """LTI links (lti_user) become `lti` identities, none lost; the downgrade restores them."""
    from datetime import UTC, datetime

    import sqlalchemy as sa
    from flask_migrate import downgrade, upgrade

    from panlearn.accounts.identities import IdentityKey, NewAccount, user_for_identity
    from panlearn.models import IdentityKind
    from tests.conftest import REPO_ROOT

    migrations, revision = str(REPO_ROOT / "migrations"), "b4d4be55d223"
    users = sa.table("user", *(sa.column(name) for name in (
        "id", "username", "password_hash", "role", "is_active", "created_at")))
    lti_user = sa.table("lti_user", *(sa.column(name) for name in (
        "id", "issuer", "sub", "user_id", "created_at")))
    when = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    links = [(4, "https://moodle.example.org", "s-1", 1), (7, "https://moodle.example.org", "s-2",
             2), (9, "https://canvas.example.org", "s-1", 2)]
    with app.app_context():
        downgrade(directory=migrations, revision=f"{revision}-1")
        with db.engine.begin() as connection:
            connection.execute(sa.insert(users), [
                {"id": n, "username": f"lti-{n}", "password_hash": "x", "role": "student",
                 "is_active": True, "created_at": when} for n in (1, 2)])
            connection.execute(sa.insert(lti_user), [
                {"id": i, "issuer": iss, "sub": sub, "user_id": uid, "created_at": when}
                for i, iss, sub, uid in links])
        upgrade(directory=migrations, revision=revision)
        with db.engine.connect() as connection:
            moved = connection.execute(sa.text(
                "SELECT id, issuer, sub, user_id, kind, provider FROM user_identity "
                "ORDER BY id")).all()
        assert [tuple(row) for row in moved] == [
            (i, iss, sub, uid, "lti", None) for i, iss, sub, uid in links]
        upgrade(directory=migrations, revision="heads")
        # New identities get ids past the moved ones, and the moved ones still sign in.
        user, created = user_for_identity(db.session, IdentityKey(
            "https://moodle.example.org", "s-2", IdentityKind.LTI), NewAccount("nobody"))
        assert (user.id, created) == (2, False)
        user, created = user_for_identity(db.session, IdentityKey(
            "https://id.example.org", "new", IdentityKind.OIDC, "example"), NewAccount("new"))
        assert created
        db.session.remove()

        downgrade(directory=migrations, revision=f"{revision}-1")
        with db.engine.connect() as connection:
            back = connection.execute(sa.text(
                "SELECT id, issuer, sub, user_id FROM lti_user ORDER BY id")).all()
        assert [tuple(row) for row in back] == [tuple(link) for link in links]
        upgrade(directory=migrations, revision="heads")
