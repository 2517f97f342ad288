"""bench/text_read.py: a file whose start is the whole text a run reads gives the
same batches as that text alone; other text gives other batches; words of text and
gold are counted apart."""

import importlib.util
from pathlib import Path

from spacy.tokens import DocBin

from tests.small_teacher import gold_examples

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("text_read", ROOT / "bench" / "text_read.py")
text_read = importlib.util.module_from_spec(spec)
spec.loader.exec_module(text_read)

CONFIG = """
[nlp]
lang = "en"

[corpora]

[corpora.train]
@readers = "spacy-skd.MixedCorpus.v1"
gold_share = 0.5
shuffle_buffer = 2
seed = 0

[corpora.train.gold]
@readers = "spacy.Corpus.v1"
path = "{gold}"
gold_preproc = false

[corpora.train.text]
@readers = "spacy-skd.TextCorpus.v1"
path = "{text}"

[training]
max_steps = 3

[training.batcher]
@batchers = "spacy.batch_by_words.v1"
size = 12
tolerance = 0.2
discard_oversize = false
"""


def test_a_longer_file_with_the_same_start_gives_the_same_batches(tmp_path):
    import spacy

    gold = tmp_path / "train.spacy"
    DocBin(docs=[eg.reference for eg in gold_examples(spacy.blank("en"))]).to_disk(gold)
    lines = [f"line {i} of some text" for i in range(40)]
    short, long, other = tmp_path / "short.txt", tmp_path / "long.txt", tmp_path / "other.txt"
    short.write_text("\n".join(lines[:20]) + "\n")
    long.write_text("\n".join(lines) + "\n")
    other.write_text("\n".join(reversed(lines)) + "\n")
    config = tmp_path / "distill.cfg"
    config.write_text(CONFIG.format(gold=gold, text=short))
    text_words, gold_words, digest = text_read.read_batches(config, short, None)
    assert 0 < text_words < 5 * 20 and gold_words > 0
    assert text_read.read_batches(config, long, None) == (text_words, gold_words, digest)
    assert text_read.read_batches(config, other, None)[2] != digest
    assert text_read.read_batches(config, short, 30)[0] > 5 * 20
    assert (
        text_read.read_batches(config, long, 30)[2] != text_read.read_batches(config, short, 30)[2]
    )
