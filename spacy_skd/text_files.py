"""Unlabelled text files, read line by line by every reader of raw text
(`spacy-skd annotate`, `spacy-skd.TextCorpus.v1` under `spacy-skd distill
--unlabelled`, `spacy-skd text`): `.txt` holds a doc a line, `.jsonl` a
`{"text": ...}` object a line; a line ends at a line feed (LF or CRLF).

A bad line stops the reader with a `ValueError` naming the file and the line
(`path:line: ...`): bytes that are not UTF-8, more than `max_line_chars` characters,
or (`.jsonl`) not a JSON object with a string "text". No line is skipped, so
every reader of a file sees the same docs, and the teacher's cache keys agree.
Only stdlib: importing this module is cheap.
"""

from __future__ import annotations

import json
from os import PathLike
from pathlib import Path
from typing import Iterator, Tuple

# the most characters a line (a doc) may hold by default; a longer one is rarely
# text (a minified blob, a file without line breaks) and would be one huge doc
MAX_LINE_CHARS = 100_000
TEXT_SUFFIXES = (".txt", ".jsonl")
# the most bytes one character takes in UTF-8
_UTF8_BYTES = 4


def read_lines(
    path: str | PathLike,
    max_line_chars: int = MAX_LINE_CHARS,
) -> Iterator[Tuple[int, str]]:
    """(line number from 1, the line without its line break) for each line of the
    UTF-8 file at `path`. A line that is not UTF-8 or holds more than `max_line_chars`
    characters is a ValueError naming the file and line; memory holds one line at
    most, a too long line is not read whole."""
    if max_line_chars < 1:
        raise ValueError(f"max_line_chars must be at least 1, not {max_line_chars}")
    # the bytes of a line of `max_line_chars` characters and its line break, at most
    limit = _UTF8_BYTES * max_line_chars + 2
    with open(path, "rb") as data:
        for number, raw in enumerate(iter(lambda: data.readline(limit + 1), b""), 1):
            if len(raw) > limit:
                raise _too_long(path, number, max_line_chars)
            try:
                line = raw.decode("utf8").rstrip("\r\n")
            except UnicodeDecodeError as error:
                column = len(raw[: error.start].decode("utf8")) + 1
                byte = raw[error.start]
                message = f"not UTF-8 (byte 0x{byte:02x} at column {column})"
                raise ValueError(f"{path}:{number}: {message}") from None
            if len(line) > max_line_chars:
                raise _too_long(path, number, max_line_chars)
            yield number, line


def read_texts(
    path: str | PathLike,
    max_line_chars: int = MAX_LINE_CHARS,
) -> Iterator[Tuple[int, str]]:
    """(line number, text stripped) for each doc of the file at `path`: the
    "text" of each line of a `.jsonl` file, any other file's lines as they are;
    blank lines and blank texts are skipped (see `read_lines` for the errors)."""
    jsonl = Path(path).suffix.lower() == ".jsonl"
    for number, line in read_lines(path, max_line_chars):
        if jsonl and line.strip():
            line = _json_text(path, number, line)
        text = line.strip()
        if text:
            yield number, text


def holds_text(
    path: str | PathLike,
    max_line_chars: int = MAX_LINE_CHARS,
    *,
    read_through: bool = False,
) -> bool:
    """Whether the file at `path` holds a doc (`read_texts`). It is read up to its
    first doc, or with `read_through` to its end, so that a bad line anywhere
    fails (`path:line: ...`) before the file is used."""
    found = False
    for _ in read_texts(path, max_line_chars):
        found = True
        if not read_through:
            break
    return found


def _json_text(path: str | PathLike, number: int, line: str) -> str:
    try:
        text = json.loads(line)["text"]
    except (json.JSONDecodeError, KeyError, TypeError):
        text = None
    if not isinstance(text, str):
        raise ValueError(f"{path}:{number}: not a JSON object with a string 'text'")
    return text


def _too_long(path: str | PathLike, number: int, max_line_chars: int) -> ValueError:
    return ValueError(
        f"{path}:{number}: longer than {max_line_chars:,} characters (max_line_chars)"
    )
