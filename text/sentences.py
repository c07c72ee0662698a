"""Sentence splitting, written once for translation, speech and the measuring tools.

A small rule-based splitter, not a linguistic tool (an abbreviation such as "e.g. " ends a
sentence). A sentence ends:

* at ``. ! ? …`` followed by whitespace or the end of the line, so "3.5" stays whole;
* at a stop of a script written without spaces, wherever it stands: CJK ``。 ！ ？ ｡``,
  Devanagari ``। ॥``, Khmer ``។ ៕``, Thai ``๚ ๛``;
* at a line break.

Closing quotes and brackets stay with the sentence they close. Every character other than
whitespace is kept, in order; pieces are stripped and never empty.
"""

from __future__ import annotations

import re

# End a sentence only before whitespace or the line's end.
SPACED_ENDERS = ".!?…"
# End a sentence anywhere: these scripts need no space after a sentence.
UNSPACED_ENDERS = "。！？｡।॥។៕๚๛"
# Closing quotes and brackets that follow an ender and belong to its sentence.
CLOSERS = "\"'”’»›)]}」』）】〕〉》"


def _chars(chars: str) -> str:
    return "".join(re.escape(c) for c in chars)


_SENTENCE = re.compile(
    rf"\S.*?(?:[{_chars(SPACED_ENDERS)}]+[{_chars(CLOSERS)}]*(?=\s|$)"
    rf"|[{_chars(UNSPACED_ENDERS)}]+[{_chars(CLOSERS)}]*"
    r"|$)"
)


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, each with its end punctuation, stripped, none empty."""
    sentences: list[str] = []
    for line in text.splitlines():
        for match in _SENTENCE.finditer(line):
            sentence = match.group().strip()
            if sentence:
                sentences.append(sentence)
    return sentences


# Clause marks after which a voice pauses anyway: comma, semicolon and colon, with their CJK
# and Arabic-script forms. Thai and Khmer mark clauses with a space, which is
# also a word gap in running text, so they are never cut here.
CLAUSE_MARKS = ",;:、，；：،"
_CLAUSE = re.compile(rf"[{_chars(CLAUSE_MARKS)}](?=\s|$)|[、，；：]")


def first_clause(sentence: str, min_chars: int) -> tuple[str, str] | None:
    """``sentence`` cut after its first clause mark, as (clause, rest), when both pieces have at
    least ``min_chars`` characters (a voice says a short clause no sooner and sounds choppier);
    None when there is no such cut."""
    for match in _CLAUSE.finditer(sentence):
        clause, rest = sentence[: match.end()].strip(), sentence[match.end():].strip()
        if len(clause) >= min_chars and len(rest) >= min_chars:
            return clause, rest
        if len(clause) >= min_chars:
            return None
    return None
