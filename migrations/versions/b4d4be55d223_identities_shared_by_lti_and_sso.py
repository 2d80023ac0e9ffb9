"""identities shared by LTI and SSO: lti_user rows move to user_identity; login state;
account e-mail, display name and role source; personal token names

Every LTI link (issuer, sub → user) is copied into `user_identity` with kind
`lti` before `lti_user` is dropped, keeping its id, user and creation time;
the downgrade copies the `lti` identities back. OpenID Connect identities
have no place in the old schema and are dropped by the downgrade.

Revision ID: b4d4be55d223
Revises: 5d1e7c2a9b40
Create Date: 2026-12-02 02:45:18.434215

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b4d4be55d223'
down_revision = '5d1e7c2a9b40'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('login_state',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_login_state'))
    )
    with op.batch_alter_table('login_state', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_state_expires_at'), ['expires_at'], unique=False)

    op.create_table('user_identity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('issuer', sa.String(length=300), nullable=False),
    sa.Column('sub', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('lti', 'oidc', name='identity_kind', native_enum=False, create_constraint=True, length=16), nullable=False),
    sa.Column('provider', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_user_identity_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_identity')),
    sa.UniqueConstraint('issuer', 'sub', name=op.f('uq_user_identity_issuer'))
    )
    with op.batch_alter_table('user_identity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_identity_user_id'), ['user_id'], unique=False)

    # Move every LMS link over, ids included, before the old table goes.
    op.execute(
        "INSERT INTO user_identity (id, issuer, sub, user_id, kind, provider, created_at, "
        "last_used_at) SELECT id, issuer, sub, user_id, 'lti', NULL, created_at, NULL "
        "FROM lti_user"
    )
    if op.get_bind().dialect.name == 'postgresql':
        # Rows were inserted with explicit ids: move the sequence past them.
        op.execute(
            "SELECT setval(pg_get_serial_sequence('user_identity', 'id'), "
            "COALESCE((SELECT MAX(id) FROM user_identity), 0) + 1, false)"
        )

    with op.batch_alter_table('lti_user', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lti_user_user_id'))

    op.drop_table('lti_user')
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name', sa.String(length=100), nullable=True))

    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('display_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('email', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('role_source', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_user_email'), ['email'], unique=False)


def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_email'))
        batch_op.drop_column('role_source')
        batch_op.drop_column('email')
        batch_op.drop_column('display_name')

    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_column('name')

    op.create_table('lti_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('issuer', sa.String(length=300), nullable=False),
    sa.Column('sub', sa.String(length=255), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_lti_user_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lti_user')),
    sa.UniqueConstraint('issuer', 'sub', name=op.f('uq_lti_user_issuer'))
    )
    with op.batch_alter_table('lti_user', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lti_user_user_id'), ['user_id'], unique=False)

    op.execute(
        "INSERT INTO lti_user (id, issuer, sub, user_id, created_at) "
        "SELECT id, issuer, sub, user_id, created_at FROM user_identity WHERE kind = 'lti'"
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            "SELECT setval(pg_get_serial_sequence('lti_user', 'id'), "
            "COALESCE((SELECT MAX(id) FROM lti_user), 0) + 1, false)"
        )

    with op.batch_alter_table('user_identity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_identity_user_id'))

    op.drop_table('user_identity')
    with op.batch_alter_table('login_state', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_state_expires_at'))

    op.drop_table('login_state')
