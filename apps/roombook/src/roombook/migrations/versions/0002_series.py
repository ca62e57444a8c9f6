"""recurring bookings: series, and each booking's series"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "series",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("room_id", sa.Integer, sa.ForeignKey("rooms.id"), nullable=False),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
        sa.Column("first_day", sa.Date, nullable=False),
        sa.Column("until_day", sa.Date, nullable=False),
        sa.Column("every", sa.String(8), nullable=False),
        sa.Column("start_slot", sa.SmallInteger, nullable=False),
        sa.Column("end_slot", sa.SmallInteger, nullable=False),
        sa.Column("title", sa.String(100), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("user_id", "idempotency_key", name="uq_series_key"),
    )
    with op.batch_alter_table("bookings") as batch:
        batch.add_column(sa.Column("series_id", sa.Integer, nullable=True))
        batch.create_foreign_key("fk_bookings_series", "series", ["series_id"], ["id"])
        batch.create_index("ix_bookings_series_id", ["series_id"])


def downgrade() -> None:
    with op.batch_alter_table("bookings") as batch:
        batch.drop_index("ix_bookings_series_id")
        batch.drop_constraint("fk_bookings_series", type_="foreignkey")
        batch.drop_column("series_id")
    op.drop_table("series")
