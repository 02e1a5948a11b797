"""A ClickHouse SQL tokenizer for the read-only guard (sinks/sql_guard.py): strict where ClickHouse is lax.

The guard can only be as good as its reading of the statement: if it saw a comment where the
engine sees code, anything could hide there. So this lexer follows ClickHouse's own lexer
(`src/Parsers/Lexer.cpp`) for what it accepts, and refuses every construct where the two could
disagree rather than guess:

- `--` comments run to `\\n` (as in ClickHouse; a lone `\\r` does not end them); `/* */` comments
  may not contain `/*`, because ClickHouse nests them and a reader that does not would end the
  comment too early or too late;
- `#` comments, `$` (heredoc strings `$$…$$`), `?` and `{…}` (query parameters), `@`, `\\` and any
  character outside ASCII are refused outside strings and quoted names;
- strings and quoted names (`'…'`, `"…"`, `` `…` ``) end where ClickHouse ends them: a backslash
  escapes the next character and a doubled quote is one quote; an unterminated one is refused;
- a number that runs straight into a letter (`1file`) is refused: the engine may split it.

One pass, no regular expressions with backtracking: linear in the length of the statement.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from sinks.exceptions import ReadOnlyQueryError

TokenKind = Literal["word", "quoted_name", "string", "number", "op"]

_WORD_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_WORD_CHARS = _WORD_START | frozenset("0123456789")
_DIGITS = frozenset("0123456789")
_HEX = _DIGITS | frozenset("abcdefABCDEF_")
_SPACE = frozenset(" \t\n\r\f\v")
_TWO_CHAR_OPS = ("->", "::", "||", "<=", ">=", "!=", "<>", "==")
_ONE_CHAR_OPS = frozenset("()[],.+-*/%=<>;")
_QUOTES = {"'": "string", '"': "quoted_name", "`": "quoted_name"}


class Token(NamedTuple):
    kind: TokenKind
    text: str  # for strings and quoted names: the content without quotes (escapes kept)
    offset: int  # where it starts in the statement (for messages)
    upper: str = ""  # words only: the text in capitals, for keyword comparisons


def _refuse(message: str, offset: int) -> ReadOnlyQueryError:
    return ReadOnlyQueryError(f"pxstream sql: {message} (at character {offset + 1})")


def tokenize(sql: str) -> list[Token]:
    """The statement's tokens, comments dropped; ReadOnlyQueryError for anything ambiguous."""
    tokens: list[Token] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in _SPACE:
            i += 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            i = _skip_block_comment(sql, i)
        elif ch in _QUOTES:
            text, i_next = _quoted(sql, i)
            if ch != "'" and "\\" in text:
                # ClickHouse undoes escapes in names (`\x73ystem` is `system`): no escapes, no doubt.
                raise _refuse("a backslash inside a quoted name is not accepted", i)
            tokens.append(Token(_QUOTES[ch], text, i))  # type: ignore[arg-type]
            i = i_next
        elif ch in _WORD_START:
            start = i
            while i < n and sql[i] in _WORD_CHARS:
                i += 1
            word = sql[start:i]
            tokens.append(Token("word", word, start, word.upper()))
        elif ch in _DIGITS or (ch == "." and i + 1 < n and sql[i + 1] in _DIGITS):
            start = i
            i = _number_end(sql, i)
            tokens.append(Token("number", sql[start:i], start))
        elif sql.startswith(_TWO_CHAR_OPS, i):
            tokens.append(Token("op", sql[i : i + 2], i))
            i += 2
        elif ch in _ONE_CHAR_OPS:
            tokens.append(Token("op", ch, i))
            i += 1
        else:
            raise _refuse(f"{_shown(ch)} is not accepted outside quotes", i)
    return tokens


def _shown(ch: str) -> str:
    return f"the character {ch!r}" if ch.isprintable() else f"the character U+{ord(ch):04X}"


def _skip_block_comment(sql: str, start: int) -> int:
    end = sql.find("*/", start + 2)
    if end < 0:
        raise _refuse("a /* comment is not closed", start)
    if sql.find("/*", start + 2, end) >= 0:
        raise _refuse("nested /* comments */ are not accepted", start)
    return end + 2


def _quoted(sql: str, start: int) -> tuple[str, int]:
    """Content and end of a quoted string or name, read as ClickHouse reads it."""
    quote = sql[start]
    out: list[str] = []
    i, n = start + 1, len(sql)
    while i < n:
        ch = sql[i]
        if ch == "\\":
            if i + 1 >= n:
                break
            out.append(sql[i : i + 2])  # kept escaped: the guard only compares whole names
            i += 2
        elif ch == quote:
            if i + 1 < n and sql[i + 1] == quote:
                out.append(quote)
                i += 2
            else:
                return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    kind = "string" if quote == "'" else "quoted name"
    raise _refuse(f"a {kind} starting with {quote} is not closed", start)


def _number_end(sql: str, i: int) -> int:
    n = len(sql)
    if sql.startswith(("0x", "0X", "0b", "0B"), i):
        j = i + 2
        while j < n and sql[j] in _HEX:
            j += 1
    else:
        j = i
        while j < n and (sql[j] in _DIGITS or sql[j] == "_"):
            j += 1
        if j < n and sql[j] == ".":
            j += 1
            while j < n and sql[j] in _DIGITS:
                j += 1
        if j < n and sql[j] in "eE":
            k = j + 1
            if k < n and sql[k] in "+-":
                k += 1
            if k < n and sql[k] in _DIGITS:
                j = k
                while j < n and sql[j] in _DIGITS:
                    j += 1
    if j < n and sql[j] in _WORD_CHARS:
        raise _refuse("a number runs straight into a name; put a space between them", i)
    return j
