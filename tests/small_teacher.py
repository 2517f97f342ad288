"""A small trained teacher pipeline (skd_tagger with a CRF, skd_parser with a
tree CRF) for the distiller and annotate tests; see the `teacher_path` fixture.
Also an untrained transformer teacher on a tiny random BERT, for hidden-state KD."""

from pathlib import Path

import spacy
from spacy.training import Example

from spacy_skd.teacher.tiny_bert import make_tiny_bert

TOK2VEC = {
    "@architectures": "spacy.HashEmbedCNN.v2",
    "pretrained_vectors": None,
    "width": 32,
    "depth": 2,
    "embed_size": 500,
    "window_size": 1,
    "maxout_pieces": 3,
    "subword_features": True,
}
GOLD = [
    ("I like green eggs", ["N", "V", "J", "N"], [1, 1, 3, 1], ["nsubj", "ROOT", "amod", "dobj"]),
    ("Eat blue ham", ["V", "J", "N"], [0, 2, 0], ["ROOT", "amod", "dobj"]),
    ("They eat ham", ["N", "V", "N"], [1, 1, 1], ["nsubj", "ROOT", "dobj"]),
]


TRF_LISTENER = {
    "@architectures": "spacy-transformers.TransformerListener.v1",
    "grad_factor": 1.0,
    "pooling": {"@layers": "reduce_mean.v1"},
}


def gold_examples(nlp):
    return [
        Example.from_dict(nlp.make_doc(t), {"tags": tags, "heads": heads, "deps": deps})
        for t, tags, heads, deps in GOLD
    ]


def train_small_teacher(path):
    """A small trained teacher: skd_tagger (CRF) and skd_parser (tree CRF)."""
    spacy.util.fix_random_seed(0)
    nlp = spacy.blank("en")
    nlp.add_pipe(
        "skd_tagger", name="tagger", config={"model": {"output_layer": "crf", "tok2vec": TOK2VEC}}
    )
    nlp.add_pipe("skd_parser", name="parser", config={"model": {"tok2vec": TOK2VEC}})
    exs = gold_examples(nlp)
    optimizer = nlp.initialize(lambda: exs)
    for _ in range(60):
        nlp.update(exs, sgd=optimizer)
    nlp.to_disk(path)
    return path


def save_transformer_teacher(folder: Path) -> Path:
    """Save an untrained transformer tagger on a tiny random BERT (2 layers,
    width 32) that outputs its hidden states to `folder / "teacher"` and return
    that path. Call it with the hub forced offline (`force_hf_offline`)."""
    bert = make_tiny_bert(folder / "bert", seed=0)
    nlp = spacy.blank("en")
    model = {
        "@architectures": "spacy-transformers.TransformerModel.v3",
        "name": str(bert),
        "tokenizer_config": {"use_fast": True},
        "transformer_config": {"output_hidden_states": True},
    }
    nlp.add_pipe("transformer", config={"model": model})
    nlp.add_pipe("skd_tagger", name="tagger", config={"model": {"tok2vec": TRF_LISTENER}})
    nlp.initialize(lambda: gold_examples(nlp))
    path = folder / "teacher"
    nlp.to_disk(path)
    return path
