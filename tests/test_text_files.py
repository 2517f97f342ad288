"""Unlabelled text files are read line by line: a line that is not UTF-8, is too
long or (JSONL) has no string "text" is an error naming the file and the line;
blank lines are skipped, texts stripped."""

import json

import pytest

from spacy_skd.text_files import MAX_LINE_CHARS, holds_text, read_lines, read_texts


def test_lines_are_numbered_from_one_without_their_breaks(tmp_path):
    path = tmp_path / "text.txt"
    path.write_bytes(b"first\r\n\n  second \nlast")
    assert list(read_lines(path)) == [(1, "first"), (2, ""), (3, "  second "), (4, "last")]
    assert list(read_texts(path)) == [(1, "first"), (3, "second"), (4, "last")]


def test_bytes_that_are_not_utf8_name_the_file_line_and_column(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_bytes("fine\n\nh\u00e9llo \u00e9\n".encode() + b"caf\xc3\xa9 \xff eggs\nmore\n")
    with pytest.raises(ValueError, match=r"corpus.txt:4: not UTF-8 \(byte 0xff at column 6\)"):
        list(read_lines(path))
    read = []
    with pytest.raises(ValueError):
        for number, _ in read_texts(path):
            read.append(number)
    assert read == [1, 3]


@pytest.mark.parametrize("line", ["abcd", "\u00e9\u00e9\u00e9\u00e9", "\U0001f600" * 4])
def test_a_line_over_the_limit_names_the_file_and_line(tmp_path, line):
    path = tmp_path / "long.txt"
    path.write_text(f"abc\n{line[:3]}\n{line}\nabc\n", encoding="utf8")
    with pytest.raises(ValueError, match="long.txt:3: longer than 3 characters"):
        list(read_lines(path, max_line_chars=3))
    assert len(list(read_lines(path, max_line_chars=4))) == 4


def test_a_line_far_over_the_limit_is_not_read_whole(tmp_path):
    path = tmp_path / "blob.txt"
    path.write_text("x" * 1_000_000, encoding="utf8")
    with pytest.raises(ValueError, match="blob.txt:1: longer than 10 characters"):
        list(read_lines(path, max_line_chars=10))
    assert MAX_LINE_CHARS == 100_000
    with pytest.raises(ValueError, match="blob.txt:1: longer than 100,000 characters"):
        list(read_lines(path))
    with pytest.raises(ValueError, match="max_line_chars must be at least 1"):
        list(read_lines(path, max_line_chars=0))


def test_jsonl_gives_its_texts_and_names_a_bad_line(tmp_path):
    path = tmp_path / "docs.jsonl"
    records = [{"text": " one "}, {"text": "  "}, {"text": "two", "meta": 1}]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n\n", encoding="utf8")
    assert list(read_texts(path)) == [(1, "one"), (3, "two")]
    for bad in ["not json", "[1, 2]", '{"txt": "x"}', '{"text": 3}', '"text"']:
        path.write_text(f'{{"text": "fine"}}\n{bad}\n', encoding="utf8")
        with pytest.raises(ValueError, match="docs.jsonl:2: not a JSON object with a string"):
            list(read_texts(path))


def test_a_file_holds_text_when_it_has_a_doc(tmp_path):
    path = tmp_path / "text.txt"
    for content, expected in [("", False), ("\n   \n\t\r\n", False), ("\n one doc \n\n", True)]:
        path.write_text(content, encoding="utf8")
        assert holds_text(path) is expected
        assert holds_text(path, read_through=True) is expected
    path = tmp_path / "docs.jsonl"
    path.write_text('{"text": " "}\n\n', encoding="utf8")
    assert not holds_text(path)
    path.write_text('{"text": " "}\n{"text": "a doc"}\n', encoding="utf8")
    assert holds_text(path)


def test_holds_text_names_a_bad_line_before_the_first_doc_or_read_through(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"\n  \nbad \xff\n")
    with pytest.raises(ValueError, match=r"bad.txt:3: not UTF-8 \(byte 0xff at column 5\)"):
        holds_text(path)
    path.write_text("Short.\n" + "x" * 11, encoding="utf8")
    assert holds_text(path, max_line_chars=10)
    with pytest.raises(ValueError, match="bad.txt:2: longer than 10 characters"):
        holds_text(path, max_line_chars=10, read_through=True)
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "a doc"}\nnot json\n', encoding="utf8")
    with pytest.raises(ValueError, match="bad.jsonl:2: not a JSON object with a string"):
        holds_text(path, read_through=True)
