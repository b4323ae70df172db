"""The command line's manners: a missing command, a closed pipe."""

from __future__ import annotations

import subprocess
import sys

from gradflow.cli import main


def test_missing_command_prints_usage_on_stderr_and_exits_2(capsys):
    assert main([]) == 2
    out = capsys.readouterr()
    assert out.out == "" and out.err.startswith("usage: gradflow")
    assert main(["papers"]) == 2
    out = capsys.readouterr()
    assert out.out == "" and "usage: gradflow papers" in out.err


def test_closed_pipe_ends_quietly():
    # `gradflow papers list | head -1`: the reader closes the pipe after one line.
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from gradflow.cli import main; raise SystemExit(main(['papers', 'list']))",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert first
    assert "Traceback" not in err and "BrokenPipeError" not in err
