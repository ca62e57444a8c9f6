"""The administrators' pages: rooms and people added, edited and removed
(kept for the history: a removed room takes no booking, a removed person
cannot sign in), and every booking of a day, to see and cancel."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, request, url_for
from flask_babel import gettext
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from roombook import auth, photos
from roombook.changes import cancel_all, undoable
from roombook.context import state, utcnow
from roombook.models import (
    NAME_MAX,
    Booking,
    Room,
    User,
    room_list,
)
from roombook.pages import longdate, page, signed_in
from roombook.slots import BadInput, parse_day, time_of

admin = Blueprint("admin", __name__, url_prefix="/admin")


def _back(where: str = "admin.index", **args: Any) -> Any:
    return redirect(url_for(where, **args)), 303


def _int(value: str, lo: int, hi: int, what: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise BadInput(f"{what} must be a whole number") from None
    if not lo <= n <= hi:
        raise BadInput(f"{what} must be between {lo} and {hi}")
    return n


def _today() -> date:
    return datetime.now(UTC).astimezone(state().settings.tz).date()


def _future(s: Session, today: date, **where: int) -> list[int]:
    """The ids of confirmed bookings from today on, of a room or a person."""
    q = select(Booking.id).where(Booking.status == "confirmed", Booking.day >= today)
    for column, value in where.items():
        q = q.where(getattr(Booking, column) == value)
    return list(s.scalars(q))


@admin.get("")
@signed_in(admin=True)
def index() -> Any:
    with state().maker() as s:
        return page("admin.html", rooms=list(s.scalars(room_list())),
                    users=list(s.scalars(select(User).where(User.disabled_at.is_(None))
                                         .order_by(User.email))))


def _room_fields(f: Any) -> tuple[str, str, int]:
    name, equipment = f.get("name", "").strip(), f.get("equipment", "").strip()
    if not 0 < len(name) <= NAME_MAX or len(equipment) > 200:
        raise BadInput(f"a name of 1 to {NAME_MAX} characters, equipment of at most 200")
    return name, equipment, _int(f.get("capacity", ""), 1, 1000, "capacity")


def _photo() -> str | None:
    upload = request.files.get("photo")
    if upload is None or not upload.filename:
        return None
    st = state().settings
    return photos.store(upload.read(), st.upload_dir, st.max_upload_bytes)


@admin.post("/rooms")
@signed_in(admin=True)
def add_room() -> Any:
    try:
        name, equipment, capacity = _room_fields(request.form)
        stored = _photo()
        with state().maker.begin() as s:
            s.add(Room(name=name, capacity=capacity, equipment=equipment, photo=stored,
                       created_at=utcnow()))
    except (BadInput, photos.BadPhoto) as exc:
        flash(str(exc), "error")
        return _back()
    except IntegrityError:
        flash(gettext("A room named %(name)s exists already.", name=repr(name)), "error")
        return _back()
    flash(gettext("Room %(name)s added.", name=name), "ok")
    return _back()


@admin.get("/rooms/<int(min=1, max=2147483647):room_id>")
@signed_in(admin=True)
def room(room_id: int) -> Any:
    with state().maker() as s:
        r = s.get(Room, room_id)
        if r is None or r.removed_at is not None:
            abort(404)
        future = len(_future(s, _today(), room_id=room_id))
    return page("admin_room.html", room=r, future=future)


@admin.post("/rooms/<int(min=1, max=2147483647):room_id>")
@signed_in(admin=True)
def edit_room(room_id: int) -> Any:
    try:
        name, equipment, capacity = _room_fields(request.form)
        stored = _photo()
        with state().maker.begin() as s:
            r = s.get(Room, room_id)
            if r is None or r.removed_at is not None:
                abort(404)
            r.name, r.equipment, r.capacity = name, equipment, capacity
            r.photo = stored or r.photo
    except (BadInput, photos.BadPhoto) as exc:
        flash(str(exc), "error")
        return _back("admin.room", room_id=room_id)
    except IntegrityError:
        flash(gettext("A room named %(name)s exists already.", name=repr(name)), "error")
        return _back("admin.room", room_id=room_id)
    flash(gettext("Room %(name)s saved.", name=name), "ok")
    return _back()


@admin.post("/rooms/<int(min=1, max=2147483647):room_id>/remove")
@signed_in(admin=True)
def remove_room(room_id: int) -> Any:
    """A room with future bookings is removed only when the form says to
    cancel them (the page said how many); never a booking left orphaned."""
    with state().maker.begin() as s:
        r = s.get(Room, room_id, with_for_update=True)
        if r is None or r.removed_at is not None:
            abort(404)
        future = _future(s, _today(), room_id=room_id)
        if future and request.form.get("future") != "cancel":
            flash(gettext("%(room)s has %(n)s bookings to come: choose to cancel them to "
                          "remove it.", room=r.name, n=len(future)), "error")
            return _back("admin.room", room_id=room_id)
        cancel_all(s, future, utcnow(), by=g.user.id, reason=f"{r.name} is no longer booked")
        r.removed_at = utcnow()
        # The name is free again for a new room.
        r.name = f"{r.name[:NAME_MAX - 12]} (removed {r.id})"
    flash(gettext("Room removed; %(n)s bookings to come cancelled.", n=len(future)), "ok")
    return _back()


def _user_fields(f: Any, new: bool) -> tuple[str, str, str]:
    email, name, password = (f.get("email", "").strip().lower(), f.get("name", "").strip(),
                             f.get("password", ""))
    if not auth.valid_email(email):
        raise BadInput("an email address like name@example.org is required")
    if not 0 < len(name) <= NAME_MAX:
        raise BadInput(f"a name of 1 to {NAME_MAX} characters is required")
    if (new or password) and not 10 <= len(password) <= 1024:
        raise BadInput("the password needs at least 10 characters")
    return email, name, password


@admin.post("/users")
@signed_in(admin=True)
def add_user() -> Any:
    f = request.form
    try:
        email, name, password = _user_fields(f, new=True)
        with state().maker.begin() as s:
            s.add(User(email=email, name=name, password_hash=auth.hash_password(password),
                       is_admin=bool(f.get("is_admin")), created_at=utcnow(),
                       books_for_others=bool(f.get("books_for_others"))))
    except BadInput as exc:
        flash(str(exc), "error")
    except IntegrityError:
        flash(f"{email} has an account already.", "error")
    else:
        flash(gettext("Account for %(email)s created.", email=email), "ok")
    return _back()


@admin.get("/users/<int(min=1, max=2147483647):user_id>")
@signed_in(admin=True)
def person(user_id: int) -> Any:
    with state().maker() as s:
        u = s.get(User, user_id)
        if u is None or u.disabled_at is not None:
            abort(404)
        future = len(_future(s, _today(), user_id=user_id))
    return page("admin_user.html", person=u, future=future)


@admin.post("/users/<int(min=1, max=2147483647):user_id>")
@signed_in(admin=True)
def edit_user(user_id: int) -> Any:
    f = request.form
    try:
        email, name, password = _user_fields(f, new=False)
        with state().maker.begin() as s:
            u = s.get(User, user_id)
            if u is None or u.disabled_at is not None:
                abort(404)
            if u.id == g.user.id and not f.get("is_admin"):
                raise BadInput("you cannot take your own administrator's rights away")
            u.email, u.name, u.is_admin = email, name, bool(f.get("is_admin"))
            u.books_for_others = bool(f.get("books_for_others"))
            if password:
                u.password_hash = auth.hash_password(password)
    except BadInput as exc:
        flash(str(exc), "error")
        return _back("admin.person", user_id=user_id)
    except IntegrityError:
        flash(gettext("%(email)s has an account already.", email=email), "error")
        return _back("admin.person", user_id=user_id)
    flash(gettext("%(email)s saved.", email=email), "ok")
    return _back()


@admin.post("/users/<int(min=1, max=2147483647):user_id>/remove")
@signed_in(admin=True)
def remove_user(user_id: int) -> Any:
    with state().maker.begin() as s:
        u = s.get(User, user_id, with_for_update=True)
        if u is None or u.disabled_at is not None:
            abort(404)
        if u.id == g.user.id:
            flash(gettext("You cannot remove yourself."), "error")
            return _back("admin.person", user_id=user_id)
        future = _future(s, _today(), user_id=user_id)
        u.disabled_at = utcnow()  # first: a person removed is sent no mail
        if request.form.get("future") == "cancel":
            cancel_all(s, future, utcnow(), by=g.user.id, reason="its booker was removed")
            kept = 0
        else:
            kept = len(future)
    flash(gettext("%(email)s removed: cannot sign in any more; %(n)s bookings to come kept.",
                  email=u.email, n=kept), "ok")
    return _back()


@admin.get("/bookings")
@signed_in(admin=True)
def bookings() -> Any:
    """Every booking of a day, every room, every person."""
    st = state()
    try:
        day = parse_day(request.args.get("date"), st.settings, datetime.now(UTC))
    except BadInput as exc:
        flash(str(exc), "error")
        day = _today()
    with st.maker() as s:
        rows = list(s.execute(
            select(Booking, Room.name, User.name, User.email).join(Room).join(User)
            .where(Booking.day == day).order_by(Room.name, Booking.start_slot)))
        total = s.scalar(select(func.count()).select_from(Booking)
                         .where(Booking.status == "confirmed", Booking.day >= _today()))
        undo = undoable(s, request.args.get("cancelled", ""), g.user, utcnow())
    items = [{"b": b, "room": room, "who": f"{who} <{email}>",
              "start": f"{time_of(st.settings, b.start_slot):%H:%M}",
              "end": f"{time_of(st.settings, b.end_slot):%H:%M}"} for b, room, who, email in rows]
    return page("admin_bookings.html", items=items, day=day, total=total, undo=undo,
                prev=day - timedelta(days=1), next=day + timedelta(days=1),
                title=longdate(day))

