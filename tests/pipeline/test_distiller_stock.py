"""spaCy's own components as students: the tagger, morphologizer and senter learn
a teacher's per-token distributions through a wrapped get_loss; the stock parser
learns the teacher's trees as silver annotation where gold is missing."""

import numpy
import pytest
import spacy
import torch
from spacy.training import Example

from spacy_skd.pipeline.stock import token_kd
from spacy_skd.structs import LinearChainCRF
from spacy_skd.targets import SequenceTargets
from tests.small_teacher import gold_examples

TEXTS = ["They like eggs", "I eat green ham", "Eat eggs", "they eat blue eggs", "I like ham"]
pytestmark = pytest.mark.filterwarnings("ignore:.*without sentence boundaries")


def stock_student(teacher_path, method="token", kd_weight=1.0):
    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    students = {
        "tagger": {"method": method, "kd_weight": kd_weight},
        "parser": {"method": "hard"},
    }
    config = {"teacher": str(teacher_path), "students": students}
    nlp.add_pipe("skd_distiller", name="distiller", config=config)
    nlp.add_pipe("tagger")
    nlp.add_pipe("parser", config={"min_action_freq": 1})
    return nlp


def unlabelled(nlp):
    return [Example(nlp.make_doc(t), nlp.make_doc(t)) for t in TEXTS]


@pytest.mark.parametrize("method", ["token", "hard"])
def test_stock_tagger_and_parser_learn_the_teacher(teacher_path, method):
    teacher = spacy.load(teacher_path)
    nlp = stock_student(teacher_path, method)
    optimizer = nlp.initialize(lambda: gold_examples(nlp))
    for _ in range(40):
        losses = nlp.update(unlabelled(nlp), sgd=optimizer)
    assert numpy.isfinite(losses["tagger"]) and losses["parser"] > 0
    for text in TEXTS:
        expected, doc = teacher(text), nlp(text)
        assert [t.tag_ for t in doc] == [t.tag_ for t in expected]
        assert [t.head.i for t in doc] == [t.head.i for t in expected]


def test_the_wrapper_mixes_gold_and_kd_by_weight(teacher_path):
    """kd_weight 0: the stock tagger's gradient is spaCy's own, unchanged."""
    nlp = stock_student(teacher_path, kd_weight=0.0)
    exs = gold_examples(nlp)
    nlp.initialize(lambda: exs)
    tagger = nlp.get_pipe("tagger")
    nlp.get_pipe("distiller").update(exs)
    scores = tagger.model.predict([eg.predicted for eg in exs])
    probabilities = [numpy.exp(s) / numpy.exp(s).sum(-1, keepdims=True) for s in scores]
    wrapped = tagger.get_loss(exs, probabilities)
    plain = type(tagger).get_loss(tagger, exs, probabilities)
    assert wrapped[0] == pytest.approx(plain[0])
    for a, b in zip(wrapped[1], plain[1]):
        numpy.testing.assert_allclose(a, b)


def test_stock_students_refuse_structural_methods(teacher_path):
    nlp = stock_student(teacher_path, method="structural")
    with pytest.raises(ValueError, match=r"'structural' cannot distil .* \(stock-softmax\)"):
        nlp.initialize(lambda: gold_examples(nlp))


def test_saved_stock_student_is_plain_spacy(teacher_path, tmp_path):
    nlp = stock_student(teacher_path)
    optimizer = nlp.initialize(lambda: gold_examples(nlp))
    nlp.update(unlabelled(nlp), sgd=optimizer)
    nlp.to_disk(tmp_path / "student")
    loaded = spacy.load(tmp_path / "student")
    assert "get_loss" not in vars(loaded.get_pipe("tagger"))


def softmax(scores, temperature=1.0):
    exp = numpy.exp(scores / temperature - (scores / temperature).max(-1, keepdims=True))
    return exp / exp.sum(-1, keepdims=True)


@pytest.mark.parametrize("crf", [False, True])
@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_token_kd_of_a_stock_student_is_the_closed_form(crf, temperature):
    """Token KD's gradient w.r.t. the stock student's logits is T (q_s - p_t), its
    loss T^2 KL(p_t || q_s), q_s the student's softmax at T and p_t the teacher's
    softmax at T or its CRF's unary marginals."""
    rng = numpy.random.default_rng(0)
    probabilities = softmax(rng.normal(size=(4, 3)))
    scores = rng.normal(size=(4, 3)).astype("float32")
    params = {}
    if crf:
        names = ("transitions", "start", "end")
        shapes = ((3, 3), (3,), (3,))
        params = {n: rng.normal(size=s).astype("float32") for n, s in zip(names, shapes)}
    targets = SequenceTargets(scores, method="token", temperature=temperature, **params)
    if crf:
        crf_params = {n: torch.as_tensor(p, dtype=torch.float64) for n, p in params.items()}
        teacher = LinearChainCRF(
            torch.as_tensor(scores, dtype=torch.float64)[None],
            lengths=torch.tensor([4]),
            **crf_params,
        )
        p_teacher = teacher.tempered(temperature).marginals[0].numpy()
    else:
        p_teacher = softmax(scores.astype("float64"), temperature)
    q_student = softmax(numpy.log(probabilities), temperature)
    gradient, loss = token_kd(probabilities, targets)
    numpy.testing.assert_allclose(gradient, temperature * (q_student - p_teacher), atol=1e-10)
    kl = (p_teacher * (numpy.log(p_teacher) - numpy.log(q_student))).sum()
    assert loss == pytest.approx(temperature**2 * kl, rel=1e-9)


def test_hard_kd_of_a_stock_student_is_the_teachers_best_labels():
    rng = numpy.random.default_rng(1)
    probabilities = softmax(rng.normal(size=(5, 4)))
    scores = rng.normal(size=(5, 4)).astype("float32")
    best = scores.argmax(-1)
    gradient, loss = token_kd(probabilities, SequenceTargets(scores, method="hard"))
    numpy.testing.assert_allclose(gradient, probabilities - numpy.eye(4)[best], atol=1e-12)
    assert loss == pytest.approx(-numpy.log(probabilities[numpy.arange(5), best]).sum())
