"""Command line: ``python -m swingsync_fast COMMAND``."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from .catalog import COORDINATE_SYSTEMS, HANDEDNESS


def _print_swing(swing) -> None:
    faults = ", ".join(f"{f.fault_id} {f.severity:.2f}" for f in swing.faults) or "none"
    tempo = f"{swing.tempo_ratio:.1f}:1" if swing.tempo_ratio else "n/a"
    top = swing.kpis_top
    print(
        f"  swing {swing.swing_index}: frames {swing.takeaway_frame}-{swing.finish_frame}, "
        f"top {swing.top_frame}, impact {swing.impact_frame}, tempo {tempo}, "
        f"shoulder turn {top['shoulder_turn'] or float('nan'):.0f} deg, "
        f"x-factor {top['x_factor'] or float('nan'):.0f} deg; faults: {faults}"
    )


def _demo(args: argparse.Namespace) -> int:
    from . import LiveAnalyzer, SessionConfig
    from .simulator import random_swing_spec, simulate

    rng = np.random.default_rng(args.seed)
    specs = [random_swing_spec(rng, club=args.club), random_swing_spec(
        rng, club=args.club, faults=frozenset({"SWAY", "CASTING"}))]
    stream = simulate(specs, club=args.club, fps=args.fps, noise_m=0.004, seed=args.seed)
    analyzer = LiveAnalyzer(SessionConfig(club_used=args.club))
    print(f"Simulated {len(specs)} {args.club} swings, {len(stream.timestamps)} frames at {args.fps:g} FPS")
    for index, t, frame in zip(stream.frame_indices.tolist(), stream.timestamps.tolist(), stream.keypoints):
        result = analyzer.push(index, t, frame)
        if result.event is not None:
            print(f"  {result.event.timestamp:6.2f}s frame {result.event.frame_index:4d}: "
                  f"{result.event.phase} ({result.p_position or '-'})")
        if result.swing is not None:
            _print_swing(result.swing)
    analyzer.close()
    return 0


def _analyze(args: argparse.Namespace) -> int:
    from . import SessionConfig, analyze_recording
    from .recordings import read_keypoint_csv

    try:
        data = read_keypoint_csv(args.file)
    except (OSError, ValueError, EOFError) as exc:  # a missing, unreadable or malformed file
        print(f"cannot analyse: {exc}", file=sys.stderr)
        return 2
    slow_motion = args.capture_fps / args.fps if args.capture_fps else args.slow_motion
    config = SessionConfig(
        slow_motion=slow_motion,
        club_used=args.club,
        skill_level=args.skill,
        handedness=args.handedness,
        coordinate_system=args.coordinates,
        image_aspect=args.aspect,
    )
    times = (data.frames - data.frames[0]) / args.fps
    recording = analyze_recording(data.keypoints, times, config, frame_indices=data.frames)
    usable = sum(f.usable for f in recording.frames)
    print(f"{args.file}: {len(recording.frames)} frames ({usable} usable), "
          f"{len(recording.swings)} swing(s){_time_base(config.slow_motion, recording.swings, args.fps)}")
    for swing in recording.swings:
        _print_swing(swing)
    return 0


def _time_base(asked: float | str, swings: list, fps: float) -> str:
    if asked != "auto":
        return f" at {asked:g}x slow motion" if asked != 1.0 else ""
    if not swings:
        return "; slow motion not found (no swing a golfer could make at 1x to 8x)"
    found = swings[0].slow_motion
    return f"; slow motion found: {found:g}x ({fps * found:g} FPS filmed)" if found != 1.0 else "; real time found"


def _aspect(value: str) -> float:
    """An aspect ratio: 0.5625, 360x640 or 9:16."""
    for mark in ("x", ":", "/"):
        if mark in value:
            width, _, height = value.partition(mark)
            break
    else:
        width, height = value, "1"
    try:
        aspect = float(width) / float(height)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"{value!r} is not a width / height such as 0.5625, 360x640 or 9:16") from None
    if not 0.1 <= aspect <= 10.0:
        raise argparse.ArgumentTypeError(f"{value!r} is not between 0.1 and 10")
    return aspect


def _slow_motion(value: str) -> float | str:
    if value == "auto":
        return value
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not 'auto' or a number") from None


def _serve(args: argparse.Namespace) -> int:
    from .server.auth import KeyFileError, read_key
    from .server.serve import log_to_console, run
    from .server.settings import Settings
    from .server.cluster.workers import check, run_workers

    try:
        settings = Settings.from_env(**({"dev_no_auth": True} if args.dev_no_auth else {}))
        check(args.workers, args.port, settings)
        if not settings.secret_key and settings.key_file.exists():
            read_key(settings.key_file)  # a bad key file fails here, plainly, not inside startup
        if args.workers > 1:
            log_to_console(args.log_level)
            return run_workers(args.host, args.port, settings, args.workers, log_level=args.log_level)
        run(args.host, args.port, settings, log_level=args.log_level)
    except (KeyFileError, ValueError) as exc:
        print(f"cannot serve: {exc}", file=sys.stderr)
        return 2
    return 0


def _token(args: argparse.Namespace) -> int:
    from .server.auth import KeyFileError, mint_token, resolve_secret
    from .server.settings import Settings

    try:
        key, _ = resolve_secret(Settings.from_env())
    except (KeyFileError, ValueError) as exc:
        print(f"cannot mint a token: {exc}", file=sys.stderr)
        return 2
    try:
        print(mint_token(key, args.user, args.role, args.ttl))
    except ValueError as exc:
        print(f"cannot mint a token: {exc}", file=sys.stderr)
        return 2
    return 0


def _replay(args: argparse.Namespace) -> int:
    import asyncio
    import json

    import msgspec

    from .analyzer import SwingSummary
    from .replay import replay
    from .server.recording import read_recording

    try:
        recording = read_recording(args.file)
    except (OSError, ValueError) as exc:
        print(f"cannot replay: {exc}", file=sys.stderr)
        return 2
    speed = None if args.fast else args.speed
    pace = "as fast as the server allows" if speed is None else f"at {speed:g}x its original pace"
    print(f"Replaying session {recording.session_id} of {recording.user_id}: {len(recording.frames)} frames, "
          f"{pace}", file=sys.stderr)

    def show(message: dict) -> None:
        kind, data = message["type"], message.get("data", {})
        if kind == "swing_summary":
            if args.json:
                print(json.dumps(data), flush=True)
            else:
                _print_swing(msgspec.convert(data, SwingSummary))
        elif kind == "error":
            print(f"  error {data['code']}: {data['message']}", file=sys.stderr)
        elif kind == "feedback" and not args.json and data["feedback"]:
            print(f"  feedback on swing {data['swing_index']}: {data['feedback']}")

    try:
        ended = asyncio.run(replay(recording, args.url, args.token, speed=speed, on_message=show))
    except (OSError, ValueError, RuntimeError) as exc:
        print(f"cannot replay: {exc}", file=sys.stderr)
        return 1
    print(f"Session {ended['session_id']} ended: {ended['frames_received']} frames, "
          f"{ended['frames_analysed']} analysed, {ended['swings']} swing(s)", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m swingsync_fast")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="analyse simulated swings and print what is found")
    demo.add_argument("--club", default="driver")
    demo.add_argument("--fps", type=float, default=30.0)
    demo.add_argument("--seed", type=int, default=1)
    demo.set_defaults(run=_demo)

    analyze = commands.add_parser("analyze", help="analyse a MediaPipe keypoint CSV (.csv or .csv.gz)")
    analyze.add_argument("file")
    analyze.add_argument("--fps", type=float, default=30.0,
                         help="frames per second the recording plays at (default 30)")
    speed = analyze.add_mutually_exclusive_group()
    speed.add_argument("--slow-motion", type=_slow_motion, default="auto", metavar="auto|FACTOR",
                       help="how many times slower than real it plays (8 for 240 FPS played at 30); "
                            "default auto: found from the swing, 1x to 8x")
    speed.add_argument("--capture-fps", type=float, metavar="FPS",
                       help="frames per second it was filmed at (slow motion = FPS / --fps)")
    analyze.add_argument("--club", default="driver")
    analyze.add_argument("--skill", default="intermediate")
    analyze.add_argument("--handedness", choices=HANDEDNESS, default="right")
    analyze.add_argument("--coordinates", choices=COORDINATE_SYSTEMS, default="mediapipe_image")
    analyze.add_argument("--aspect", type=_aspect, default=1.0, metavar="W/H",
                         help="width / height of the video the keypoints were posed on, as a number or "
                              "WIDTHxHEIGHT or W:H (a 360x640 portrait phone clip: 360x640 or 9:16). "
                              "The CSV's x and y are fractions of the width and the height, so angles need it. "
                              "Default 1 (a square picture)")
    analyze.set_defaults(run=_analyze)

    serve = commands.add_parser("serve", help="run the streaming server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1,
                       help="server processes on this port (SO_REUSEPORT); above 1 needs REDIS_URL")
    serve.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    serve.add_argument("--dev-no-auth", action="store_true",
                       help="DEVELOPMENT ONLY: accept calls without a token (logged loudly)")
    serve.set_defaults(run=_serve)

    token = commands.add_parser("token", help="mint a JWT for USER, signed with the server's key")
    token.add_argument("user")
    token.add_argument("--role", choices=("player", "coach", "admin"), default="player")
    token.add_argument("--ttl", type=float, default=24 * 3600, help="seconds until it expires (default a day)")
    token.set_defaults(run=_token)

    replay = commands.add_parser(
        "replay", help="stream a recorded session (GET .../sessions/{id}/recording) to a server, print the results")
    replay.add_argument("file")
    replay.add_argument("--url", required=True,
                        help="ws://HOST:PORT (the recording's user's socket) or the full /api/v1/stream/ws/USER URL")
    replay.add_argument("--token", help="a JWT for the socket's user (python -m swingsync_fast token USER)")
    pace = replay.add_mutually_exclusive_group()
    pace.add_argument("--speed", type=float, default=1.0, help="times the original pace (default 1)")
    pace.add_argument("--fast", action="store_true", help="as fast as the server's rate limit allows")
    replay.add_argument("--json", action="store_true", help="print each swing_summary's data as a JSON line")
    replay.set_defaults(run=_replay)

    from .video.cli import register as register_video

    register_video(commands)

    args = parser.parse_args(argv)
    if hasattr(args, "check"):
        args.check(parser, args)
    if args.command == "replay" and not args.fast and not args.speed > 0:
        parser.error("--speed must be positive")
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
