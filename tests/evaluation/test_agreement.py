"""`spacy-skd agreement`: the share of tokens on which two pipelines agree."""

import json

import pytest
import spacy
from spacy.tokens import Doc, DocBin
from typer.testing import CliRunner

from spacy_skd.cli import app
from spacy_skd.evaluation.agreement import agreement_of
from tests.small_teacher import gold_examples

pytestmark = pytest.mark.filterwarnings("ignore:.*without sentence boundaries")


def test_counts_identical_predictions_token_by_token():
    vocab = spacy.blank("en").vocab

    def parsed(tags, heads, deps):
        return Doc(vocab, words=["They", "eat", "ham", "today"], tags=tags, heads=heads, deps=deps)

    a = parsed(["N", "V", "N", "R"], [1, 1, 1, 1], ["nsubj", "ROOT", "dobj", "advmod"])
    b = parsed(["N", "V", "J", "R"], [1, 1, 1, 2], ["nsubj", "ROOT", "obj", "advmod"])
    result = agreement_of([a, a], [b, a])
    assert result["tag"] == pytest.approx(7 / 8)
    assert result["head"] == pytest.approx(7 / 8)
    assert result["labelled_head"] == pytest.approx(6 / 8)
    assert "pos" not in result and "ent" not in result  # neither doc predicts them
    with pytest.raises(ValueError, match="words"):
        agreement_of([a], [Doc(vocab, words=["other"] * 4)])
    with pytest.raises(ValueError, match="different numbers of docs"):
        agreement_of([a, a], iter([a]))


def test_cli_agreement_of_a_pipeline_with_itself_is_total(teacher_path, tmp_path):
    corpus = tmp_path / "gold.spacy"
    DocBin(docs=[eg.reference for eg in gold_examples(spacy.blank("en"))]).to_disk(corpus)
    output = tmp_path / "agreement.json"
    args = ["agreement", str(teacher_path), str(teacher_path), str(corpus), "-o", str(output)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(output.read_text()) == {"tag": 1.0, "head": 1.0, "labelled_head": 1.0}
    assert "tag: 100.00%" in result.output

    missing = CliRunner().invoke(
        app, ["agreement", str(tmp_path / "nope"), str(teacher_path), str(corpus)]
    )
    assert missing.exit_code == 1 and "error" in missing.output
