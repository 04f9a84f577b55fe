"""What server processes say to each other on the bus (Redis pub/sub), MessagePack arrays.

The envelope every message travels in; each process's pulse and figures (``cluster``); what
coaching rooms tell their other halves (``watchers.coaching``).
"""

from __future__ import annotations

from typing import Literal

import msgspec

from .coaching import StreamingStudent
from .figures import BusStats, HistogramCounts, SystemStats


class Audience(msgspec.Struct, frozen=True):
    """Who in a room gets a message: everyone, or the users named plus (optionally) the coaches."""

    everyone: bool = False
    coaches: bool = False
    users: frozenset[str] = frozenset()

    def includes(self, user_id: str, is_coach: bool) -> bool:
        return self.everyone or (self.coaches and is_coach) or user_id in self.users


class Envelope(msgspec.Struct, array_like=True, frozen=True):
    version: int
    origin: str  # the publishing process's id
    body: bytes


class Pulse(msgspec.Struct, array_like=True, frozen=True):
    process_id: str
    demand: dict[str, float]  # user id -> messages a second asked on that process's main sockets
    live: list[str]  # session ids streaming on that process
    sockets: dict[str, int]  # user id -> sockets (main, coaching, monitor) open on that process


class ProcessFigures(msgspec.Struct, frozen=True):
    process_id: str
    pid: int
    host: str
    at: float  # epoch seconds
    stats: SystemStats
    latency: HistogramCounts
    bus: BusStats


# What a room remembers of a fanned-out message: nothing, the latest swing, a posted message.
FanoutKind = Literal["result", "feedback", "swing", "posted"]


class Fanout(msgspec.Struct, tag="fanout", array_like=True, frozen=True):
    """A message for the room's members in ``audience``; ``sample`` = (stream, time): a member gets
    it only if its own rate for that stream allows."""

    kind: FanoutKind
    payload: str
    audience: Audience
    sample: tuple[str, float] | None = None


class RosterMember(msgspec.Struct, array_like=True, frozen=True):
    user_id: str
    role: str
    is_coach: bool
    fps: float


class Roster(msgspec.Struct, tag="roster", array_like=True, frozen=True):
    """One process's part of a room, whole (it replaces the last one heard from that process)."""

    process_id: str
    members: list[RosterMember]
    streams: list[StreamingStudent]
    ask: bool = False  # the sender has just opened the room, or is back: answer with your part


class Closed(msgspec.Struct, tag="closed", array_like=True, frozen=True):
    """The coaching session was deleted (over REST, on ``process_id``)."""

    process_id: str


RoomEvent = Fanout | Roster | Closed
