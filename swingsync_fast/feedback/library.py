"""The drill library: per fault and skill level a cue, why it matters, and a drill with reps.

The words live in ``drills.json`` beside this module (data, not code), read
once and checked against the catalog: every fault id has advice, every skill
level has a cue and exactly one drill with reps for it.
"""

from __future__ import annotations

import functools
from pathlib import Path

import msgspec

from ..catalog import FAULT_IDS, SKILL_LEVELS

LIBRARY_PATH = Path(__file__).with_name("drills.json")


class LibraryError(ValueError):
    """The drill library file is missing something the offline coach needs."""


class Drill(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: str
    how: str
    reps: dict[str, str]  # skill level -> how much of it, for the levels this drill serves


class Advice(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    # A sentence with {placeholders} filled from the swing (see offline.swing_figures).
    evidence: str
    why: str
    cues: dict[str, str]  # skill level -> cue
    drills: tuple[Drill, ...]

    def cue(self, skill_level: str) -> str:
        return self.cues[skill_level]

    def drill(self, skill_level: str) -> tuple[Drill, str]:
        """The drill for this level and its reps."""
        for drill in self.drills:
            reps = drill.reps.get(skill_level)
            if reps is not None:
                return drill, reps
        raise LibraryError(f"no drill for skill level {skill_level!r}")  # load() rules this out


class DrillLibrary(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    version: int
    levels: tuple[str, ...]
    faults: dict[str, Advice]
    clean: Advice  # for a swing with no fault worth fixing

    def advice(self, fault_id: str) -> Advice:
        return self.faults[fault_id]


def _check(library: DrillLibrary, source: str) -> None:
    if set(library.levels) != set(SKILL_LEVELS):
        raise LibraryError(f"{source}: levels are {list(library.levels)}, expected {list(SKILL_LEVELS)}")
    missing = [f for f in FAULT_IDS if f not in library.faults]
    unknown = sorted(set(library.faults) - set(FAULT_IDS))
    if missing or unknown:
        raise LibraryError(f"{source}: faults missing {missing}, unknown {unknown}")
    for name, advice in [*library.faults.items(), ("clean", library.clean)]:
        for level in SKILL_LEVELS:
            if not advice.cues.get(level, "").strip():
                raise LibraryError(f"{source}: {name} has no cue for {level}")
            serving = [d.name for d in advice.drills if level in d.reps]
            if len(serving) != 1:
                raise LibraryError(f"{source}: {name} needs exactly one drill for {level}, has {serving}")
        for drill in advice.drills:
            stray = set(drill.reps) - set(SKILL_LEVELS)
            if stray:
                raise LibraryError(f"{source}: {name} drill {drill.name!r} has reps for unknown levels {sorted(stray)}")


def load_library(path: Path = LIBRARY_PATH) -> DrillLibrary:
    """Read and check a library file; LibraryError says what is wrong with it."""
    try:
        library = msgspec.json.decode(path.read_bytes(), type=DrillLibrary)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise LibraryError(f"{path}: {exc}") from None
    _check(library, str(path))
    return library


@functools.cache
def default_library() -> DrillLibrary:
    """The packaged library, loaded once per process."""
    return load_library()
