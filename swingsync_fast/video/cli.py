"""The ``video`` subcommand of ``python -m swingsync_fast``: its arguments, and a call into :mod:`.run`."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..catalog import HANDEDNESS

VIEWS = ("auto", "face_on", "down_the_line", "oblique")


def register(commands: argparse._SubParsersAction) -> None:
    video = commands.add_parser(
        "video", help="pose a video file or a camera with MediaPipe and analyse the swings (here or on a server)")
    video.add_argument("file", nargs="?", type=Path, help="a video file (mp4, mov, webm, ...)")
    video.add_argument("--camera", type=int, metavar="N", help="camera number N instead of a file")
    where = video.add_mutually_exclusive_group(required=True)
    where.add_argument("--local", action="store_true", help="analyse here, without a server")
    where.add_argument("--url", help="stream to a server: ws://HOST:PORT (or the full socket URL)")
    video.add_argument("--token", help="a JWT for the socket's user (python -m swingsync_fast token USER)")
    video.add_argument("--user", help="the socket's user (default: the token's subject)")
    video.add_argument("--fast", action="store_true",
                       help="stream as fast as the server's rate limit allows, not at the video's pace")
    video.add_argument("--json", action="store_true", help="print one JSON object per event")
    video.add_argument("--out", type=Path, metavar="FILE.mp4",
                       help="write the video with the skeleton, phase, KPIs and faults drawn on it")
    video.add_argument("--pictures", type=Path, metavar="DIR",
                       help="write each swing's address, top, impact and finish as small JPEGs in DIR "
                            "(default with --out: NAME-pictures/ beside it)")
    video.add_argument("--club", default="driver")
    video.add_argument("--skill", default="intermediate")
    video.add_argument("--handedness", choices=HANDEDNESS, default="right")
    video.add_argument("--view", choices=VIEWS, default="auto", help="where the camera stands (default: detected)")
    video.add_argument("--fps", type=float,
                       help="the real frame rate of a slow-motion clip (default: the file's own times)")
    video.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    bar = video.add_mutually_exclusive_group()
    bar.add_argument("--progress", action="store_true", default=None,
                     help="show the progress bar (default: on a terminal, for a file)")
    bar.add_argument("--no-progress", dest="progress", action="store_false")
    video.set_defaults(run=_run, check=_check)


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if (args.file is None) == (args.camera is None):
        parser.error("video: give a FILE or --camera N (one of them)")
    if args.fast and args.local:
        parser.error("video: --fast is for streaming to a server (--url)")
    if args.fps is not None and not 0 < args.fps <= 10_000:
        parser.error("video: --fps must be positive")
    if args.max_frames is not None and args.max_frames < 1:
        parser.error("video: --max-frames must be at least 1")


def _run(args: argparse.Namespace) -> int:
    from .run import VideoOptions, run_video

    return run_video(VideoOptions(
        file=args.file, camera=args.camera, url=args.url, token=args.token, user=args.user, fast=args.fast,
        json_lines=args.json, out=args.out, pictures=args.pictures, club=args.club, skill=args.skill, handedness=args.handedness,
        view=args.view, fps=args.fps, max_frames=args.max_frames, progress=args.progress,
    ))
