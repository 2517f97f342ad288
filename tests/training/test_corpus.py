"""`spacy-skd.MixedCorpus.v1`: every pass holds every gold example once, reshuffled,
with text interleaved so that the gold share of words holds in every stretch; the
text is streamed (never read ahead past the shuffle buffer), continues from pass
to pass and starts over at its end. `spacy-skd.TextCorpus.v1` reads the docs that
`spacy-skd annotate` reads and names the file and line of a bad one."""

import itertools
from collections import Counter

import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example
from spacy.util import registry
from thinc.api import Config

from spacy_skd.training.corpus import create_mixed_corpus

NLP = spacy.blank("en")


def gold_reader(lengths):
    """A reader of gold examples of the given lengths (in words), whose first
    word names them (g0, g1, ...)."""

    def read(nlp):
        for i, n in enumerate(lengths):
            doc = nlp.make_doc(" ".join([f"g{i}"] + ["w"] * (n - 1)))
            yield Example(doc, doc.copy())

    return read


class TextReader:
    """A reader of `n_docs` text examples (t0, t1, ... with lengths cycling
    through `lengths`; endless with n_docs None) that counts what it yields."""

    def __init__(self, lengths, n_docs=None):
        self.lengths = lengths
        self.n_docs = n_docs
        self.read = 0

    def __call__(self, nlp):
        numbers = itertools.count() if self.n_docs is None else range(self.n_docs)
        for i in numbers:
            n = self.lengths[i % len(self.lengths)]
            self.read += 1
            doc = nlp.make_doc(" ".join([f"t{i}"] + ["w"] * (n - 1)))
            yield Example(doc, doc.copy())


def names(examples):
    return [eg.predicted[0].text for eg in examples]


@pytest.mark.parametrize("gold_share", [0.25, 0.5, 0.8])
def test_the_gold_share_of_words_holds_in_every_stretch(gold_share):
    gold_lengths = [3 + (7 * i) % 20 for i in range(200)]
    reader = create_mixed_corpus(
        gold_reader(gold_lengths), TextReader([5, 30, 12, 2, 50]), gold_share, 50, seed=1
    )
    examples = list(reader(NLP))
    is_gold = [name.startswith("g") for name in names(examples)]
    words = [len(eg) for eg in examples]
    gold_words = sum(w for w, g in zip(words, is_gold) if g)
    assert gold_words == sum(gold_lengths)
    assert gold_words / sum(words) == pytest.approx(gold_share, abs=50 / sum(words))
    # every stretch of about 1000 words (a batch) holds the share within a doc or two
    start = 0
    while start < len(examples):
        end, size = start, 0
        while end < len(examples) and size < 1000:
            size += words[end]
            end += 1
        if size >= 1000:
            share = sum(w for w, g in zip(words[start:end], is_gold[start:end]) if g) / size
            assert share == pytest.approx(gold_share, abs=100 / size)
        start = end


def test_each_pass_holds_every_gold_example_once_reshuffled():
    reader = create_mixed_corpus(gold_reader([4] * 30), TextReader([4]), 0.5, 5, seed=0)
    first, second = ([n for n in names(reader(NLP)) if n.startswith("g")] for _ in range(2))
    assert sorted(first) == sorted(second) == sorted(f"g{i}" for i in range(30))
    assert first != second


def test_the_text_is_streamed_continues_and_starts_over():
    text = TextReader([4], n_docs=25)
    reader = create_mixed_corpus(gold_reader([4] * 10), text, 0.5, 5, seed=0)
    seen = []
    for _ in range(4):
        seen += [n for n in names(reader(NLP)) if n.startswith("t")]
        # read ahead: the passes' text and the buffer, never the whole file
        assert text.read == len(seen) + 5
    assert len(seen) == 40
    # the first 20 come from the file's first reading, shuffled (the second
    # reading enters the buffer at the 21st)
    assert len(set(seen[:20])) == 20 and seen[:20] != [f"t{i}" for i in range(20)]
    counts = Counter(seen)
    assert set(counts) <= {f"t{i}" for i in range(25)}
    assert max(counts.values()) == 2 and len(counts) >= 20


def test_an_endless_text_is_read_lazily():
    text = TextReader([10])
    reader = create_mixed_corpus(gold_reader([10] * 20), text, 0.5, 100, seed=0)
    examples = list(reader(NLP))
    assert sum(n.startswith("t") for n in names(examples)) == 20
    assert text.read == 120


def test_all_gold_reads_no_text():
    def no_text(nlp):
        raise AssertionError("the text was read")

    reader = create_mixed_corpus(gold_reader([4] * 10), no_text, 1.0, 5, seed=0)
    assert len(list(reader(NLP))) == 10


@pytest.mark.parametrize("gold_share", [0.0, -0.1, 1.5])
def test_the_share_must_be_a_fraction(gold_share):
    with pytest.raises(ValueError, match="gold_share must be in"):
        create_mixed_corpus(gold_reader([3]), TextReader([3]), gold_share, 5)


def test_empty_readers_are_refused():
    reader = create_mixed_corpus(gold_reader([]), TextReader([3]), 0.5, 5)
    with pytest.raises(ValueError, match="gold reader yields no examples"):
        list(reader(NLP))
    reader = create_mixed_corpus(gold_reader([3, 3]), TextReader([3], n_docs=0), 0.5, 5)
    with pytest.raises(ValueError, match="text reader yields no examples"):
        list(reader(NLP))


def test_spacys_readers_mix_from_a_config(tmp_path):
    docs = [NLP.make_doc(f"gold doc number {i}") for i in range(6)]
    DocBin(docs=docs).to_disk(tmp_path / "gold.spacy")
    (tmp_path / "raw.txt").write_text("".join(f"raw text {i}\n" for i in range(100)))
    config = Config().from_str(f"""
[train]
@readers = "spacy-skd.MixedCorpus.v1"
gold_share = 0.5
shuffle_buffer = 10
seed = 0

[train.gold]
@readers = "spacy.Corpus.v1"
path = "{tmp_path / "gold.spacy"}"
gold_preproc = false

[train.text]
@readers = "spacy.PlainTextCorpus.v1"
path = "{tmp_path / "raw.txt"}"
""")
    reader = registry.resolve(config)["train"]
    examples = list(reader(spacy.blank("en")))
    texts = [eg.text for eg in examples]
    assert sorted(t for t in texts if t.startswith("gold")) == sorted(d.text for d in docs)
    raw = [t for t in texts if t.startswith("raw")]
    assert len(raw) == 8 and all(t.startswith("raw text ") for t in raw)


def text_corpus(path, **settings):
    config = {"text": {"@readers": "spacy-skd.TextCorpus.v1", "path": str(path), **settings}}
    return registry.resolve(config)["text"]


def test_the_text_corpus_reads_the_docs_annotate_reads(tmp_path):
    from spacy_skd.teacher.annotate import read_corpus

    (tmp_path / "raw.txt").write_text("  one two \n\n   \nthree\r\n")
    (tmp_path / "raw.jsonl").write_text('{"text": " four "}\n\n{"text": "five"}')
    for name in ("raw.txt", "raw.jsonl"):
        examples = list(text_corpus(tmp_path / name)(NLP))
        assert [eg.text for eg in examples] == [raw.text for raw in read_corpus(tmp_path / name)]
        assert not any(eg.reference.has_annotation("TAG") for eg in examples)
    assert [eg.text for eg in text_corpus(tmp_path / "raw.txt")(NLP)] == ["one two", "three"]
    with pytest.raises(ValueError, match="raw.spacy is not a .txt or .jsonl file"):
        text_corpus(tmp_path / "raw.spacy")


@pytest.mark.parametrize(
    "content,settings,message",
    [
        (b"one\ntwo \xff\nthree\n", {}, r"bad.txt:2: not UTF-8 \(byte 0xff at column 5\)"),
        (b"one\ntwo three four\n", {"max_line_chars": 5}, "bad.txt:2: longer than 5 characters"),
        (b"\n  \n", {}, "bad.txt holds no text"),
    ],
)
def test_a_mixed_corpus_names_the_bad_line_of_its_text(tmp_path, content, settings, message):
    (tmp_path / "bad.txt").write_bytes(content)
    reader = create_mixed_corpus(
        gold_reader([3] * 4), text_corpus(tmp_path / "bad.txt", **settings), 0.5, 5
    )
    with pytest.raises(ValueError, match=message):
        list(reader(NLP))
