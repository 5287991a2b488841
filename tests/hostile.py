"""Hostile answers, generated: what a typo, a paste from a web page or an attacker puts in a field.

``hostile(valid)`` starts from a valid answer and breaks it the ways answers really break:
control characters and newlines anywhere, leading dashes, unicode look-alikes, invisible
characters, glob and shell metacharacters, Jinja syntax, and over-long values. ``accepted``
strategies generate the unusual but valid answers (the validators' own grammar at its edges),
the ones most likely to break a rendered file if a validator let too much through.
"""

from __future__ import annotations

from hypothesis import strategies as st

FRAGMENTS = [
    *"\n\r\t\x00\x0b\x0c\x1b\x7f",
    "\r\n",
    "\u2028",  # line separator
    "\u0085",  # next line
    "\u200b",  # zero-width space
    "\u202e",  # right-to-left override
    "\ufeff",  # byte-order mark
    "\u00a0",  # no-break space
    " ",
    "-",
    "--",
    "--help",
    "-rf /",
    *"*?[]{}",
    "**",
    *"$`;|&<>()'\"\\#%!~^=,:@/",
    "$(id)",
    "`id`",
    "${HOME}",
    "../",
    "..",
    ".",
    "{{ 7 * 7 }}",
    "{% if true %}x{% endif %}",
    "{# c #}",
    "{{",
    "%}",
    "\u0430",  # Cyrillic a
    "\u0435",  # Cyrillic e
    "\u2010",  # hyphen
    "\u2215",  # division slash
    "\uff0e",  # fullwidth full stop
    "\uff1a",  # fullwidth colon
    "\u0131",  # dotless i
    "é",
    "ß",
    "A",
    "Z",
    "0",
    "9",
    "_",
    "x" * 64,
    "a" * 300,
]


@st.composite
def hostile(draw, valid: str) -> str:
    """A valid answer with one to three fragments put in, or put in place of a part of it."""
    value = valid
    for _ in range(draw(st.integers(1, 3))):
        fragment = draw(st.sampled_from(FRAGMENTS) | st.text(min_size=1, max_size=4))
        start = draw(st.integers(0, len(value)))
        end = draw(st.integers(start, min(len(value), start + 3)))
        value = value[:start] + fragment + value[end:]
    return value


def hostile_list(valid: list[str]):
    """A YAML-list answer: one item broken, or the list itself replaced by a string or a mapping."""
    broken_item = st.integers(0, len(valid) - 1).flatmap(
        lambda i: hostile(valid[i]).map(lambda item: [*valid[:i], item, *valid[i + 1 :]])
    )
    return broken_item | hostile(",".join(valid)) | st.just({"a": 1}) | st.just([[]]) | st.just([None])


# --- valid answers at their edges ------------------------------------------------------------------

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?"
HOSTS = st.from_regex(rf"(?:{_LABEL}\.){{0,3}}{_LABEL}", fullmatch=True) | st.sampled_from(
    ["localhost", "xn--mnchen-3ya.example", "a" * 63 + ".example", "9to5.example", "mcp-1.eu-west-1.example.com"]
)
IMAGES = st.from_regex(
    r"(?:ghcr\.io|docker\.io|registry\.example\.com:5000|localhost:5000|10\.0\.0\.1:5000)"
    r"(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+){0,2}){1,3}",
    fullmatch=True,
) | st.sampled_from(["ghcr.io/acme/" + "m" * 100, "1password-mcp", "ghcr.io/a/b/c/d/e-f__g.h"])
PREFIXES = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,30}(?:/[A-Za-z0-9][A-Za-z0-9._-]{0,10}){0,2}", fullmatch=True)
ENV_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,40}", fullmatch=True)
# Everything the validator lets through in a default: printable ASCII but for what breaks compose or a shell.
ENV_DEFAULTS = st.text(alphabet=st.sampled_from(sorted(set(map(chr, range(33, 127))) - set("\"'$`{}#\\"))), max_size=30)
SERVER_PATH_TAILS = st.from_regex(r"[A-Za-z0-9._-]{1,20}(?:/[A-Za-z0-9._@+=,:%-]{1,20}){0,3}", fullmatch=True).filter(
    lambda tail: all(part not in (".", "..") for part in tail.split("/"))
)
