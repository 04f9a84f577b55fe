"""The session store over SQL, written once: its statements, rows to and from objects, and
``SQLSessionStore``, whose two drivers (``sqlite``, ``postgres``) only run statements.

Statements are written with PostgreSQL's numbered parameters (``$1``);
``qmark`` turns them into SQLite's (``?1``), so each query exists once. Rows
keep each object's wire JSON plus the columns that queries filter and sort
on, so reading back gives exactly what the client was sent.

A driver provides four things: ``_fetch`` (rows of a query, after every
write queued before it), ``_run`` (statements in one transaction),
``_enqueue`` (a write of the frame path, never waiting) and its heartbeat.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import msgspec

from ...analyzer import SwingSummary
from ...pictures import MOMENTS
from .base import ended_as_expired, ended_as_orphan
from .records import (
    RecordedFrame,
    SessionRecord,
    SessionState,
    StoredFeedback,
    StoredMessage,
    StoredPicture,
    StoredSwing,
)

to_json = msgspec.json.Encoder().encode
decode_record = msgspec.json.Decoder(SessionRecord).decode
decode_summary = msgspec.json.Decoder(SwingSummary).decode

INSERT_SESSION = ("INSERT INTO sessions (session_id, user_id, state, created_at, started_at, ended_at, end_reason, "
                  "server_id, record) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
UPDATE_SESSION = ("UPDATE sessions SET user_id = $2, state = $3, created_at = $4, started_at = $5, ended_at = $6, "
                  "end_reason = $7, server_id = $8, record = $9 WHERE session_id = $1")
GET_SESSION = "SELECT record FROM sessions WHERE session_id = $1"
DELETE_SESSION = "DELETE FROM sessions WHERE session_id = $1"
ALL_SESSIONS = "SELECT record FROM sessions ORDER BY created_at DESC LIMIT $1"
VISIBLE_SESSIONS = ("SELECT record FROM sessions WHERE user_id = $1 OR session_id IN "
                    "(SELECT session_id FROM session_members WHERE user_id = $1) ORDER BY created_at DESC LIMIT $2")
DELETE_MEMBERS = "DELETE FROM session_members WHERE session_id = $1"
INSERT_MEMBER = "INSERT INTO session_members VALUES ($1, $2) ON CONFLICT DO NOTHING"
INSERT_MESSAGE = "INSERT INTO messages (session_id, sender, type, sent_at, body) VALUES ($1, $2, $3, $4, $5)"
LAST_MESSAGES = "SELECT sender, type, sent_at, body FROM messages WHERE session_id = $1 ORDER BY id DESC LIMIT $2"
INSERT_SWING = ("INSERT INTO swings (session_id, user_id, swing_index, ended_at, club, summary) "
                "VALUES ($1, $2, $3, $4, $5, $6)")
INSERT_FEEDBACK = ("INSERT INTO feedback (session_id, swing_index, feedback_id, source, created_at, text) "
                   "VALUES ($1, $2, $3, $4, $5, $6)")
INSERT_FRAME = "INSERT INTO frames (session_id, frame_index, timestamp, keypoints) VALUES ($1, $2, $3, $4)"
SWINGS = "SELECT session_id, user_id, club, ended_at, summary FROM swings"
SESSION_SWINGS = SWINGS + " WHERE session_id = $1 ORDER BY swing_index, id"
FEEDBACK = ("SELECT session_id, swing_index, feedback_id, source, text, created_at FROM feedback "
            "WHERE session_id = $1 ORDER BY id")
PUT_PICTURE = ("INSERT INTO pictures (session_id, swing_index, moment, width, height, created_at, jpeg) "
               "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (session_id, swing_index, moment) DO UPDATE SET "
               "width = excluded.width, height = excluded.height, created_at = excluded.created_at, "
               "jpeg = excluded.jpeg")
PICTURE = ("SELECT width, height, created_at, jpeg FROM pictures "
           "WHERE session_id = $1 AND swing_index = $2 AND moment = $3")
PICTURE_MOMENTS = "SELECT swing_index, moment FROM pictures WHERE session_id = $1"
FRAMES = "SELECT frame_index, timestamp, keypoints FROM frames WHERE session_id = $1 ORDER BY id"
# Active sessions of servers not heard from since $1, with their last stored swing's time.
ORPHANS = ("SELECT session_id, record, (SELECT max(ended_at) FROM swings w WHERE w.session_id = s.session_id) "
           "FROM sessions s WHERE state = 'active' AND (server_id IS NULL OR server_id NOT IN "
           "(SELECT server_id FROM servers WHERE beat_at >= $1))")
END_ORPHAN = ("UPDATE sessions SET state = $2, ended_at = $3, end_reason = $4, server_id = NULL, record = $5 "
              "WHERE session_id = $1")
# A live session's figures so far; guarded by state, so it never undoes the session's end.
CHECKPOINT_SESSION = "UPDATE sessions SET record = $2 WHERE session_id = $1 AND state = 'active'"
UNSTARTED_OF_USER = "SELECT count(*) FROM sessions WHERE user_id = $1 AND state = 'created'"
# Un-started sessions created before $1 without a coaching message since $1.
STALE_UNSTARTED = ("SELECT record FROM sessions s WHERE state = 'created' AND created_at < $1 AND NOT EXISTS "
                   "(SELECT 1 FROM messages m WHERE m.session_id = s.session_id AND m.sent_at >= $1)")
# Guarded by state: a session started meanwhile (by any process) is left alone.
END_UNSTARTED = ("UPDATE sessions SET state = $2, ended_at = $3, end_reason = $4, record = $5 "
                 "WHERE session_id = $1 AND state = 'created'")
FORGET_SERVERS = "DELETE FROM servers WHERE beat_at < $1"
FORGET_SERVER = "DELETE FROM servers WHERE server_id = $1"


def qmark(sql: str) -> str:
    """A statement with SQLite's numbered parameters (``?1``) for PostgreSQL's (``$1``)."""
    return sql.replace("$", "?")


def session_row(record: SessionRecord, server_id: str) -> tuple[object, ...]:
    """The sessions row for ``INSERT_SESSION``/``UPDATE_SESSION``; an active one streams on ``server_id``."""
    return (record.session_id, record.user_id, record.state.value, record.created_at, record.started_at,
            record.ended_at, record.end_reason, server_id if record.state is SessionState.ACTIVE else None,
            to_json(record).decode())


def member_rows(record: SessionRecord) -> list[tuple[str, str]]:
    return [(record.session_id, member) for member in record.participants]


def message_row(message: StoredMessage) -> tuple[object, ...]:
    return (message.session_id, message.sender, message.type, message.sent_at, bytes(message.body).decode())


def messages_from(session_id: str, newest_first: list) -> list[StoredMessage]:
    return [StoredMessage(session_id=session_id, sender=sender, type=type_, sent_at=sent_at,
                          body=msgspec.Raw(body.encode()))
            for sender, type_, sent_at, body in reversed(newest_first)]


def swing_row(swing: StoredSwing) -> tuple[object, ...]:
    return (swing.session_id, swing.user_id, swing.summary.swing_index, swing.ended_at, swing.club,
            to_json(swing.summary).decode())


def swings_from(rows: list) -> list[StoredSwing]:
    return [StoredSwing(session_id=session_id, user_id=user_id, club=club, ended_at=ended_at,
                        summary=decode_summary(summary))
            for session_id, user_id, club, ended_at, summary in rows]


def feedback_row(feedback: StoredFeedback) -> tuple[object, ...]:
    return (feedback.session_id, feedback.swing_index, feedback.feedback_id, feedback.source,
            feedback.created_at, feedback.text)


def feedback_from(rows: list) -> list[StoredFeedback]:
    return [StoredFeedback(session_id=session_id, swing_index=swing_index, feedback_id=feedback_id,
                           source=source, text=text, created_at=created_at)
            for session_id, swing_index, feedback_id, source, text, created_at in rows]


def picture_row(picture: StoredPicture) -> tuple[object, ...]:
    return (picture.session_id, picture.swing_index, picture.moment, picture.width, picture.height,
            picture.created_at, picture.jpeg)


def moments_from(rows: list) -> dict[int, list[str]]:
    by_swing: dict[int, list[str]] = {}
    for swing_index, moment in rows:
        by_swing.setdefault(int(swing_index), []).append(moment)
    return {n: sorted(moments, key=MOMENTS.index) for n, moments in sorted(by_swing.items())}


def frame_rows(session_id: str, frames: list[RecordedFrame]) -> list[tuple[object, ...]]:
    return [(session_id, f.frame_index, f.timestamp, f.keypoints) for f in frames]


def frames_from(rows: list) -> list[RecordedFrame]:
    return [RecordedFrame(frame_index, timestamp, bytes(keypoints)) for frame_index, timestamp, keypoints in rows]


def of_user(select: str, user_id: str, viewer: str | None, club: str | None = None) -> tuple[str, list[object]]:
    """``select`` narrowed to ``user_id``'s rows, to sessions ``viewer`` is a member of, and to a club
    family; the statement so far and its arguments (the caller appends ``LIMIT $n``)."""
    args: list[object] = [user_id]
    sql = select + " WHERE user_id = $1"
    if viewer is not None:
        args.append(viewer)
        sql += f" AND session_id IN (SELECT session_id FROM session_members WHERE user_id = ${len(args)})"
    if club is not None:
        args.append(club)
        sql += f" AND club = ${len(args)}"
    return sql, args


def orphan_rows(rows: list) -> list[tuple[object, ...]]:
    """``END_ORPHAN`` rows for the ``ORPHANS`` found: each ended at its last swing (or start)."""
    ended = [ended_as_orphan(decode_record(raw), last_swing) for _, raw, last_swing in rows]
    return [(r.session_id, r.state.value, r.ended_at, r.end_reason, to_json(r).decode()) for r in ended]


# ---------------------------------------------------------------------------- the store


class RowRefused(Exception):
    """A constraint refused a row (a duplicate key, a session that is not there): a driver's own
    integrity error, said the same way by both."""


class NoRowChanged(Exception):
    """A ``Step(must_change=True)`` changed no row; its transaction is undone."""


class Step(NamedTuple):
    """One statement of a transaction: with its arguments, or with many rows (a list: executemany)."""

    statement: str
    args: tuple[object, ...] | list[tuple[object, ...]]
    must_change: bool = False  # no row changed: undo the transaction, raise NoRowChanged


# A queued write of the frame path; encoded into rows later, off the frame path (``rows_of``).
Queued = StoredSwing | StoredFeedback | tuple[str, list[RecordedFrame]] | SessionRecord


def rows_of(write: Queued) -> tuple[str, list[tuple[object, ...]]]:
    """A queued write as its statement and rows."""
    if isinstance(write, StoredSwing):
        return INSERT_SWING, [swing_row(write)]
    if isinstance(write, StoredFeedback):
        return INSERT_FEEDBACK, [feedback_row(write)]
    if isinstance(write, SessionRecord):
        return CHECKPOINT_SESSION, [(write.session_id, to_json(write).decode())]
    return INSERT_FRAME, frame_rows(*write)


def members_steps(record: SessionRecord) -> list[Step]:
    return [Step(DELETE_MEMBERS, (record.session_id,)), Step(INSERT_MEMBER, member_rows(record))]


class SQLSessionStore:
    """Everything a SQL store does but run statements (see the module's note)."""

    server_id: str

    async def _fetch(self, query: str, args: tuple[object, ...]) -> Sequence[Sequence[object]]:
        raise NotImplementedError

    async def _run(self, steps: list[Step]) -> list[int]:
        """Run ``steps`` in one transaction; the rows each changed (-1 for a list of rows)."""
        raise NotImplementedError

    def _enqueue(self, write: Queued) -> None:
        raise NotImplementedError

    # ---------------------------------------------------------------- session records

    async def add(self, record: SessionRecord) -> None:
        try:
            await self._run([Step(INSERT_SESSION, session_row(record, self.server_id)), *members_steps(record)])
        except RowRefused:
            raise KeyError(f"session {record.session_id} already exists") from None

    async def get(self, session_id: str) -> SessionRecord | None:
        records = await self._records(GET_SESSION, (session_id,))
        return records[0] if records else None

    async def save(self, record: SessionRecord) -> None:
        try:
            await self._run([Step(UPDATE_SESSION, session_row(record, self.server_id), must_change=True),
                             *members_steps(record)])
        except NoRowChanged:
            raise KeyError(f"session {record.session_id} does not exist") from None

    async def delete(self, session_id: str) -> bool:
        return (await self._run([Step(DELETE_SESSION, (session_id,))]))[0] > 0

    async def visible_to(self, user_id: str, is_admin: bool, limit: int) -> list[SessionRecord]:
        if is_admin:
            return await self._records(ALL_SESSIONS, (limit,))
        return await self._records(VISIBLE_SESSIONS, (user_id, limit))

    async def unstarted_count(self, user_id: str) -> int:
        (count,), = await self._fetch(UNSTARTED_OF_USER, (user_id,))
        return int(count)  # type: ignore[call-overload]

    async def expire_unstarted(self, created_before: float, now: float) -> int:
        stale = await self._records(STALE_UNSTARTED, (created_before,))
        if not stale:
            return 0
        ended = [ended_as_expired(r, now) for r in stale]
        rows = [(r.session_id, r.state.value, r.ended_at, r.end_reason, to_json(r).decode()) for r in ended]
        await self._run([Step(END_UNSTARTED, rows)])
        return len(rows)

    async def user_sessions(self, user_id: str, viewer: str | None, limit: int) -> list[SessionRecord]:
        query, args = of_user("SELECT record FROM sessions", user_id, viewer)
        return await self._records(f"{query} ORDER BY created_at DESC LIMIT ${len(args) + 1}", (*args, limit))

    async def _records(self, query: str, args: tuple[object, ...]) -> list[SessionRecord]:
        return [decode_record(raw) for raw, in await self._fetch(query, args)]

    # ---------------------------------------------------------------- coaching messages

    async def add_message(self, message: StoredMessage) -> None:
        try:
            await self._run([Step(INSERT_MESSAGE, message_row(message))])
        except RowRefused:
            raise KeyError(f"session {message.session_id} does not exist") from None

    async def messages(self, session_id: str, limit: int) -> list[StoredMessage]:
        if limit <= 0:
            return []
        return messages_from(session_id, list(await self._fetch(LAST_MESSAGES, (session_id, limit))))

    # ---------------------------------------------------------------- queued writes

    def add_swing(self, swing: StoredSwing) -> None:
        self._enqueue(swing)

    def add_frames(self, session_id: str, frames: list[RecordedFrame]) -> None:
        self._enqueue((session_id, frames))

    def add_feedback(self, feedback: StoredFeedback) -> None:
        self._enqueue(feedback)

    def checkpoint(self, record: SessionRecord) -> None:
        self._enqueue(record)

    # ---------------------------------------------------------------- swing pictures

    async def put_picture(self, picture: StoredPicture) -> None:
        try:
            await self._run([Step(PUT_PICTURE, picture_row(picture))])
        except RowRefused:
            raise KeyError(f"session {picture.session_id} does not exist") from None

    async def picture(self, session_id: str, swing_index: int, moment: str) -> StoredPicture | None:
        rows = list(await self._fetch(PICTURE, (session_id, swing_index, moment)))
        if not rows:
            return None
        width, height, created_at, jpeg = rows[0]
        return StoredPicture(session_id=session_id, swing_index=swing_index, moment=moment, width=width,
                             height=height, created_at=created_at, jpeg=bytes(jpeg))

    async def picture_moments(self, session_id: str) -> dict[int, list[str]]:
        return moments_from(list(await self._fetch(PICTURE_MOMENTS, (session_id,))))

    # ---------------------------------------------------------------- history

    async def swings(self, session_id: str) -> list[StoredSwing]:
        return swings_from(list(await self._fetch(SESSION_SWINGS, (session_id,))))

    async def user_swings(
        self, user_id: str, viewer: str | None, limit: int, club: str | None = None
    ) -> list[StoredSwing]:
        query, args = of_user(SWINGS, user_id, viewer, club)
        query = f"{query} ORDER BY ended_at DESC, id DESC LIMIT ${len(args) + 1}"
        return swings_from(list(await self._fetch(query, (*args, limit))))

    async def feedback(self, session_id: str) -> list[StoredFeedback]:
        return feedback_from(list(await self._fetch(FEEDBACK, (session_id,))))

    async def frames(self, session_id: str) -> list[RecordedFrame]:
        return frames_from(list(await self._fetch(FRAMES, (session_id,))))
