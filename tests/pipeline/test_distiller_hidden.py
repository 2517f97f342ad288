"""Hidden-state distillation: a student's CNN vectors, projected, learn a tiny
transformer teacher's pooled hidden states through the skd_distiller, which
listens to the student's tok2vec; the teacher's states are pooled correctly."""

import numpy
import pytest
import spacy
from spacy.training import Example

from spacy_skd.teacher import pooled_hidden_states
from tests.small_teacher import GOLD

WIDTH = 32
TEXTS = ["They like eggs", "I eat green ham", "the dog ran home"]


def test_pooled_states_average_each_tokens_wordpieces(trf_teacher):
    nlp = spacy.load(trf_teacher)
    doc = nlp("Zebras like green eggs")
    states = doc._.trf_data.model_output["hidden_states"]
    pooled = pooled_hidden_states(doc, [0, -1])
    align = doc._.trf_data.align
    for layer, result in zip([0, -1], pooled):
        rows = numpy.asarray(states[layer]).reshape(-1, WIDTH)
        assert result.shape == (len(doc), WIDTH)
        for token in doc:
            expected = rows[align[token.i].dataXd.ravel()].mean(axis=0)
            numpy.testing.assert_allclose(result[token.i], expected, rtol=1e-5, atol=1e-6)
    assert len(align[0].dataXd.ravel()) == 6  # "zebras": z ##e ##b ##r ##a ##s
    with pytest.raises(ValueError, match="layer 7 does not exist"):
        pooled_hidden_states(doc, [7])


@pytest.mark.parametrize("kind", ["mse", "cosine"])
def test_student_vectors_learn_the_teachers_hidden_states(trf_teacher, kind):
    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("tok2vec")
    listener = {"@architectures": "spacy.Tok2VecListener.v1", "width": 96, "upstream": "tok2vec"}
    projection = {"@architectures": "spacy-skd.HiddenProjection.v1", "tok2vec": listener}
    config = {
        "teacher": str(trf_teacher),
        "students": {"tagger": {"method": "structural"}},
        "model": projection,
        "hidden_layers": [-1, -2],
        "hidden_loss": kind,
    }
    nlp.add_pipe("skd_distiller", name="distiller", config=config)
    tagger_listener = {**listener}
    nlp.add_pipe("skd_tagger", name="tagger", config={"model": {"tok2vec": tagger_listener}})
    gold = [Example.from_dict(nlp.make_doc(t), {"tags": tags}) for t, tags, _, _ in GOLD]
    optimizer = nlp.initialize(lambda: gold)
    assert nlp.get_pipe("distiller").model.get_ref("projection").get_dim("nO") == WIDTH
    raw = [Example(nlp.make_doc(t), nlp.make_doc(t)) for t in TEXTS]
    history = [nlp.update(raw, sgd=optimizer, losses={})["distiller"] for _ in range(30)]
    assert numpy.isfinite(history).all()
    assert history[-1] < 0.5 * history[0]
    assert nlp.get_pipe("tok2vec").listening_components == ["distiller", "tagger"]


def test_hidden_layers_need_a_projection_model(trf_teacher):
    nlp = spacy.blank("en")
    with pytest.raises(ValueError, match="hidden_layers needs a model"):
        nlp.add_pipe("skd_distiller", config={"teacher": str(trf_teacher), "hidden_layers": [-1]})
