"""Progress bars: shown on a terminal, quiet elsewhere and with --quiet."""

import io
import json
import os
import subprocess
import sys
import types

import pytest
import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_skd.cli import app
from spacy_skd.cli.demo import run_demo
from spacy_skd.progress import counted, progress_bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_draws_on_a_terminal_unless_quiet(monkeypatch):
    for quiet, drawn in [(False, True), (True, False)]:
        monkeypatch.setattr(sys, "stderr", Terminal())
        with progress_bar(3, "docs", quiet=quiet) as bar:
            assert bar.disable != drawn
            assert list(counted(["a", "b", "c"], bar)) == ["a", "b", "c"]
        assert ("3/3" in sys.stderr.getvalue()) == drawn


def test_a_bar_is_quiet_off_a_terminal(capsys):
    with progress_bar(2, "docs") as bar:
        assert bar.disable
        bar.update(2)
    assert capsys.readouterr().err == ""
    run_demo(steps=1, quiet=False)
    assert capsys.readouterr().err == ""


@pytest.fixture
def pipeline_and_corpus(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.to_disk(tmp_path / "pipeline")
    DocBin(docs=[nlp(text) for text in ["One two.", "Three.", "Four five."]]).to_disk(
        tmp_path / "corpus.spacy"
    )
    return tmp_path / "pipeline", tmp_path / "corpus.spacy"


def on_a_terminal(*args: str) -> str:
    """The output of `python -m spacy_skd ARGS` run with stdout and stderr on a
    pseudo-terminal."""
    import fcntl
    import pty
    import struct
    import termios

    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # rows, columns
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "spacy_skd", *args]
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=child, stderr=child, env=env
    )
    os.close(child)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    output = b"".join(chunks).decode("utf8", errors="replace")
    assert process.wait(timeout=300) == 0, output
    return output


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_benchmark_draws_its_bar_on_a_real_terminal(pipeline_and_corpus, tmp_path):
    pipeline, corpus = pipeline_and_corpus
    args = ["benchmark", str(pipeline), str(corpus), "-o", str(tmp_path / "s.json")]
    shown = on_a_terminal(*args, "--repeats", "2", "--threads", "1")
    assert "timing on the CPU" in shown and "6/6" in shown  # 3 docs, 2 passes


def command_lines(pipeline, corpus, tmp_path):
    return [
        ["benchmark", str(pipeline), str(corpus), "-o", str(tmp_path / "s.json"), "--threads", "1"],
        ["compare", str(corpus), str(pipeline), "--repeats", "1"],
        ["agreement", str(pipeline), str(pipeline), str(corpus)],
        ["demo", "--steps", "2"],
    ]


def test_commands_over_a_corpus_draw_bars_on_a_terminal_unless_quiet(
    pipeline_and_corpus, tmp_path, monkeypatch
):
    screen = Terminal()
    monkeypatch.setattr("spacy_skd.progress.sys", types.SimpleNamespace(stderr=screen))
    for args in command_lines(*pipeline_and_corpus, tmp_path):
        for quiet in (False, True):
            screen.seek(0)
            screen.truncate()
            result = CliRunner().invoke(app, args + (["--quiet"] if quiet else []))
            assert result.exit_code == 0, result.output
            assert ("%|" in screen.getvalue()) != quiet, (args, screen.getvalue())


def test_commands_over_a_corpus_are_quiet_off_a_terminal(pipeline_and_corpus, tmp_path):
    for args in command_lines(*pipeline_and_corpus, tmp_path):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        assert result.stderr == "", (args, result.stderr)
    assert json.loads((tmp_path / "s.json").read_text())["cpu_words_per_second"] > 0
