from typer.testing import CliRunner

from spacy_skd.cli import app
from spacy_skd.cli.demo import run_demo


def test_structural_kd_beats_token_kd_on_a_crf_teacher():
    rows = {(layer, method): kl for layer, method, kl, _, _ in run_demo(steps=80)}
    assert rows[("crf", "structural")] < 0.5 * rows[("crf", "token")]
    assert rows[("softmax", "structural")] < rows[("softmax", "token")]
    assert rows[("crf", "local_per_position")] < rows[("crf", "local")]


def test_demo_command_prints_a_table():
    result = CliRunner().invoke(app, ["demo", "--steps", "5"])
    assert result.exit_code == 0, result.output
    assert "| crf | structural |" in result.output
