"""skd_distiller: a saved teacher pipeline teaches student components through
the doc; targets are cached per distinct doc; the result loads without the
teacher; bad configs fail at initialize with errors naming the parts."""

import shutil

import numpy
import pytest
import spacy
from spacy.training import Example

from spacy_skd.structs import LinearChainCRF
from spacy_skd.teacher import Teacher
from tests.small_teacher import TOK2VEC, gold_examples

TEXTS = ["They like eggs", "I eat green ham", "Eat eggs", "they eat blue eggs", "I like ham"]
pytestmark = pytest.mark.filterwarnings("ignore:.*without sentence boundaries")


def student(teacher_path, students=None, **distiller):
    spacy.util.fix_random_seed(1)
    nlp = spacy.blank("en")
    if students is None:
        students = {
            "tagger": {"method": "structural", "kd_weight": 1.0},
            "parser": {"method": "structural", "kd_weight": 1.0},
        }
    config = {"teacher": str(teacher_path), "students": students, **distiller}
    nlp.add_pipe("skd_distiller", name="distiller", config=config)
    nlp.add_pipe(
        "skd_tagger",
        name="tagger",
        config={"model": {"output_layer": "softmax", "tok2vec": TOK2VEC}},
    )
    nlp.add_pipe(
        "skd_parser", name="parser", config={"objective": "local", "model": {"tok2vec": TOK2VEC}}
    )
    return nlp


def unlabelled(nlp, texts=TEXTS):
    return [Example(nlp.make_doc(t), nlp.make_doc(t)) for t in texts]


def agreement(teacher, nlp, texts=TEXTS):
    same = total = 0
    for text in texts:
        t, s = teacher(text), nlp(text)
        same += sum(a.tag_ == b.tag_ for a, b in zip(t, s))
        same += sum(a.head.i == b.head.i and a.dep_ == b.dep_ for a, b in zip(t, s))
        total += 2 * len(t)
    return same / total


METHOD_PAIRS = [
    ("structural", "structural"),
    ("token", "token"),
    ("hard", "hard"),
    ("structural", "local"),
    ("token", "local_scores"),
    ("hard", "local_scores_raw"),
    ("structural", "local_scores_spread"),
]


@pytest.mark.parametrize("tagger_method,parser_method", METHOD_PAIRS)
def test_students_learn_the_teacher_from_unlabelled_docs(
    teacher_path, tagger_method, parser_method
):
    """CRF tagger -> softmax tagger, tree CRF -> head selection."""
    teacher = spacy.load(teacher_path)
    students = {
        "tagger": {"method": tagger_method, "kd_weight": 1.0},
        "parser": {"method": parser_method, "kd_weight": 1.0},
    }
    nlp = student(teacher_path, students)
    optimizer = nlp.initialize(lambda: gold_examples(nlp))
    before = agreement(teacher, nlp)
    for _ in range(40):
        losses = nlp.update(unlabelled(nlp), sgd=optimizer)
    assert numpy.isfinite(losses["tagger"]) and numpy.isfinite(losses["parser"])
    assert agreement(teacher, nlp) == 1.0 > before


def test_the_teacher_runs_once_per_distinct_doc(teacher_path, monkeypatch):
    nlp = student(teacher_path)
    optimizer = nlp.initialize(lambda: gold_examples(nlp))
    calls = []
    annotate = Teacher.annotate
    monkeypatch.setattr(
        Teacher, "annotate", lambda self, docs: calls.append(len(docs)) or annotate(self, docs)
    )
    for _ in range(3):
        nlp.update(unlabelled(nlp), sgd=optimizer)
    assert sum(calls) == len(TEXTS)


@pytest.mark.parametrize(
    "starts",
    [None, [True, False, False, False], [False, True, None, True], [None, None, None, None]],
)
@pytest.mark.parametrize("text", ["Eat ham . They", ""])
def test_a_docs_cache_key_is_its_teacher_docs(teacher_path, text, starts):
    """The key the distiller looks a doc up by, made without the teacher doc, is
    the key of that doc (under which `annotate` stores its entry)."""
    teacher = Teacher(spacy.load(teacher_path))
    doc = spacy.blank("en").make_doc(text)
    starts = None if starts is None else starts[: len(doc)]
    assert teacher.key_for(doc, starts) == teacher.key(teacher.doc_for(doc, starts))


def test_the_teachers_marginals_are_computed_in_the_first_epoch_only(teacher_path, monkeypatch):
    """The CRF teacher's forward-backward runs on each doc once: later epochs
    take its marginals from the memo the distiller keeps per doc and student."""
    nlp = student(teacher_path)
    optimizer = nlp.initialize(lambda: gold_examples(nlp))
    calls = []
    betas = LinearChainCRF._betas.func
    monkeypatch.setattr(LinearChainCRF, "_betas", property(lambda d: calls.append(1) or betas(d)))
    per_epoch = []
    for _ in range(3):
        before = len(calls)
        nlp.update(unlabelled(nlp), sgd=optimizer)
        per_epoch.append(len(calls) - before)
    assert per_epoch[0] > 0 and per_epoch[1:] == [0, 0]


def test_the_trained_student_loads_and_packages_without_the_teacher(teacher_path, tmp_path):
    teacher_copy = tmp_path / "teacher"
    shutil.copytree(teacher_path, teacher_copy)
    nlp = student(teacher_copy)
    optimizer = nlp.initialize(lambda: gold_examples(nlp))
    nlp.update(unlabelled(nlp), sgd=optimizer)
    nlp.to_disk(tmp_path / "student")
    shutil.rmtree(teacher_copy)
    loaded = spacy.load(tmp_path / "student")
    doc = loaded("They like eggs")
    assert [t.tag_ for t in doc] == [t.tag_ for t in nlp("They like eggs")]
    assert loaded.get_pipe("distiller").teacher is None


def test_gold_and_kd_mix_and_gold_sentences_reach_the_teacher(teacher_path):
    nlp = student(teacher_path)
    exs = gold_examples(nlp)
    two = Example.from_dict(
        nlp.make_doc("Eat ham . They like eggs"),
        {"heads": [0, 0, 0, 4, 4, 4], "deps": ["ROOT", "dobj", "punct", "nsubj", "ROOT", "dobj"]},
    )
    optimizer = nlp.initialize(lambda: exs)
    nlp.update(exs + [two], sgd=optimizer)
    # Language.update works on copies of the examples: look at the hand-off directly.
    nlp.get_pipe("distiller").update([two])
    targets = two.predicted._.skd_targets
    assert targets["parser"].spans == [(0, 3), (3, 6)]
    assert targets["tagger"].scores.shape == (6, 3)


def test_targets_persist_in_cache_dir_for_this_teacher_only(teacher_path, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    nlp = student(teacher_path, cache_dir=str(cache))
    optimizer = nlp.initialize(lambda: gold_examples(nlp))
    nlp.update(unlabelled(nlp), sgd=optimizer)
    folders = list(cache.iterdir())
    assert len(folders) == 1 and len(list(folders[0].glob("*.npz"))) == len(TEXTS)

    calls = []
    annotate = Teacher.annotate
    monkeypatch.setattr(
        Teacher, "annotate", lambda self, docs: calls.append(len(docs)) or annotate(self, docs)
    )
    again = student(teacher_path, cache_dir=str(cache))
    optimizer = again.initialize(lambda: gold_examples(again))
    again.update(unlabelled(again), sgd=optimizer)
    assert calls == []

    # Another teacher (here: other export settings) gets its own folder.
    other = student(teacher_path, cache_dir=str(cache), top_k=4)
    optimizer = other.initialize(lambda: gold_examples(other))
    other.update(unlabelled(other), sgd=optimizer)
    assert calls == [len(TEXTS)] and len(list(cache.iterdir())) == 2


def test_bad_configs_fail_at_initialize_naming_the_parts(teacher_path, tmp_path):
    with pytest.raises(ValueError, match="unknown method 'magic' for 'tagger'"):
        student(teacher_path, {"tagger": {"method": "magic"}})
    with pytest.raises(ValueError, match="not a spaCy pipeline"):
        nlp = student(tmp_path / "nowhere")
        nlp.initialize(lambda: gold_examples(nlp))
    nlp = student(teacher_path, {"tagger": {"teacher": "upos"}})
    with pytest.raises(ValueError, match=r"has no component 'upos' \(for student 'tagger'\)"):
        nlp.initialize(lambda: gold_examples(nlp))
    nlp = student(teacher_path, {"ner": {"teacher": "tagger"}})
    with pytest.raises(ValueError, match="no student component 'ner'"):
        nlp.initialize(lambda: gold_examples(nlp))
    nlp = student(teacher_path, {"tagger": {"method": "local_scores"}})
    with pytest.raises(
        ValueError, match=r"'local_scores' cannot distil the teacher's 'tagger' \(sequence-crf\)"
    ):
        nlp.initialize(lambda: gold_examples(nlp))
    nlp = student(teacher_path, {"tagger": {"teacher": "parser"}})
    with pytest.raises(ValueError, match="tree-crf"):
        nlp.initialize(lambda: gold_examples(nlp))


def test_a_fallback_method_serves_a_pair_the_chosen_method_cannot(teacher_path):
    spec = {"method": "local_scores", "fallback": ["local", "structural"]}
    nlp = student(teacher_path, {"tagger": spec})
    # CRF teacher -> softmax student: neither local_scores nor local, so structural
    with pytest.warns(UserWarning, match="'local_scores' cannot distil .* using 'structural'"):
        nlp.initialize(lambda: gold_examples(nlp))
    assert nlp.get_pipe("distiller").pairs[0].method == "structural"
    with pytest.raises(ValueError, match="unknown method 'hardest' for 'tagger'"):
        student(teacher_path, {"tagger": {"method": "local_scores", "fallback": ["hardest"]}})


def test_students_get_the_teachers_labels_and_fixed_ones_are_checked(teacher_path):
    data = [("I like eggs", ["N", "V", "X"], [1, 1, 1], ["nsubj", "ROOT", "dobj"])]

    def examples(nlp):
        return [
            Example.from_dict(nlp.make_doc(t), {"tags": tags, "heads": h, "deps": d})
            for t, tags, h, d in data
        ]

    nlp = student(teacher_path)
    optimizer = nlp.initialize(lambda: examples(nlp))
    assert nlp.get_pipe("tagger").labels == ("J", "N", "V", "X")
    assert set(nlp.get_pipe("parser").labels) == {"ROOT", "amod", "dobj", "nsubj"}
    nlp.update(examples(nlp), sgd=optimizer)

    # A student initialized before the distiller keeps its labels: "J" cannot be taught.
    nlp = student(teacher_path)
    nlp.get_pipe("tagger").initialize(lambda: examples(nlp))
    nlp.get_pipe("distiller").initialize(lambda: examples(nlp), nlp=nlp)
    nlp.get_pipe("parser").initialize(lambda: examples(nlp))
    with pytest.raises(ValueError, match=r"only the teacher has \['J'\]"):
        nlp.update(examples(nlp))
