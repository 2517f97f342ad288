"""Train corpora that add unlabelled text to a gold corpus, so that unlabelled docs
reach the distiller (they add KD loss and no gold loss).

`spacy-skd.MixedCorpus.v1` streams: it interleaves a gold reader (e.g.
`spacy.Corpus.v1`) with a text reader (`spacy-skd.TextCorpus.v1`, or spaCy's
`spacy.PlainTextCorpus.v1` or `spacy.JsonlCorpus.v1`; all read their file lazily)
so that a set share of the words comes from gold, and holds only one pass of gold
and a shuffle buffer of text in memory; train it with `[training] max_epochs = -1`.
`spacy-skd.TextCorpus.v1` reads `.txt` and `.jsonl` text as `spacy-skd annotate`
does, so the teacher's cache keys agree, and names the file and line of a bad line.
`spacy-skd.ChainedCorpus.v1` reads its readers one after the other, for spaCy's
training loop to hold and shuffle as one epoch (small text only).
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Callable, Dict, Iterator, List

from spacy.language import Language
from spacy.training import Example
from spacy.util import registry

from ..text_files import MAX_LINE_CHARS, TEXT_SUFFIXES, read_texts

Reader = Callable[[Language], Iterator[Example]]
MIXED_CORPUS = "spacy-skd.MixedCorpus.v1"
TEXT_CORPUS = "spacy-skd.TextCorpus.v1"


@registry.readers(TEXT_CORPUS)
def create_text_corpus(path: Path, max_line_chars: int = MAX_LINE_CHARS) -> Reader:
    """path: unlabelled text, `.txt` (a doc a line) or `.jsonl` (`{"text": ...}`
    a line); max_line_chars: the most characters a line may hold.

    Each call reads the file lazily from its start: an example (no annotation)
    of `nlp.make_doc(text)` for each line's text, stripped, blank lines skipped,
    as `spacy-skd annotate` reads it. A line that is not UTF-8, is too long or
    is not JSON with a "text" is an error naming the file and line, and so is a
    file without text (`spacy_skd.text_files`)."""
    path = Path(path)
    if path.suffix.lower() not in TEXT_SUFFIXES:
        raise ValueError(f"{TEXT_CORPUS}: {path} is not a .txt or .jsonl file")

    def read(nlp: Language) -> Iterator[Example]:
        # one pass over the file: a bad line fails when the stream reaches it
        empty = True
        for _, text in read_texts(path, max_line_chars):
            empty = False
            doc = nlp.make_doc(text)
            yield Example(doc, doc.copy())
        if empty:
            raise ValueError(f"{path} holds no text")

    return read


@registry.readers("spacy-skd.ChainedCorpus.v1")
def create_chained_corpus(*readers: Callable) -> Reader:
    """readers: corpus readers (any of spaCy's), read one after the other; in a
    config, as numbered sub-sections `[corpora.train.*.gold]`, `[corpora.train.*.raw]`."""
    if not readers:
        raise ValueError("spacy-skd.ChainedCorpus.v1 needs at least one reader")

    def read(nlp: Language) -> Iterator[Example]:
        for reader in readers:
            yield from reader(nlp)

    return read


@registry.readers(MIXED_CORPUS)
def create_mixed_corpus(
    gold: Reader,
    text: Reader,
    gold_share: float = 0.5,
    shuffle_buffer: int = 1000,
    seed: int = 0,
) -> Reader:
    """gold: a reader of the gold corpus; text: a reader of unlabelled text;
    gold_share: the share of the words (tokens) that comes from gold, 0 <
    gold_share <= 1; shuffle_buffer: text docs held to shuffle the text stream
    in; seed: the seed of both shuffles.

    Each call of the returned reader is one pass: every gold example once, in a
    fresh random order, interleaved with text so that every stretch of the pass
    (so every batch) holds about `gold_share` of its words from gold, and topped
    up with text at the end to hold that share overall. The text is read lazily,
    continues where the previous pass stopped and starts over at the end of its
    file. Under `max_epochs = -1` spaCy's training loop
    asks for pass after pass and shuffles nothing itself.
    """
    if not 0.0 < gold_share <= 1.0:
        raise ValueError(f"{MIXED_CORPUS}: gold_share must be in (0, 1], not {gold_share}")
    if shuffle_buffer < 1:
        raise ValueError(f"{MIXED_CORPUS}: shuffle_buffer must be at least 1")
    rng = random.Random(seed)
    # the text stream, kept from pass to pass for one pipeline
    state: Dict[str, object] = {"nlp": None, "text": None}

    def read(nlp: Language) -> Iterator[Example]:
        if state["nlp"] is not nlp:
            state["nlp"] = nlp
            state["text"] = _shuffled(_cycle(text, nlp), shuffle_buffer, rng)
        examples = list(gold(nlp))
        if not examples:
            raise ValueError(f"{MIXED_CORPUS}: the gold reader yields no examples")
        rng.shuffle(examples)
        # pop: a yielded example (and the targets the distiller hangs on it) is
        # not kept alive by this pass
        return _interleave(examples, state["text"], gold_share)

    return read


def _interleave(
    gold: List[Example], text: Iterator[Example], gold_share: float
) -> Iterator[Example]:
    """Every example of `gold` (popped from its end) with examples of `text`, the
    next one from gold whenever gold's words are at most `gold_share` of those
    yielded, then text until they are."""
    gold_words = text_words = 0
    while gold:
        if gold_words <= gold_share * (gold_words + text_words):
            example = gold.pop()
            gold_words += len(example)
        else:
            example = next(text)
            text_words += len(example)
        yield example
    while gold_words > gold_share * (gold_words + text_words):
        example = next(text)
        text_words += len(example)
        yield example


def _cycle(reader: Reader, nlp: Language) -> Iterator[Example]:
    """The reader's examples, read again from the start whenever they run out."""
    while True:
        found = False
        for example in reader(nlp):
            found = True
            yield example
        if not found:
            raise ValueError(f"{MIXED_CORPUS}: the text reader yields no examples")


def _shuffled(stream: Iterator[Example], size: int, rng: random.Random) -> Iterator[Example]:
    """`stream` (endless) in an order shuffled within a buffer of `size`: each
    example read replaces a random one of the buffer, which is yielded."""
    buffer: List[Example] = []
    for example in stream:
        if len(buffer) < size:
            buffer.append(example)
            continue
        position = rng.randrange(size)
        yield buffer[position]
        buffer[position] = example
