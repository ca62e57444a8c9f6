"""who cancelled a booking, and why (an administrator's reason, which the
booker sees); each booking's revision and when it last changed (calendar
clients learn of a moved booking by them)"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    with op.batch_alter_table("bookings") as batch:
        batch.add_column(sa.Column("cancelled_by", sa.Integer, nullable=True))
        batch.add_column(sa.Column("cancel_reason", sa.String(200), nullable=True))
        batch.add_column(sa.Column("revision", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("updated_at", sa.DateTime, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bookings") as batch:
        batch.drop_column("updated_at")
        batch.drop_column("revision")
        batch.drop_column("cancel_reason")
        batch.drop_column("cancelled_by")
