"""A transformer teacher without downloads: spacy_skd.teacher.tiny_bert.make_tiny_bert builds
a tiny random BERT that spacy-transformers loads by path, and skd_tagger trains on
it through a TransformerListener. Everything here runs offline: the hub is forced
offline so that an accidental download fails at once instead of hanging."""

import os
import shutil
import subprocess
import sys

import numpy
import pytest
import spacy
import torch
from spacy.training import Example
from spacy.util import fix_random_seed
from thinc.api import Adam

from spacy_skd.teacher.teacher import Teacher, load_teacher
from spacy_skd.teacher.tiny_bert import make_tiny_bert, tiny_bert_vocab
from spacy_skd.testing import force_hf_offline

WIDTH = 32
N_LAYERS = 2
TRAIN = [
    ("I like green eggs", ["N", "V", "J", "N"]),
    ("Eat blue ham", ["V", "J", "N"]),
    ("They eat ham", ["N", "V", "N"]),
    ("The dog ran home", ["D", "N", "V", "N"]),
]
LISTENER = {
    "@architectures": "spacy-transformers.TransformerListener.v1",
    "grad_factor": 1.0,
    "pooling": {"@layers": "reduce_mean.v1"},
}


@pytest.fixture(scope="module", autouse=True)
def offline():
    with pytest.MonkeyPatch.context() as monkeypatch:
        force_hf_offline(monkeypatch)
        yield


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), seed=0)


def transformer_config(path, window=128, stride=96):
    return {
        "model": {
            "@architectures": "spacy-transformers.TransformerModel.v3",
            "name": str(path),
            "tokenizer_config": {"use_fast": True},
            "transformer_config": {"output_hidden_states": True},
            "get_spans": {
                "@span_getters": "spacy-transformers.strided_spans.v1",
                "window": window,
                "stride": stride,
            },
        }
    }


def test_tiny_bert_loads_offline_and_is_deterministic(tiny_bert, tmp_path):
    from transformers import AutoModel, AutoTokenizer, BertModel, BertTokenizerFast

    files = {p.name for p in tiny_bert.iterdir()}
    assert {"config.json", "model.safetensors", "vocab.txt", "tokenizer.json"} <= files
    assert sum(p.stat().st_size for p in tiny_bert.iterdir()) < 500_000

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_bert))
    assert isinstance(tokenizer, BertTokenizerFast)
    pieces = tokenizer.tokenize("Hello world, this is a test.")
    assert pieces == ["hello", "world", ",", "this", "is", "a", "test", "."]
    assert tokenizer.tokenize("Zebras") == ["z", "##e", "##b", "##r", "##a", "##s"]
    ids = tokenizer("Hello world, this is a test.")["input_ids"]
    assert tokenizer.unk_token_id not in ids
    assert tokenizer.convert_ids_to_tokens([ids[0], ids[-1]]) == ["[CLS]", "[SEP]"]

    model = AutoModel.from_pretrained(str(tiny_bert))
    assert isinstance(model, BertModel)
    assert (model.config.hidden_size, model.config.num_hidden_layers) == (WIDTH, N_LAYERS)
    output = model(**tokenizer("Hello world", return_tensors="pt"), output_hidden_states=True)
    assert output.last_hidden_state.shape == (1, 4, WIDTH)
    assert len(output.hidden_states) == N_LAYERS + 1

    same = make_tiny_bert(tmp_path / "same", seed=0)
    other = make_tiny_bert(tmp_path / "other", seed=1)
    for name in ("model.safetensors", "vocab.txt", "tokenizer.json", "config.json"):
        assert (same / name).read_bytes() == (tiny_bert / name).read_bytes(), name
    assert (other / "model.safetensors").read_bytes() != (same / "model.safetensors").read_bytes()


def test_tiny_bert_vocab():
    vocab = tiny_bert_vocab()
    assert vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert len(vocab) == len(set(vocab)) > 500
    assert {"a", "##a", "9", "##9", ",", ".", "hello", "world", "test"} <= set(vocab)
    custom = tiny_bert_vocab(["Zebra", "##ish", "zebra"])
    assert custom[-2:] == ["zebra", "##ish"] and "hello" not in custom
    with pytest.raises(ValueError, match="without spaces"):
        tiny_bert_vocab(["two words"])


def test_hub_access_fails_instead_of_downloading():
    import huggingface_hub.constants
    from transformers import AutoTokenizer
    from transformers.utils.hub import is_offline_mode

    assert is_offline_mode() and huggingface_hub.constants.HF_HUB_OFFLINE
    with pytest.raises(OSError):
        AutoTokenizer.from_pretrained("google-bert/bert-base-uncased")


def test_skd_tagger_trains_on_tiny_bert_through_a_listener(tiny_bert, tmp_path):
    fix_random_seed(0)
    teacher = shutil.copytree(tiny_bert, tmp_path / "tiny-bert")
    nlp = spacy.blank("en")
    nlp.add_pipe("transformer", config=transformer_config(teacher))
    nlp.add_pipe("skd_tagger", config={"model": {"output_layer": "crf", "tok2vec": LISTENER}})
    exs = [Example.from_dict(nlp.make_doc(text), {"tags": tags}) for text, tags in TRAIN]
    optimizer = nlp.initialize(lambda: exs, sgd=Adam(0.003))
    losses = [nlp.update(exs, sgd=optimizer, losses={})["skd_tagger"] for _ in range(60)]
    assert losses[-1] < 0.05 * losses[0]
    for text, tags in TRAIN:
        assert [t.tag_ for t in nlp(text)] == tags
    assert nlp.evaluate(exs)["tag_acc"] == 1.0

    # The listener's token vectors are the mean of each token's wordpiece rows
    # of the last layer, found through doc._.trf_data.align.
    doc = nlp("They like blue eggs")
    trf_data = doc._.trf_data
    rows = trf_data.model_output["last_hidden_state"].reshape(-1, WIDTH)
    tok2vec = nlp.get_pipe("skd_tagger").model.get_ref("tok2vec")
    pooled = numpy.asarray(tok2vec.predict([doc])[0])
    for i in range(len(doc)):
        expected = rows[trf_data.align[i].dataXd.ravel()].mean(axis=0)
        numpy.testing.assert_allclose(pooled[i], expected, rtol=1e-5, atol=1e-6)

    # The saved pipeline holds the transformer's weights and tokenizer: it loads
    # without the directory it was built from, and predicts the same.
    texts = [text for text, _ in TRAIN] + ["They like green ham", "Hello world, this is a test."]
    expected_tags = [[t.tag_ for t in doc] for doc in nlp.pipe(texts)]
    expected_state = nlp(texts[-1])._.trf_data.model_output["last_hidden_state"]
    nlp.to_disk(tmp_path / "pipeline")
    shutil.rmtree(teacher)
    loaded = spacy.load(tmp_path / "pipeline")
    assert [[t.tag_ for t in doc] for doc in loaded.pipe(texts)] == expected_tags
    loaded_output = loaded(texts[-1])._.trf_data.model_output
    numpy.testing.assert_allclose(
        loaded_output["last_hidden_state"], expected_state, rtol=1e-5, atol=1e-6
    )
    assert len(loaded_output["hidden_states"]) == N_LAYERS + 1


def test_hidden_states_of_every_layer_reach_the_doc(tiny_bert):
    """With transformer_config {"output_hidden_states": true}, doc._.trf_data (a
    spacy_transformers TransformerData) holds model_output["hidden_states"]: a list
    of N_LAYERS + 1 arrays (embeddings first, last layer last), each
    [n_spans, n_wordpieces, WIDTH] over the doc's spans, padded to the longest.
    align (a Ragged, one row per spaCy token) lists each token's rows in that
    array flattened to [n_spans * n_wordpieces, WIDTH]; a token in two
    overlapping spans has rows in both, a whitespace token none."""
    nlp = spacy.blank("en")
    nlp.add_pipe("transformer", config=transformer_config(tiny_bert, window=8, stride=6))
    nlp.initialize()

    doc = nlp("Hello world, this is a test.")
    trf_data = doc._.trf_data
    hidden = trf_data.model_output["hidden_states"]
    assert len(hidden) == N_LAYERS + 1
    assert all(layer.shape == (1, 10, WIDTH) for layer in hidden)
    assert trf_data.wordpieces.strings[0][0] == "[CLS]"
    numpy.testing.assert_array_equal(hidden[-1], trf_data.model_output["last_hidden_state"])
    assert trf_data.align.lengths.tolist() == [1] * len(doc)
    assert trf_data.align.dataXd.tolist() == list(range(1, 9))

    # 20 tokens, spans of 8 every 6 tokens: three spans, tokens 6-7 and 12-13
    # in two of them; "Zebras" is six wordpieces, "  " none.
    doc = nlp(
        "Zebras quickly jumped over the lazy dog, and then  they ran home to eat some green eggs."
    )
    trf_data = doc._.trf_data
    hidden = trf_data.model_output["hidden_states"]
    n_spans, n_pieces = trf_data.wordpieces.input_ids.shape
    assert n_spans == 3
    assert len(hidden) == N_LAYERS + 1
    assert all(layer.shape == (n_spans, n_pieces, WIDTH) for layer in hidden)
    assert len(trf_data.align.lengths) == len(doc)
    pieces = [piece for span in trf_data.wordpieces.strings for piece in span]
    for token in doc:
        rows = trf_data.align[token.i].dataXd.ravel().tolist()
        assert all(0 <= row < n_spans * n_pieces for row in rows)
        seen = {row // n_pieces for row in rows}
        assert len(seen) == (2 if token.i in (6, 7, 12, 13) else 0 if token.is_space else 1)
        text = "".join(pieces[row].removeprefix("##") for row in rows)
        assert text == token.lower_ * len(seen)
        first_layer = hidden[1].reshape(-1, WIDTH)[rows]
        assert first_layer.shape == (len(rows), WIDTH)


def _fingerprint_in_a_new_process(path) -> str:
    code = (
        "import sys; from spacy_skd.teacher.teacher import Teacher, load_teacher; "
        "print(Teacher(load_teacher(sys.argv[1])).fingerprint)"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, "-c", code, str(path)], env=env, capture_output=True, text=True, check=True
    )
    return result.stdout.strip().splitlines()[-1]


def test_a_transformer_teachers_fingerprint_is_the_same_in_every_process(tiny_bert, tmp_path):
    # spacy-transformers' to_bytes differs between loads; the cache key must not,
    # or a cache filled by `annotate` is never hit by `distill`.
    fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe("transformer", config=transformer_config(tiny_bert))
    nlp.add_pipe("skd_tagger", config={"model": {"output_layer": "crf", "tok2vec": LISTENER}})
    exs = [Example.from_dict(nlp.make_doc(text), {"tags": tags}) for text, tags in TRAIN]
    nlp.initialize(lambda: exs)
    nlp.to_disk(tmp_path / "teacher")
    first = _fingerprint_in_a_new_process(tmp_path / "teacher")
    assert _fingerprint_in_a_new_process(tmp_path / "teacher") == first

    loaded = load_teacher(tmp_path / "teacher")
    assert Teacher(loaded).fingerprint == first
    model = loaded.get_pipe("transformer").model
    shim = next(node.shims[0] for node in model.walk() if node.shims)
    with torch.no_grad():
        next(shim._model.parameters()).add_(0.01)
    assert Teacher(loaded).fingerprint != first
