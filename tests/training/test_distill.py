"""`spacy-skd distill`: a student config and a teacher pipeline give a trained
student whose saved pipelines hold no distiller."""

import pytest
import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_skd.cli import app
from spacy_skd.training.distill import distillation_config
from tests.small_teacher import TOK2VEC, gold_examples

pytestmark = pytest.mark.filterwarnings("ignore:.*without sentence boundaries")


def student_config(tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("skd_tagger", name="tagger", config={"model": {"tok2vec": TOK2VEC}})
    nlp.add_pipe("parser", config={"min_action_freq": 1})
    nlp.add_pipe("sentencizer")
    config = nlp.config
    config["training"]["max_steps"] = 6
    config["training"]["eval_frequency"] = 3
    path = tmp_path / "student.cfg"
    config.to_disk(path)
    docs = DocBin(docs=[eg.reference for eg in gold_examples(nlp)])
    docs.to_disk(tmp_path / "train.spacy")
    return path


def test_distill_trains_and_strips_the_distiller(teacher_path, tmp_path):
    config = student_config(tmp_path)
    corpus = str(tmp_path / "train.spacy")
    args = ["distill", str(teacher_path), str(config), str(tmp_path / "out"), "--kd-weight", "0.7"]
    pipeline = '["tagger","parser","sentencizer"]'
    overrides = ["--paths.train", corpus, "--paths.dev", corpus, "--nlp.pipeline", pipeline]
    result = CliRunner().invoke(app, args + overrides)
    assert result.exit_code == 0, result.output
    assert "Pipeline: ['distiller', 'tagger', 'parser', 'sentencizer']" in result.output
    used = spacy.util.load_config(tmp_path / "out" / "distill.cfg")
    students = used["components"]["distiller"]["students"]
    assert students["tagger"]["method"] == "structural" and students["tagger"]["kd_weight"] == 0.7
    assert students["tagger"]["fallback"] == ["token", "hard"]
    assert used["training"]["before_to_disk"] == {"@misc": "spacy-skd.atomic_saves.v1"}
    assert students["parser"]["method"] == "hard" and "sentencizer" not in students
    for name in ("model-best", "model-last"):
        nlp = spacy.load(tmp_path / "out" / name)
        assert nlp.pipe_names == ["tagger", "parser", "sentencizer"]
        assert "distiller" not in nlp.config["components"]


def test_students_must_exist_on_both_sides(teacher_path, tmp_path):
    config = spacy.util.load_config(student_config(tmp_path))
    with pytest.raises(ValueError, match="teacher has no component 'sentencizer'"):
        distillation_config(config, str(teacher_path), students=["sentencizer"])
    with pytest.raises(ValueError, match="student config has no component 'upos'"):
        distillation_config(config, str(teacher_path), students=["upos"])
    config["nlp"]["pipeline"] = ["sentencizer"]
    with pytest.raises(ValueError, match="no component of the student"):
        distillation_config(config, str(teacher_path))


def test_chained_corpus_adds_unlabelled_text_through_spacys_readers(tmp_path):
    from spacy.util import registry
    from thinc.api import Config

    docs = DocBin(docs=[eg.reference for eg in gold_examples(spacy.blank("en"))])
    docs.to_disk(tmp_path / "gold.spacy")
    (tmp_path / "raw.txt").write_text("They like eggs\nI eat ham\n")
    config = Config().from_str(f"""
[train]
@readers = "spacy-skd.ChainedCorpus.v1"

[train.*.gold]
@readers = "spacy.Corpus.v1"
path = "{tmp_path / "gold.spacy"}"
gold_preproc = false

[train.*.raw]
@readers = "spacy.PlainTextCorpus.v1"
path = "{tmp_path / "raw.txt"}"
""")
    reader = registry.resolve(config)["train"]
    examples = list(reader(spacy.blank("en")))
    assert [eg.reference.has_annotation("DEP") for eg in examples] == [True] * 3 + [False] * 2
    assert examples[-1].text == "I eat ham"


def test_an_installed_package_teacher_is_found_in_its_data_folder(tmp_path, monkeypatch):
    """A pipeline package keeps its config in `<lang>_<name>-<version>/`."""
    from spacy_skd.training import distill

    package = tmp_path / "en_teacher_pkg"
    data = package / "en_teacher_pkg-1.0.0"
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    data.mkdir(parents=True)
    nlp.to_disk(data)
    (package / "meta.json").write_text('{"lang": "en", "name": "teacher_pkg", "version": "1.0.0"}')
    monkeypatch.setattr(distill.spacy.util, "is_package", lambda name: name == "en_teacher_pkg")
    monkeypatch.setattr(distill.spacy.util, "get_package_path", lambda name: package)
    assert distill.teacher_factories("en_teacher_pkg") == {"sentencizer": "sentencizer"}
    with pytest.raises(ValueError, match="neither a pipeline directory nor an installed"):
        distill.teacher_factories("en_missing")


def test_bad_corpora_fail_before_training_naming_the_file(teacher_path, tmp_path):
    config = student_config(tmp_path)
    DocBin().to_disk(tmp_path / "empty.spacy")
    (tmp_path / "bad.spacy").write_text("not a DocBin")
    good = str(tmp_path / "train.spacy")
    for corpus, message in [
        (tmp_path / "empty.spacy", "holds no docs"),
        (tmp_path / "bad.spacy", "is not a spaCy DocBin"),
        (tmp_path / "none.spacy", "does not exist"),
    ]:
        args = ["distill", str(teacher_path), str(config), str(tmp_path / "out")]
        args += ["--paths.train", str(corpus), "--paths.dev", good]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1 and f"corpus 'train': {corpus} {message}" in result.output
        assert not (tmp_path / "out" / "model-last").exists()


def distill_args(teacher_path, tmp_path, *extra):
    config = student_config(tmp_path)
    corpus = str(tmp_path / "train.spacy")
    args = ["distill", str(teacher_path), str(config), str(tmp_path / "out"), *extra]
    pipeline = '["tagger","parser","sentencizer"]'
    return args + ["--paths.train", corpus, "--paths.dev", corpus, "--nlp.pipeline", pipeline]


def test_unlabelled_text_is_streamed_mixed_with_gold(teacher_path, tmp_path):
    (tmp_path / "raw.txt").write_text("They like eggs\nI eat ham\nGreen ham is blue\n")
    extra = ["--unlabelled", str(tmp_path / "raw.txt"), "--gold-share", "0.4"]
    result = CliRunner().invoke(app, distill_args(teacher_path, tmp_path, *extra))
    assert result.exit_code == 0, result.output
    used = spacy.util.load_config(tmp_path / "out" / "distill.cfg")
    train = used["corpora"]["train"]
    assert train["@readers"] == "spacy-skd.MixedCorpus.v1" and train["gold_share"] == 0.4
    assert train["gold"]["@readers"] == "spacy.Corpus.v1"
    assert train["text"] == {
        "@readers": "spacy-skd.TextCorpus.v1",
        "path": str(tmp_path / "raw.txt"),
        "max_line_chars": 100_000,
    }
    assert used["training"]["max_epochs"] == -1
    student = spacy.load(tmp_path / "out" / "model-last")
    assert student.pipe_names == ["tagger", "parser", "sentencizer"]


def test_a_bad_line_of_unlabelled_text_fails_before_training(teacher_path, tmp_path):
    (tmp_path / "raw.txt").write_bytes(b"They like eggs\nI eat \xe9ggs\n")
    result = CliRunner().invoke(
        app, distill_args(teacher_path, tmp_path, "--unlabelled", str(tmp_path / "raw.txt"))
    )
    assert result.exit_code == 1
    assert "raw.txt:2: not UTF-8 (byte 0xe9 at column 7)" in result.output
    (tmp_path / "raw.txt").write_text("They like eggs\nI eat green ham\n")
    extra = ["--unlabelled", str(tmp_path / "raw.txt"), "--max-line-chars", "14"]
    result = CliRunner().invoke(app, distill_args(teacher_path, tmp_path, *extra))
    assert result.exit_code == 1 and "raw.txt:2: longer than 14 characters" in result.output
    assert not (tmp_path / "out" / "distill.cfg").exists()


def test_the_gold_share_must_be_a_fraction(teacher_path, tmp_path):
    (tmp_path / "raw.txt").write_text("They like eggs\n")
    extra = ["--unlabelled", str(tmp_path / "raw.txt"), "--gold-share", "0"]
    result = CliRunner().invoke(app, distill_args(teacher_path, tmp_path, *extra))
    assert result.exit_code == 1 and "gold share must be in (0, 1]" in result.output


def test_a_streamed_mixed_corpus_initializes_from_a_whole_pass(tmp_path):
    """spaCy initializes from the first 100 examples of a stream; a mixed corpus
    gives every gold example to initialization, so a tag seen in one gold doc
    of 150 is a label."""
    from spacy_skd.training.distill import with_unlabelled_text
    from spacy_skd.training.resume import train_pipeline

    nlp = spacy.blank("en")
    nlp.add_pipe("skd_tagger", name="tagger", config={"model": {"tok2vec": TOK2VEC}})
    docs = []
    for i in range(150):
        doc = nlp.make_doc("they eat ham")
        for token, tag in zip(doc, ["N", "V", "RARE" if i == 75 else "N"]):
            token.tag_ = tag
        docs.append(doc)
    DocBin(docs=docs).to_disk(tmp_path / "train.spacy")
    (tmp_path / "raw.txt").write_text("green eggs and ham\n" * 50)
    config = nlp.config
    config["paths"]["train"] = config["paths"]["dev"] = str(tmp_path / "train.spacy")
    config["training"]["max_steps"] = 1
    config = with_unlabelled_text(config, str(tmp_path / "raw.txt"), gold_share=0.2)
    train_pipeline(config, tmp_path / "out")
    assert "RARE" in spacy.load(tmp_path / "out" / "model-last").get_pipe("tagger").labels


def test_an_interrupted_distillation_resumes(teacher_path, tmp_path):
    from spacy_skd.training.resume import read_progress
    from tests.training.test_resume import create_interrupt_once

    log = tmp_path / "steps.log"
    callback = {"@callbacks": "test.interrupt_once.v1", "at_step": 2, "log": str(log)}
    assert create_interrupt_once(**{k: v for k, v in callback.items() if k != "@callbacks"})
    (tmp_path / "raw.txt").write_text("They like eggs\nI eat ham\nGreen ham is blue\n")
    extra = ["--cache-dir", str(tmp_path / "cache"), "--unlabelled", str(tmp_path / "raw.txt")]
    args = distill_args(teacher_path, tmp_path, *extra)
    config = spacy.util.load_config(args[2])
    config["training"]["before_update"] = callback
    config.to_disk(args[2])
    first = CliRunner().invoke(app, args)
    assert first.exit_code != 0 and read_progress(tmp_path / "out" / "model-last")["step"] == 2
    second = CliRunner().invoke(app, [*args, "--resume"])
    assert second.exit_code == 0, second.output
    assert "Resuming" in second.output
    assert [int(s) for s in log.read_text().split()] == [0, 1, 2, 2, 3, 4, 5, 6]
    for name in ("model-best", "model-last"):
        nlp = spacy.load(tmp_path / "out" / name)
        assert nlp.pipe_names == ["tagger", "parser", "sentencizer"]
    assert read_progress(tmp_path / "out" / "model-last")["finished"]


def test_an_unlabelled_file_without_text_is_left_out_with_a_warning(teacher_path, tmp_path):
    from spacy_skd.training.distill import distill

    config = student_config(tmp_path)
    corpus = str(tmp_path / "train.spacy")
    pipeline = ["tagger", "parser", "sentencizer"]
    overrides = {"paths.train": corpus, "paths.dev": corpus, "nlp.pipeline": pipeline}
    (tmp_path / "blank.jsonl").write_text('{"text": " "}\n\n', encoding="utf8")
    with pytest.warns(UserWarning, match="blank.jsonl holds no text: training without it"):
        distill(
            str(teacher_path),
            config,
            tmp_path / "out",
            overrides=overrides,
            unlabelled=str(tmp_path / "blank.jsonl"),
        )
    used = spacy.util.load_config(tmp_path / "out" / "distill.cfg")
    assert used["corpora"]["train"]["@readers"] == "spacy.Corpus.v1"
    with pytest.raises(ValueError, match="must be a .txt or .jsonl file, not .*train.spacy"):
        distill(str(teacher_path), config, tmp_path / "out2", unlabelled=corpus)


def test_a_second_stage_starts_from_the_first_and_anneals(teacher_path, tmp_path):
    first = CliRunner().invoke(app, distill_args(teacher_path, tmp_path))
    assert first.exit_code == 0, first.output
    stage_one = tmp_path / "out" / "model-last"
    args = distill_args(teacher_path, tmp_path, "--init-from", str(stage_one), "--anneal")
    args[3] = str(tmp_path / "annealed")
    second = CliRunner().invoke(app, args)
    assert second.exit_code == 0, second.output
    used = spacy.util.load_config(tmp_path / "annealed" / "distill.cfg")
    assert used["initialize"]["after_init"] == {
        "@callbacks": "spacy-skd.initial_weights.v1",
        "path": str(stage_one),
    }
    assert used["training"]["optimizer"]["learn_rate"]["total_steps"] == 6
    student = spacy.load(tmp_path / "annealed" / "model-last")
    assert student.pipe_names == ["tagger", "parser", "sentencizer"]
