"""`spacy-skd card`: the model card of a distilled pipeline states its scores,
speed, training and licences, leaves out what has no metrics file, and is the
README that `spacy package` ships."""

import json

import pytest
import spacy
import srsly
from spacy.cli.package import package
from typer.testing import CliRunner

from spacy_skd.cli import app
from spacy_skd.evaluation.card import CardRuns, model_card, read_data_notes, write_card

DATA_NOTES = """---
license: "CC BY-SA 4.0"
sources:
  - name: "UD English-EWT"
    url: "https://github.com/UniversalDependencies/UD_English-EWT"
    license: "CC BY-SA 4.0"
  - name: "all-MiniLM-L6-v2"
    license: "Apache-2.0"
---

- **Gold annotation**: UD English-EWT train (CC BY-SA 4.0).
- **The teacher**: from all-MiniLM-L6-v2's weights (Apache 2.0).
"""

DISTILL_CFG = """[system]
seed = 3

[training]
max_steps = 4000
eval_frequency = 200

[corpora]

[corpora.train]
@readers = "spacy-skd.MixedCorpus.v1"
gold_share = 0.5

[corpora.train.gold]
@readers = "spacy.Corpus.v1"
path = "corpus/ewt-train.spacy"

[corpora.train.text]
@readers = "spacy.PlainTextCorpus.v1"
path = "assets/unlabelled/transfer-2000000.txt"

[corpora.dev]
@readers = "spacy.Corpus.v1"
path = "corpus/ewt-dev.spacy"

[components]

[components.distiller]
factory = "skd_distiller"
teacher = "training/teacher-minilm/model-best"

[components.distiller.students]

[components.distiller.students.senter]
method = "token"
kd_weight = 0.5
temperature = 1.0

[components.distiller.students.ner]
method = "structural"
kd_weight = 0.5
temperature = 1.0
"""


def scores(las, ner=0.6):
    return {
        "pos_acc": 0.944,
        "tag_acc": 0.9368,
        "dep_uas": las + 0.04,
        "dep_las": las,
        "ents_f": ner,
        "sents_f": 0.7418,
    }


def write_metrics(folder, name, files):
    folder.mkdir(parents=True, exist_ok=True)
    for suffix, content in files.items():
        (folder / f"{name}.{suffix}.json").write_text(json.dumps(content))


def speed(words, size=8.2):
    return {"cpu_words_per_second": words, "threads": 2, "cpu": "Some CPU", "size_mb": size}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """A small untrained pipeline on disk: senter and NER with three labels."""
    nlp = spacy.blank("en")
    nlp.add_pipe("senter")
    ner = nlp.add_pipe("ner")
    for label in ("PER", "LOC", "ORG"):
        ner.add_label(label)
    nlp.initialize()
    path = tmp_path_factory.mktemp("pipeline") / "model-best"
    nlp.to_disk(path)
    return path


@pytest.fixture
def inputs(tmp_path):
    (tmp_path / "data.md").write_text(DATA_NOTES)
    (tmp_path / "distill.cfg").write_text(DISTILL_CFG)
    metrics = tmp_path / "metrics"
    gum = dict(scores(0.8130, ner=None), tag_acc=0.9407)
    files = {"ewt-test": scores(0.8135), "gum-test": gum, "speed": speed(7512.4)}
    write_metrics(metrics, "distilled", files)
    write_metrics(metrics, "teacher", {"ewt-test": scores(0.8612), "speed": speed(1403.0, 90.0)})
    write_metrics(metrics, "gold", {"ewt-test": scores(0.7929), "gum-test": scores(0.78)})
    return tmp_path


def card_of(pipeline, inputs, runs):
    return model_card(
        pipeline,
        name="skd_test",
        version="0.2.0",
        metrics_dir=inputs / "metrics",
        runs=runs,
        training_config=inputs / "distill.cfg",
        data_notes=inputs / "data.md",
        command="python -m spacy project run all . --vars.seed 3",
    )


def test_the_card_states_scores_speed_training_and_licences(pipeline, inputs):
    card = card_of(pipeline, inputs, CardRuns("distilled", "teacher", "gold"))
    text = card.text
    assert text.startswith("# en_skd_test 0.2.0\n")
    assert "| `ner` | `ner` | 3 (LOC, ORG, PER) |" in text
    assert "| `senter` | `senter` | — |" in text
    rows = [line for line in text.splitlines() if line.startswith("| this pipeline | UD")]
    assert rows == [
        "| this pipeline | UD English-EWT test | 94.40 | 93.68 | 85.35 | 81.35 | 60.00 | 74.18 |",
        "| this pipeline | UD English-GUM test | 94.40 | 94.07 | 85.30 | 81.30 | — | 74.18 |",
    ]
    assert "| teacher | UD English-EWT test |" in text and "| teacher | UD English-GUM" not in text
    assert "| gold-only twin | UD English-GUM test |" in text
    assert "| this pipeline | 7,512 | 8.2 |" in text and "| teacher | 1,403 | 90.0 |" in text
    assert "| gold-only twin | " not in text.split("## Speed")[1].split("## Training")[0]
    assert "(Some CPU, 2 torch threads; `spacy-skd benchmark`)" in text
    # how it was trained, from the distillation config
    assert "`training/teacher-minilm/model-best`" in text
    assert "`senter`: token KD (kd_weight 0.5, temperature 1.0)" in text
    assert "`ner`: structural KD (kd_weight 0.5, temperature 1.0)" in text
    assert "`assets/unlabelled/transfer-2000000.txt`" in text and "50% of each batch" in text
    assert "At most 4,000 steps, seed 3" in text and "`corpus/ewt-dev.spacy`" in text
    # data and licences: the notes' text in the card, their front matter in meta.json
    assert "Apache 2.0" in text and "Licence: CC BY-SA 4.0." in text
    assert "```\npython -m spacy project run all . --vars.seed 3\n```" in text
    assert card.meta["license"] == "CC BY-SA 4.0"
    assert card.meta["sources"][1] == {"name": "all-MiniLM-L6-v2", "license": "Apache-2.0"}
    assert (card.meta["name"], card.meta["version"]) == ("skd_test", "0.2.0")
    assert card.meta["description"].startswith("English pipeline (senter, ner) distilled")
    assert card.left_out == [
        f"the teacher's gum-test ({inputs / 'metrics' / 'teacher.gum-test.json'} is missing)",
        f"the gold-only twin's speed ({inputs / 'metrics' / 'gold.speed.json'} is missing)",
    ]


def test_a_second_stage_names_the_run_it_started_from(pipeline, inputs):
    first = inputs / "first" / "model-last"
    first.mkdir(parents=True)
    (first / "meta.json").write_text(json.dumps({"skd_progress": {"step": 8000}}))
    second = DISTILL_CFG.replace(
        "eval_frequency = 200\n",
        'eval_frequency = 200\n\n[training.optimizer]\n@optimizers = "Adam.v1"\n\n'
        '[training.optimizer.learn_rate]\n@schedules = "warmup_linear.v1"\n'
        "initial_rate = 0.001\nwarmup_steps = 0\ntotal_steps = 4000\n\n"
        f"[initialize]\n\n[initialize.after_init]\n"
        f'@callbacks = "spacy-skd.initial_weights.v1"\npath = "{first}"\n',
    )
    (inputs / "distill.cfg").write_text(second)
    text = card_of(pipeline, inputs, CardRuns("distilled", "teacher", "gold")).text
    assert f"- Started from the weights of `{first}` after 8,000 steps" in text
    assert "- The learning rate fell linearly from 0.001 to 0" in text
    assert "At most 4,000 more steps, seed 3" in text


def test_missing_metrics_are_left_out_or_named(pipeline, inputs):
    (inputs / "metrics" / "distilled.speed.json").unlink()
    card = card_of(pipeline, inputs, CardRuns("distilled", "no-such-teacher"))
    assert "## Speed\n\nNot measured for this release.\n" in card.text
    assert "| teacher |" not in card.text and "gold-only twin" not in card.text
    assert card.left_out[0].startswith("this pipeline's speed (") and len(card.left_out) == 4
    (inputs / "metrics" / "distilled.gum-test.json").unlink()
    with pytest.raises(ValueError, match="distilled.gum-test.json is missing: run the project"):
        card_of(pipeline, inputs, CardRuns("distilled"))


def test_data_notes_need_a_licence_and_sources(tmp_path):
    notes = tmp_path / "data.md"
    notes.write_text("No front matter.\n")
    with pytest.raises(ValueError, match="no front matter"):
        read_data_notes(notes)
    notes.write_text('---\nlicense: "MIT"\n---\ntext\n')
    with pytest.raises(ValueError, match="'sources' must be a list"):
        read_data_notes(notes)
    notes.write_text(DATA_NOTES)
    assert read_data_notes(notes).text.startswith("- **Gold annotation**")


def test_a_config_without_a_distiller_is_refused(pipeline, inputs):
    (inputs / "distill.cfg").write_text(DISTILL_CFG.replace('"skd_distiller"', '"tagger"'))
    with pytest.raises(ValueError, match="no skd_distiller"):
        card_of(pipeline, inputs, CardRuns("distilled"))


def test_cli_writes_a_copy_that_spacy_package_ships_with_the_card(pipeline, inputs):
    output = inputs / "build" / "pipeline"
    args = ["card", str(pipeline), str(output), "--config", str(inputs / "distill.cfg")]
    args += ["--data", str(inputs / "data.md"), "--name", "skd_test", "--version", "0.2.0"]
    args += ["--run", "distilled", "--teacher-run", "teacher", "--twin-run", "gold"]
    args += ["--metrics-dir", str(inputs / "metrics"), "--command", "make it"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "not in the card: the teacher's gum-test" in result.output
    assert not (pipeline / "README.md").exists()
    assert srsly.read_json(pipeline / "meta.json")["license"] == ""
    card = (output / "README.md").read_text()
    assert "| this pipeline | UD English-EWT test |" in card
    # spacy package keeps the pipeline folder's README.md and meta.json's licence
    package(output, output.parent, create_sdist=False)
    built = output.parent / "en_skd_test-0.2.0"
    assert (built / "README.md").read_text() == card
    assert srsly.read_json(built / "meta.json")["license"] == "CC BY-SA 4.0"
    assert spacy.load(output).meta["sources"][0]["name"] == "UD English-EWT"
    # a second run replaces its copy; a folder holding the pipeline is refused
    assert CliRunner().invoke(app, args).exit_code == 0
    args[2] = str(pipeline.parent)
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 1 and "must lie outside" in refused.output


def test_write_card_does_not_replace_a_folder_that_is_no_pipeline(pipeline, inputs):
    card = card_of(pipeline, inputs, CardRuns("distilled"))
    other = inputs / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a pipeline folder"):
        write_card(pipeline, other, card)
    assert (other / "keep.txt").read_text() == "mine"
