"""``python -m swingsync_fast analyze``: what a new user types, and what they get back."""

from __future__ import annotations

import subprocess
import sys

import pytest

from swingsync_fast.__main__ import main


def test_a_missing_file_is_one_clear_line_not_a_traceback(tmp_path):
    missing = tmp_path / "my-swing.csv"
    run = subprocess.run([sys.executable, "-m", "swingsync_fast", "analyze", str(missing)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert run.stderr.strip() == f"cannot analyse: [Errno 2] No such file or directory: '{missing}'"
    assert "Traceback" not in run.stderr


def test_a_file_that_is_not_a_keypoint_csv_says_what_is_missing(tmp_path, capsys):
    bad = tmp_path / "notes.csv"
    bad.write_text("frame,x\n1,2\n")
    assert main(["analyze", str(bad)]) == 2
    assert "missing columns x_0" in capsys.readouterr().err


@pytest.mark.parametrize("given", ["0.5625", "360x640", "9:16", "9/16"])
def test_the_aspect_is_a_number_or_width_and_height(realdata_dir, capsys, given):
    assert main(["analyze", str(realdata_dir / "swing1_labeled.csv.gz"), "--aspect", given]) == 0
    assert "1 swing(s)" in capsys.readouterr().out


def test_help_explains_the_aspect_and_its_default(capsys):
    with pytest.raises(SystemExit):
        main(["analyze", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "width / height of the video" in text and "360x640 or 9:16" in text and "Default 1" in text


@pytest.mark.parametrize("bad", ["wide", "9:0", "100"])
def test_a_bad_aspect_is_refused_by_name(capsys, bad):
    with pytest.raises(SystemExit):
        main(["analyze", "x.csv", "--aspect", bad])
    assert "argument --aspect" in capsys.readouterr().err
