"""SWINGSYNC_REALDATA points the real-data tests at the clips, wherever a clone keeps them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ONE_TEST = "tests/test_realdata.py::test_one_swing_with_top_and_impact_near_the_labels[swing1]"


def run_one(realdata: Path | str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SWINGSYNC_REALDATA": str(realdata)}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", ONE_TEST],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_a_folder_without_the_clips_skips_and_says_how_to_point_at_them(tmp_path):
    missing = tmp_path / "nowhere"
    run = run_one(missing)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 skipped" in run.stdout and str(missing) in run.stdout and "SWINGSYNC_REALDATA" in run.stdout


def test_the_setting_finds_clips_kept_anywhere(realdata_dir, tmp_path):
    elsewhere = tmp_path / "my clips"
    elsewhere.mkdir()
    (elsewhere / "swing1_labeled.csv.gz").write_bytes((realdata_dir / "swing1_labeled.csv.gz").read_bytes())
    run = run_one(elsewhere)
    assert run.returncode == 0 and "1 passed" in run.stdout, run.stdout + run.stderr


def test_a_folder_of_something_else_fails_plainly(tmp_path):
    run = run_one(tmp_path)
    assert run.returncode != 0 and "point it at the dtl-phone-swings folder" in run.stdout
