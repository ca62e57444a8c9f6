"""booking rules: the site's (longest booking, how far ahead, bookings per
person per week, opening hours per weekday, check-in) and its closed days
(the site's or one room's); when a booking was checked in, and who made it
on someone's behalf; who may book for others"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "site_rules",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("longest_minutes", sa.Integer, nullable=True),
        sa.Column("ahead_days", sa.Integer, nullable=True),
        sa.Column("per_week", sa.Integer, nullable=True),
        sa.Column("hours", sa.String(200), nullable=False, server_default=""),
        sa.Column("checkin_minutes", sa.Integer, nullable=True),
        sa.Column("checkin_since", sa.DateTime, nullable=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "closed_days",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("day", sa.Date, nullable=False, index=True),
        sa.Column("room_id", sa.Integer, sa.ForeignKey("rooms.id"), nullable=True),
        sa.Column("name", sa.String(80), nullable=False, server_default=""),
    )
    with op.batch_alter_table("bookings") as batch:
        batch.add_column(sa.Column("checked_in_at", sa.DateTime, nullable=True))
        batch.add_column(sa.Column("booked_by", sa.Integer, nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("books_for_others", sa.Boolean, nullable=False,
                                   server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("books_for_others")
    with op.batch_alter_table("bookings") as batch:
        batch.drop_column("booked_by")
        batch.drop_column("checked_in_at")
    op.drop_table("closed_days")
    op.drop_table("site_rules")
