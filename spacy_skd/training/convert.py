"""Convert CoNLL-U treebanks (optionally joined with IOB2 NER) to spaCy `DocBin` files.

Made for UD English-EWT joined with Universal NER English-EWT, and for UD English-GUM
without NER, but any UD CoNLL-U file and any IOB2 file keyed by `# sent_id` will do.

What a converted `Doc` holds (one per group of at most `n_sents` sentences, never
across a `# newdoc` boundary):

- words: the syntactic words (multiword-token lines such as `1-2` and empty nodes such
  as `8.1` are skipped); `spaces` from `SpaceAfter=No` in MISC (a multiword token's
  MISC applies to its last word; its inner words never take a space);
- `tag_` = XPOS, `pos_` = UPOS, `morph` = FEATS, `lemma_` = LEMMA (`_` is missing,
  except as the lemma of the word `_`);
- `head`, `dep_` = the basic tree (HEAD and DEPREL; subtypes such as `nmod:poss` are
  kept as they are, and `root` is written `ROOT`, spaCy's own root label, as
  `spacy convert` does, so that the parser's predictions score against it);
- sentence boundaries (each sentence is one tree);
- entities (IOB): PER, LOC and ORG from the IOB2 file; every other label (`OTH`,
  the stray `B-O` of UNER's first train release) becomes `O`. A sentence whose NER
  tokens differ from its words, or which has no entry in the NER file, has *missing*
  entity annotation (`token.ent_iob_ == ""`), never `O`.
- `doc.user_data`: `SENT_IDS_KEY` (each sentence's `# sent_id`, in order),
  `NER_STATUS_KEY` (each sentence's NER status: `joined`, `mismatched` or `absent`)
  and `DOC_ID_KEY` (the `# newdoc id` in force, or None). The DocBin is written with
  `store_user_data=True`, so these survive `DocBin.get_docs` (the lists come back as
  tuples); see `sentence_ids`.

Plain text (one sentence or paragraph a line) is not handled here: spaCy's
`spacy.PlainTextCorpus.v1` reads it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from spacy.tokens import Doc, DocBin
from spacy.vocab import Vocab

from ..text_files import MAX_LINE_CHARS, read_lines

logger = logging.getLogger(__name__)

PathLike = Union[str, Path]

SENT_IDS_KEY = "skd_sent_ids"
NER_STATUS_KEY = "skd_ner_status"
DOC_ID_KEY = "skd_doc_id"

NER_LABELS = ("PER", "LOC", "ORG")
JOINED, MISMATCHED, ABSENT = "joined", "mismatched", "absent"

_SENT_ID = re.compile(r"^#\s*sent_id\s*=\s*(.*?)\s*$")
_NEWDOC = re.compile(r"^#\s*newdoc(?:\s+id\s*=\s*(.*?))?\s*$")
_WORD_ID = re.compile(r"^[1-9][0-9]*$")
_RANGE_ID = re.compile(r"^([1-9][0-9]*)-([1-9][0-9]*)$")
_EMPTY_ID = re.compile(r"^[0-9]+\.[1-9][0-9]*$")
_HEAD = re.compile(r"^(0|[1-9][0-9]*)$")
_IOB_TAG = re.compile(r"^([BI])-(.+)$")


@dataclass
class ConlluSentence:
    """One CoNLL-U sentence: its syntactic words and their basic-tree annotation.

    `heads` are 1-based within the sentence, 0 for the root, as in the file.
    `line` is the file line of the sentence's first token line.
    """

    sent_id: Optional[str]
    doc_id: Optional[str]
    newdoc: bool
    words: list[str] = field(default_factory=list)
    lemmas: list[str] = field(default_factory=list)
    upos: list[str] = field(default_factory=list)
    xpos: list[str] = field(default_factory=list)
    feats: list[str] = field(default_factory=list)
    heads: list[int] = field(default_factory=list)
    deps: list[str] = field(default_factory=list)
    spaces: list[bool] = field(default_factory=list)
    line: int = 0

    def __len__(self) -> int:
        return len(self.words)


@dataclass
class NerSentence:
    """One IOB2 sentence: its tokens and their (normalised, valid IOB2) tags."""

    sent_id: str
    tokens: list[str]
    tags: list[str]
    line: int = 0


def _error(path: PathLike, line: int, message: str) -> ValueError:
    return ValueError(f"{path}:{line}: {message}")


def _missing(value: str) -> str:
    """CoNLL-U's `_` (no value) as spaCy's missing value, the empty string."""
    return "" if value == "_" else value


def _space_after(misc: str) -> bool:
    return "SpaceAfter=No" not in misc.split("|")


def _check_tree(path: PathLike, sentence: ConlluSentence, lines: list[int]) -> None:
    """Raise ValueError unless the sentence's heads form one tree with a single root."""
    n = len(sentence)
    for i, head in enumerate(sentence.heads):
        if head > n:
            raise _error(path, lines[i], f"HEAD {head} is past the sentence's {n} words")
        if head == i + 1:
            raise _error(path, lines[i], f"word {i + 1} is its own head")
    roots = [i for i, head in enumerate(sentence.heads) if head == 0]
    if len(roots) != 1:
        where = lines[roots[1]] if len(roots) > 1 else sentence.line
        raise _error(path, where, f"sentence has {len(roots)} roots (HEAD 0), expected 1")
    # every word must reach the root: 0 = unvisited, 1 = on the current path, 2 = done
    state = [0] * (n + 1)
    state[0] = 2
    for start in range(1, n + 1):
        path_nodes = []
        node = start
        while state[node] == 0:
            state[node] = 1
            path_nodes.append(node)
            node = sentence.heads[node - 1]
        if state[node] == 1:
            raise _error(path, lines[node - 1], f"the heads form a cycle through word {node}")
        for visited in path_nodes:
            state[visited] = 2


def read_conllu(path: PathLike) -> list[ConlluSentence]:
    """Read a CoNLL-U file's sentences (basic trees; MWT lines and empty nodes skipped).

    Raises ValueError naming the file and line for a malformed line: a column count
    other than 10, a bad ID, words out of order, a non-integer or out-of-range HEAD,
    or a sentence that is not a single-rooted tree.
    """
    sentences: list[ConlluSentence] = []
    sent_id: Optional[str] = None
    doc_id: Optional[str] = None
    newdoc = False
    current: Optional[ConlluSentence] = None
    word_lines: list[int] = []
    mwt: Optional[tuple[int, int, bool]] = None  # (first, last, space after last)

    def finish() -> None:
        nonlocal current, sent_id, newdoc, mwt
        if current is not None:
            if mwt is not None:
                raise _error(path, current.line, f"multiword token {mwt[0]}-{mwt[1]} is cut off")
            _check_tree(path, current, word_lines)
            sentences.append(current)
            sent_id, newdoc, current = None, False, None
        word_lines.clear()
        mwt = None

    with open(path, encoding="utf8") as file:
        for number, raw in enumerate(file, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                finish()
                continue
            if line.startswith("#"):
                if current is not None:
                    continue  # a comment among token lines: not UD, but harmless
                match = _SENT_ID.match(line)
                if match:
                    sent_id = match.group(1)
                    continue
                match = _NEWDOC.match(line)
                if match:
                    newdoc, doc_id = True, match.group(1) or None
                continue
            columns = line.split("\t")
            if len(columns) != 10:
                raise _error(path, number, f"expected 10 tab-separated columns, got {len(columns)}")
            id_, form, lemma, upos, xpos, feats, head, deprel, _deps, misc = columns
            if current is None:
                current = ConlluSentence(sent_id=sent_id, doc_id=doc_id, newdoc=newdoc)
                current.line = number
            expected = len(current) + 1
            if _EMPTY_ID.match(id_):
                continue
            match = _RANGE_ID.match(id_)
            if match:
                first, last = int(match.group(1)), int(match.group(2))
                if first != expected or last <= first:
                    raise _error(path, number, f"bad multiword token range {id_!r}")
                mwt = (first, last, _space_after(misc))
                continue
            if not _WORD_ID.match(id_):
                raise _error(path, number, f"bad word ID {id_!r}")
            if int(id_) != expected:
                raise _error(path, number, f"word ID {id_} out of order (expected {expected})")
            if not _HEAD.match(head):
                raise _error(path, number, f"HEAD must be a non-negative integer, got {head!r}")
            space = _space_after(misc)
            if mwt is not None and mwt[0] <= expected <= mwt[1]:
                space = space and expected == mwt[1] and mwt[2]
                if expected == mwt[1]:
                    mwt = None
            current.words.append(form)
            current.lemmas.append(lemma if lemma != "_" or form == "_" else "")
            current.upos.append(_missing(upos))
            current.xpos.append(_missing(xpos))
            current.feats.append(_missing(feats))
            current.heads.append(int(head))
            deprel = _missing(deprel)
            current.deps.append("ROOT" if deprel == "root" else deprel)
            current.spaces.append(space)
            word_lines.append(number)
    finish()
    return sentences


def normalise_ner_tag(tag: str, labels: Sequence[str] = NER_LABELS) -> Optional[str]:
    """An IOB2 tag with its label kept if in `labels`, else `O`; None if malformed."""
    if tag == "O":
        return tag
    match = _IOB_TAG.match(tag)
    if match is None:
        return None
    return tag if match.group(2) in labels else "O"


def fix_iob(tags: Sequence[str]) -> list[str]:
    """Make IOB2 valid: an `I-X` not after `B-X` or `I-X` becomes `B-X`."""
    fixed: list[str] = []
    previous = "O"
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        fixed.append(tag)
        previous = tag
    return fixed


def read_iob2(path: PathLike, labels: Sequence[str] = NER_LABELS) -> dict[str, NerSentence]:
    """Read an IOB2 file (`# sent_id` comments, then `index<TAB>token<TAB>tag[<TAB>...]`).

    Tags whose label is not in `labels` become `O`, then invalid IOB is fixed
    (`fix_iob`). Returns the sentences by sent_id. Raises ValueError naming the file
    and line for a malformed line, a sentence without `# sent_id`, or a repeated one.
    """
    sentences: dict[str, NerSentence] = {}
    sent_id: Optional[str] = None
    tokens: list[str] = []
    tags: list[str] = []
    start = 0

    def finish() -> None:
        nonlocal sent_id, tokens, tags
        if tokens:
            if sent_id is None:
                raise _error(path, start, "sentence has no '# sent_id = ...' comment")
            if sent_id in sentences:
                raise _error(path, start, f"sent_id {sent_id!r} repeated")
            sentences[sent_id] = NerSentence(sent_id, tokens, fix_iob(tags), start)
            sent_id = None
        tokens, tags = [], []

    with open(path, encoding="utf8") as file:
        for number, raw in enumerate(file, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                finish()
                continue
            if line.startswith("#") and not tokens:
                match = _SENT_ID.match(line)
                if match:
                    sent_id = match.group(1)
                continue
            columns = line.split("\t")
            if len(columns) < 3:
                raise _error(path, number, f"expected at least 3 tab-separated columns: {line!r}")
            if not _WORD_ID.match(columns[0]) or int(columns[0]) != len(tokens) + 1:
                raise _error(path, number, f"bad token index {columns[0]!r}")
            tag = normalise_ner_tag(columns[2], labels)
            if tag is None:
                raise _error(path, number, f"not an IOB2 tag: {columns[2]!r}")
            if not tokens:
                start = number
            tokens.append(columns[1])
            tags.append(tag)
    finish()
    return sentences


def join_ner(
    sentences: Sequence[ConlluSentence], ner: Optional[dict[str, NerSentence]]
) -> tuple[list[Optional[list[str]]], list[str], dict[str, int]]:
    """Match NER sentences to CoNLL-U sentences by sent_id.

    Returns per sentence its IOB tags (None where missing), its status (`joined`,
    `mismatched`: the NER tokens differ from the words, `absent`: no NER entry), and
    the counts `ner_joined`, `ner_mismatched`, `ner_absent` and `ner_unused` (NER
    sentences whose sent_id is not in the CoNLL-U file).
    """
    ner = ner or {}
    tags: list[Optional[list[str]]] = []
    status: list[str] = []
    used = set()
    for sentence in sentences:
        entry = ner.get(sentence.sent_id) if sentence.sent_id is not None else None
        if entry is None:
            tags.append(None)
            status.append(ABSENT)
            continue
        used.add(entry.sent_id)
        if entry.tokens == sentence.words:
            tags.append(entry.tags)
            status.append(JOINED)
        else:
            tags.append(None)
            status.append(MISMATCHED)
    counts = {
        "ner_joined": status.count(JOINED),
        "ner_mismatched": status.count(MISMATCHED),
        "ner_absent": status.count(ABSENT),
        "ner_unused": len(ner) - len(used),
    }
    return tags, status, counts


def _group(sentences: Sequence[ConlluSentence], n_sents: int) -> Iterable[range]:
    """Index ranges of at most `n_sents` sentences, never across a `# newdoc`."""
    start = 0
    for i, sentence in enumerate(sentences):
        if i > start and (sentence.newdoc or i - start == n_sents):
            yield range(start, i)
            start = i
    if start < len(sentences):
        yield range(start, len(sentences))


def sentences_to_docs(
    vocab: Vocab,
    sentences: Sequence[ConlluSentence],
    ner_tags: Optional[Sequence[Optional[Sequence[str]]]] = None,
    ner_status: Optional[Sequence[str]] = None,
    n_sents: int = 10,
) -> list[Doc]:
    """Group sentences into Docs of at most `n_sents` sentences (never across a
    `# newdoc`), with heads made absolute within each Doc. `ner_tags[i]` is sentence
    i's IOB tags, or None for missing entity annotation."""
    if n_sents < 1:
        raise ValueError(f"n_sents must be at least 1, got {n_sents}")
    if ner_tags is None:
        ner_tags = [None] * len(sentences)
    if ner_status is None:
        ner_status = [ABSENT] * len(sentences)
    docs = []
    for group in _group(sentences, n_sents):
        words, spaces, tags, pos, morphs, lemmas, heads, deps, ents = ([] for _ in range(9))
        sent_starts: list[bool] = []
        for i in group:
            sentence = sentences[i]
            offset = len(words)
            words += sentence.words
            spaces += sentence.spaces
            tags += sentence.xpos
            pos += sentence.upos
            morphs += sentence.feats
            lemmas += sentence.lemmas
            heads += [offset + (head - 1 if head else j) for j, head in enumerate(sentence.heads)]
            deps += sentence.deps
            sent_starts += [True] + [False] * (len(sentence) - 1)
            ents += ner_tags[i] if ner_tags[i] is not None else [None] * len(sentence)
        doc = Doc(
            vocab,
            words=words,
            spaces=spaces,
            tags=tags,
            pos=pos,
            morphs=morphs,
            lemmas=lemmas,
            heads=heads,
            deps=deps,
            sent_starts=sent_starts,
            ents=ents,
        )
        doc.user_data[SENT_IDS_KEY] = [sentences[i].sent_id for i in group]
        doc.user_data[NER_STATUS_KEY] = [ner_status[i] for i in group]
        doc.user_data[DOC_ID_KEY] = sentences[group[0]].doc_id
        docs.append(doc)
    return docs


def sentence_ids(doc: Doc) -> list[Optional[str]]:
    """The `# sent_id` of each of a converted doc's sentences, in order."""
    return list(doc.user_data.get(SENT_IDS_KEY, []))


def convert_corpus(
    conllu_path: PathLike,
    output_path: PathLike,
    iob2_path: Optional[PathLike] = None,
    n_sents: int = 10,
) -> dict[str, int]:
    """Convert a CoNLL-U file (joined with an IOB2 file, if given) to a `.spacy` DocBin.

    Returns the counts `docs`, `sentences`, `tokens`, `ner_joined`, `ner_mismatched`,
    `ner_absent` (all sentences when no IOB2 file is given) and `ner_unused`.
    """
    sentences = read_conllu(conllu_path)
    ner = read_iob2(iob2_path) if iob2_path is not None else None
    tags, status, counts = join_ner(sentences, ner)
    docs = sentences_to_docs(Vocab(), sentences, tags, status, n_sents=n_sents)
    doc_bin = DocBin(store_user_data=True, docs=docs)
    output_path = Path(output_path)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    doc_bin.to_disk(output_path)
    counts = {
        "docs": len(docs),
        "sentences": len(sentences),
        "tokens": sum(len(doc) for doc in docs),
        **counts,
    }
    logger.info("converted %s -> %s: %s", conllu_path, output_path, counts)
    return counts


def conllu_texts(path: PathLike, max_line_chars: int = MAX_LINE_CHARS) -> Iterator[str]:
    """The raw text of each sentence of a CoNLL-U file (its `# text =` line), in
    file order: a treebank's training text as unlabelled data. A line that is not
    UTF-8 or too long is an error naming the file and line (`read_lines`)."""
    for _, line in read_lines(path, max_line_chars):
        if line.startswith("# text ="):
            text = line[len("# text =") :].strip()
            if text:
                yield text
