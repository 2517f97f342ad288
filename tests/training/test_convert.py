"""The CoNLL-U + IOB2 -> DocBin converter, on hand-written files and the EWT sample."""

from pathlib import Path

import pytest
from spacy.tokens import DocBin
from spacy.vocab import Vocab
from typer.testing import CliRunner

from spacy_skd.cli import app
from spacy_skd.training import (
    DOC_ID_KEY,
    NER_STATUS_KEY,
    convert_corpus,
    fix_iob,
    normalise_ner_tag,
    read_conllu,
    read_iob2,
    sentence_ids,
)

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "ewt_sample"


def row(id_, form, head, deprel, upos="X", xpos="XX", lemma=None, feats="_", misc="_"):
    lemma = form.lower() if lemma is None else lemma
    return "\t".join([str(id_), form, lemma, upos, xpos, feats, str(head), deprel, "_", misc])


def mwt(ids, form, misc="_"):
    return "\t".join([ids, form] + ["_"] * 7 + [misc])


def sentence(sent_id, rows, newdoc=None):
    head = [f"# newdoc id = {newdoc}"] if newdoc else []
    return "\n".join(head + [f"# sent_id = {sent_id}", "# text = ..."] + rows) + "\n\n"


def simple(sent_id, words, newdoc=None):
    """A sentence whose first word is the root and every other word hangs on it."""
    rows = [row(1, words[0], 0, "root")]
    rows += [row(i, w, 1, "dep") for i, w in enumerate(words[1:], start=2)]
    return sentence(sent_id, rows, newdoc)


def ner(sent_id, tokens, tags, extra=True):
    lines = [f"# sent_id = {sent_id}", "# text = ..."]
    for i, (token, tag) in enumerate(zip(tokens, tags), start=1):
        lines.append("\t".join([str(i), token, tag] + (["-", "x"] if extra else [])))
    return "\n".join(lines) + "\n\n"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf8")
    return path


def load(path):
    return list(DocBin().from_disk(path).get_docs(Vocab()))


# "I don't know." with a multiword token, an empty node, and SpaceAfter=No
MWT_SENTENCE = sentence(
    "s1",
    [
        row(1, "I", 4, "nsubj", "PRON", "PRP", feats="Case=Nom|Number=Sing|Person=1"),
        mwt("2-3", "don't"),
        row(2, "do", 4, "aux", "AUX", "VBP", lemma="do"),
        row(3, "n't", 4, "advmod", "PART", "RB", lemma="not", feats="Polarity=Neg"),
        row(4, "know", 0, "root", "VERB", "VB", misc="SpaceAfter=No"),
        "\t".join(["4.1", "knows", "know", "VERB", "VBZ", "_", "_", "_", "4:conj", "_"]),
        mwt("5-6", "it's", misc="SpaceAfter=No"),
        row(5, "it", 4, "obj", "PRON", "PRP"),
        row(6, "'s", 4, "nmod:poss", "PART", "POS"),
        row(7, ".", 4, "punct", "PUNCT", "."),
    ],
    newdoc="d1",
)


def test_multiword_tokens_empty_nodes_and_spaces(tmp_path):
    (sent,) = read_conllu(write(tmp_path, "a.conllu", MWT_SENTENCE))
    assert sent.words == ["I", "do", "n't", "know", "it", "'s", "."]
    assert sent.spaces == [True, False, True, False, False, False, True]
    assert sent.heads == [4, 4, 4, 0, 4, 4, 4]
    assert sent.sent_id == "s1" and sent.doc_id == "d1" and sent.newdoc

    convert_corpus(write(tmp_path, "a.conllu", MWT_SENTENCE), tmp_path / "a.spacy")
    (doc,) = load(tmp_path / "a.spacy")
    assert doc.text == "I don't knowit's. "
    assert [t.tag_ for t in doc] == ["PRP", "VBP", "RB", "VB", "PRP", "POS", "."]
    assert [t.pos_ for t in doc] == ["PRON", "AUX", "PART", "VERB", "PRON", "PART", "PUNCT"]
    assert doc[0].morph.to_dict() == {"Case": "Nom", "Number": "Sing", "Person": "1"}
    assert str(doc[1].morph) == ""
    assert doc[2].lemma_ == "not"
    assert [t.dep_ for t in doc] == ["nsubj", "aux", "advmod", "ROOT", "obj", "nmod:poss", "punct"]
    assert [t.head.i for t in doc] == [3, 3, 3, 3, 3, 3, 3]
    assert sentence_ids(doc) == ["s1"]
    assert doc.user_data[DOC_ID_KEY] == "d1"
    # no NER file: entity annotation is missing, not "O"
    assert [t.ent_iob_ for t in doc] == [""] * 7
    assert list(doc.user_data[NER_STATUS_KEY]) == ["absent"]


def test_ner_tags_are_normalised_and_iob_fixed():
    assert normalise_ner_tag("B-OTH") == "O"
    assert normalise_ner_tag("I-OTH") == "O"
    assert normalise_ner_tag("B-O") == "O"
    assert normalise_ner_tag("B-PER") == "B-PER"
    assert normalise_ner_tag("B-MISC", labels=("PER", "MISC")) == "B-MISC"
    assert normalise_ner_tag("PER") is None
    assert fix_iob(["I-PER", "I-PER", "O", "I-LOC", "B-ORG", "I-PER"]) == [
        "B-PER", "I-PER", "O", "B-LOC", "B-ORG", "B-PER"
    ]  # fmt: skip


def test_ner_join_mapping_mismatch_and_absent(tmp_path):
    conllu = write(
        tmp_path,
        "a.conllu",
        simple("s1", ["Smith", "visited", "New", "York", "Inc", "today"], newdoc="d")
        + simple("s2", ["cannot", "go"])
        + simple("s3", ["Paris", "again"])
        + simple("s4", ["Bob", "Jones", "here"]),
    )
    iob2 = write(
        tmp_path,
        "a.iob2",
        # s3 first: the NER file's order does not matter
        ner("s3", ["Paris", "again"], ["B-LOC", "O"], extra=False)
        + ner(
            "s1",
            ["Smith", "visited", "New", "York", "Inc", "today"],
            ["B-PER", "B-O", "B-OTH", "I-LOC", "I-ORG", "I-OTH"],
        )
        # s2 is tokenized differently ("can not"): its NER must be missing, not "O"
        + ner("s2", ["can", "not", "go"], ["O", "O", "O"])
        # s4 is absent; s5 is not in the CoNLL-U file
        + ner("s5", ["Hi"], ["O"]),
    )
    counts = convert_corpus(conllu, tmp_path / "a.spacy", iob2_path=iob2)
    assert counts == {
        "docs": 1,
        "sentences": 4,
        "tokens": 13,
        "ner_joined": 2,
        "ner_mismatched": 1,
        "ner_absent": 1,
        "ner_unused": 1,
    }
    (doc,) = load(tmp_path / "a.spacy")
    assert list(doc.user_data[NER_STATUS_KEY]) == ["joined", "mismatched", "joined", "absent"]
    sents = list(doc.sents)
    assert [t.ent_iob_ for t in sents[0]] == ["B", "O", "O", "B", "B", "O"]
    assert [(e.text, e.label_) for e in doc.ents] == [
        ("Smith", "PER"),
        ("York", "LOC"),
        ("Inc", "ORG"),
        ("Paris", "LOC"),
    ]
    assert [t.ent_iob_ for t in sents[1]] == ["", ""]
    assert [t.ent_iob_ for t in sents[3]] == ["", "", ""]
    assert doc.has_annotation("ENT_IOB")


def test_newdoc_boundaries_n_sents_and_absolute_heads(tmp_path):
    text = (
        simple("a1", ["x", "y"], newdoc="A")
        + sentence("a2", [row(1, "p", 2, "nsubj"), row(2, "q", 0, "root"), row(3, "r", 2, "obj")])
        + simple("a3", ["z"])
        + simple("b1", ["u", "v", "w"], newdoc="B")
        + simple("b2", ["t"])
    )
    path = write(tmp_path, "a.conllu", text)
    counts = convert_corpus(path, tmp_path / "a.spacy", n_sents=2)
    assert counts["docs"] == 3 and counts["sentences"] == 5 and counts["tokens"] == 10
    docs = load(tmp_path / "a.spacy")
    assert [sentence_ids(doc) for doc in docs] == [["a1", "a2"], ["a3"], ["b1", "b2"]]
    assert [doc.user_data[DOC_ID_KEY] for doc in docs] == ["A", "A", "B"]
    first = docs[0]
    assert [t.text for t in first] == ["x", "y", "p", "q", "r"]
    assert [t.head.i for t in first] == [0, 0, 3, 3, 3]
    assert [t.is_sent_start for t in first] == [True, False, True, False, False]
    assert [s.root.i for s in first.sents] == [0, 3]
    assert [t.head.i for t in docs[2]] == [0, 0, 0, 3]
    # the default groups 10 sentences, still never across a newdoc
    convert_corpus(path, tmp_path / "b.spacy")
    assert [len(sentence_ids(doc)) for doc in load(tmp_path / "b.spacy")] == [3, 2]


@pytest.mark.parametrize(
    "bad_row, message",
    [
        ("1\tx\tx\tX\tXX\t_\t0\troot\t_", "expected 10"),
        (row(1, "x", "two", "root"), "HEAD must be"),
        (row(1, "x", 7, "root"), "past the sentence"),
        (row(1, "x", 1, "root"), "its own head"),
        (row("one", "x", 0, "root"), "bad word ID"),
    ],
)
def test_malformed_conllu_names_file_and_line(tmp_path, bad_row, message):
    text = simple("s1", ["a", "b"]) + sentence("s2", [row(2, "y", 0, "root")])
    text = text.replace(row(2, "y", 0, "root"), bad_row)
    # lines: 1 sent_id, 2 text, 3-4 words, 5 blank, 6 sent_id, 7 text, 8 the bad row
    path = write(tmp_path, "bad.conllu", text)
    with pytest.raises(ValueError, match=rf"bad\.conllu:8: .*{message}"):
        read_conllu(path)


def test_not_a_tree_and_malformed_iob2(tmp_path):
    two_roots = sentence("s", [row(1, "a", 0, "root"), row(2, "b", 0, "root")])
    with pytest.raises(ValueError, match=r"t\.conllu:4: .*2 roots"):
        read_conllu(write(tmp_path, "t.conllu", two_roots))
    cycle = sentence("s", [row(1, "a", 0, "root"), row(2, "b", 3, "dep"), row(3, "c", 2, "dep")])
    with pytest.raises(ValueError, match=r"c\.conllu:\d+: .*cycle"):
        read_conllu(write(tmp_path, "c.conllu", cycle))
    with pytest.raises(ValueError, match=r"n\.iob2:4: .*IOB2 tag"):
        read_iob2(write(tmp_path, "n.iob2", ner("s", ["a", "b"], ["O", "S-PER"])))
    with pytest.raises(ValueError, match=r"m\.iob2:3: .*at least 3"):
        read_iob2(write(tmp_path, "m.iob2", "# sent_id = s\n# text = a\n1\ta\n\n"))
    with pytest.raises(ValueError, match=r"r\.iob2:\d+: .*repeated"):
        read_iob2(write(tmp_path, "r.iob2", ner("s", ["a"], ["O"]) + ner("s", ["a"], ["O"])))


def test_cli_converts_and_reports(tmp_path):
    conllu = write(tmp_path, "a.conllu", MWT_SENTENCE)
    iob2 = write(tmp_path, "a.iob2", ner("s1", ["I"], ["O"]))
    out = tmp_path / "out" / "a.spacy"
    runner = CliRunner()
    result = runner.invoke(app, ["convert", str(conllu), str(out), "--ner", str(iob2), "-n", "5"])
    assert result.exit_code == 0, result.output
    assert "ner_mismatched: 1" in result.output and out.exists()
    bad = write(tmp_path, "bad.conllu", "1\tx\n")
    result = runner.invoke(app, ["convert", str(bad), str(out)])
    assert result.exit_code == 1
    assert "bad.conllu:1" in result.output


def test_ewt_sample_converts_to_valid_trees(tmp_path):
    counts = convert_corpus(
        SAMPLE / "train.conllu", tmp_path / "train.spacy", iob2_path=SAMPLE / "train.iob2"
    )
    assert counts["sentences"] == 200
    assert counts["ner_joined"] >= 0.9 * 200
    docs = load(tmp_path / "train.spacy")
    assert len(docs) == counts["docs"]
    ids, labels, n_sents = [], set(), 0
    for doc in docs:
        sents = list(doc.sents)
        assert len(sents) == len(sentence_ids(doc)) <= 10
        for sent in sents:
            n_sents += 1
            assert sum(t.head.i == t.i for t in sent) == 1
            assert all(sent.start <= t.head.i < sent.end for t in sent)
            assert sent.root.dep_ == "ROOT"
        ids += sentence_ids(doc)
        labels.update(ent.label_ for ent in doc.ents)
    assert n_sents == 200 and len(set(ids)) == 200
    assert labels == {"PER", "LOC", "ORG"}
    dev = convert_corpus(SAMPLE / "dev.conllu", tmp_path / "dev.spacy", SAMPLE / "dev.iob2")
    assert dev["sentences"] == 60 and dev["ner_joined"] >= 54
