"""Go's `regexp` for patterns users write (CRD schema `pattern`), on RE2 (google-re2).

Upstream compiles them with Go's regexp: RE2 syntax, matching in linear time. Python's `re`
is neither: it refuses Go patterns (`\\p{L}`), accepts ones Go refuses (`(?<=a)`, so an invalid
CRD would be stored), and backtracks, so one string against a pattern like `^([a-z]+-?)+$`
holds the API server's loop for minutes (each extra character doubles the time). RE2 is Go's
regexp's ancestor: the same syntax and guarantees; only its error words differ, so they are
mapped to Go's (regexp/syntax ErrorCode) for `error parsing regexp: <code>: `<expr>``.
"""

from __future__ import annotations

import functools
from typing import Any

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print every refused pattern on stderr

# RE2's error text (before ": <fragment>") -> Go's regexp/syntax ErrorCode
_GO_CODES = {
    "missing ]": "missing closing ]",
    "missing )": "missing closing )",
    "unexpected )": "unexpected )",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "bad repetition operator": "invalid nested repetition operator",
    "no argument for repetition operator": "missing argument to repetition operator",
    "invalid repetition size": "invalid repeat count",
    "invalid named capture group": "invalid named capture",
    "invalid character class range": "invalid character class range",
    "invalid character class": "invalid character class",
    "invalid escape sequence": "invalid escape sequence",
    "invalid UTF-8": "invalid UTF-8",
    "trailing \\": "trailing backslash at end of expression",
}


class RegexpError(ValueError):
    """A pattern Go's regexp.Compile refuses; str() is Go's error text."""


@functools.lru_cache(maxsize=1024)
def compile_pattern(pattern: str) -> Any:
    """regexp.Compile: the compiled pattern (`.search(text)` finds a match anywhere, as Go's MatchString), or
    RegexpError with Go's message."""
    try:
        return re2.compile(pattern, options=_OPTIONS)
    except re2.error as e:
        raise RegexpError(_go_message(pattern, e)) from None


def _go_message(pattern: str, err: Exception) -> str:
    raw = err.args[0] if err.args else ""
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    what, _, fragment = text.partition(": ")
    code = _GO_CODES.get(what)
    if code is None:
        return f"error parsing regexp: {text}: `{pattern}`"
    if code == "trailing backslash at end of expression":
        fragment = ""
    if fragment.startswith("(?<") and "(?<" in pattern:
        # Go (1.22+) reads `(?<` as a named capture `(?<name>`: the text up to its `>`, or all of it
        rest = pattern[pattern.index("(?<"):]
        code, fragment = "invalid named capture", rest[:rest.index(">") + 1] if ">" in rest else rest
    return f"error parsing regexp: {code}: `{fragment}`"
