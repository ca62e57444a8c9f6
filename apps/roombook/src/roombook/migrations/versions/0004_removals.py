"""rooms and people removed by an administrator (kept for the history),
sign-out that ends every token, and failed sign-ins counted"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    with op.batch_alter_table("rooms") as batch:
        batch.add_column(sa.Column("removed_at", sa.DateTime, nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("disabled_at", sa.DateTime, nullable=True))
        batch.add_column(sa.Column("tokens_after", sa.DateTime, nullable=True))
    op.create_table(
        "login_failures",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("login_failures")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("tokens_after")
        batch.drop_column("disabled_at")
    with op.batch_alter_table("rooms") as batch:
        batch.drop_column("removed_at")
