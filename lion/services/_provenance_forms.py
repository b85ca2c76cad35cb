"""Written forms for provenance: normalising text, tokens, numbers, dates, times, identifiers.

Everything here works on text normalised by `normalize` and is linear in
its length: no pattern has nested unbounded quantifiers that could backtrack
quadratically (the text may be an attacker's).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

# ---------------------------------------------------------------------------- normalising text

_WS = re.compile(r"\s+")
_TOKEN = re.compile(r"\w+|[^\w\s]")


def normalize(text: str) -> str:
    """NFKC, case folded, whitespace collapsed to single spaces and stripped."""
    return _WS.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def tokens(normalized: str) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(normalized))


# ---------------------------------------------------------------------------- written forms
# Each finder yields (start, end, atom) spans over normalised text. Atoms are
# typed canonical strings: "n:1000" (number), "d:2026-12-01" (date),
# "t:14:30" (time), "p:15551234567" (digits of a phone or account number).
# Each pattern opens with a lookahead on its first character so the regex engine
# can skip ahead to candidates (a leading lookbehind alone defeats that).
# Every pattern is linear: no nested unbounded quantifiers that can backtrack.

_NUMBER = re.compile(
    r"(?=[-\d])(?<![\w.,])(-?)(\d{1,3}(?:,\d{3})+|\d{1,3}(?: \d{3})+|\d+)(\.\d+)?(?!\w|[.,]\d)"
)
_MONTH = (
    r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_ORD = r"(?:st|nd|rd|th)?"
_DATE_ISO = re.compile(r"(?=\d)(?<![\d-])(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
_DATE_US = re.compile(r"(?=\d)(?<![\d/])(\d{1,2})/(\d{1,2})/(\d{4})(?![\d/])")
_DATE_DMY = re.compile(rf"(?=\d)(?<!\d)(\d{{1,2}}){_ORD} (?:of )?{_MONTH}\.?,? (\d{{4}})(?!\d)")
_DATE_MDY = re.compile(rf"(?=[adfjmnos])(?<!\w){_MONTH}\.? (\d{{1,2}}){_ORD},? (\d{{4}})(?!\d)")
_AMPM = r"(a\.?m\.?|p\.?m\.?)"
_TIME = re.compile(
    rf"(?=\d)(?<![\d:])(\d{{1,2}}):(\d{{2}})(?::(\d{{2}}))?(?:\.\d+)? ?{_AMPM}?(?![\d:])"
)
_TIME_HOUR = re.compile(rf"(?=\d)(?<![\d:])(\d{{1,2}}) ?{_AMPM}(?!\w)")
_DIGITS = re.compile(r"(?=[+\d])(?<![\w+])\+?\d[\d ()-]{4,}\d")
_IBAN = re.compile(  # all together, or in groups of four: never a mix that swallows a word
    r"(?=[a-z])(?<!\w)[a-z]{2}\d{2}"
    r"(?:[a-z0-9]{8,28}|(?: [a-z0-9]{4}){2,7}(?: [a-z0-9]{1,3})?)(?!\w)"
)
_MIN_ACCOUNT_DIGITS = 6
_ANY_DIGIT = re.compile(r"\d")


def _number_atom(sign: str, whole: str, fraction: str | None) -> str:
    # plain string work: Decimal is slow, and a text may hold a million numbers
    digits = whole.replace(",", "").replace(" ", "").lstrip("0") or "0"
    decimals = (fraction or "").lstrip(".").rstrip("0")
    text = f"{digits}.{decimals}" if decimals else digits
    return "n:" + (sign + text if text != "0" else text)


def canonical_number(value: Decimal | int | float) -> str:
    """`1000`, `1000.0` and `Decimal("1E+3")` all read `1000`."""
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return repr(value)
        value = Decimal(repr(value))
    text = format(Decimal(value), "f")  # exact: no rounding to the context's precision
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "0") else text


def _date_atom(year: str, month: int | str, day: str) -> str | None:
    try:
        return "d:" + dt.date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None


def time_atom(hour: str, minute: str, second: str | None, ampm: str | None) -> str | None:
    h, m, s = int(hour), int(minute), int(second or 0)
    if ampm:
        if not 1 <= h <= 12:
            return None
        h = h % 12 + (12 if ampm.startswith("p") else 0)
    if h > 23 or m > 59 or s > 59:
        return None
    return f"t:{h:02d}:{m:02d}" + (f":{s:02d}" if s else "")


def clock_atom(clock: dt.time) -> str:
    """The atom of a time of day (seconds kept only when not zero)."""
    return f"t:{clock.hour:02d}:{clock.minute:02d}" + (
        f":{clock.second:02d}" if clock.second else ""
    )


def _numbers(m: re.Match[str]) -> list[str]:
    atoms = [_number_atom(m[1], m[2], m[3])]
    if " " in m[2]:  # "555 123" may be two numbers as well as one
        atoms += [_number_atom("", part, None) for part in m[2].split(" ")]
    return atoms


def _one(atom: str | None) -> list[str]:
    return [atom] if atom else []


def _digits(m: re.Match[str]) -> list[str]:
    digits = re.sub(r"\D", "", m[0])
    return ["p:" + digits] if len(digits) >= _MIN_ACCOUNT_DIGITS else []


def _iban(m: re.Match[str]) -> list[str]:
    return ["i:" + m[0].replace(" ", "")]


_IDS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], list[str]]], ...] = (
    (_IBAN, _iban),
    (_DIGITS, _digits),
)
_FORMS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], list[str]]], ...] = (
    (_NUMBER, _numbers),
    (_DATE_ISO, lambda m: _one(_date_atom(m[1], m[2], m[3]))),
    (_DATE_US, lambda m: _one(_date_atom(m[3], m[1], m[2]))),
    (_DATE_DMY, lambda m: _one(_date_atom(m[3], _MONTHS[m[2]], m[1]))),
    (_DATE_MDY, lambda m: _one(_date_atom(m[3], _MONTHS[m[1]], m[2]))),
    (_TIME, lambda m: _one(time_atom(m[1], m[2], m[3], m[4]))),
    (_TIME_HOUR, lambda m: _one(time_atom(m[1], "0", None, m[2]))),
    *_IDS,
)


def spans(
    text: str, forms: tuple[tuple[re.Pattern[str], Any], ...] = _FORMS
) -> Iterator[tuple[int, int, str]]:
    """Every number, date, time, IBAN and long digit run written in `text` (normalised)."""
    if not _ANY_DIGIT.search(text):  # every form holds a digit: prose costs one scan
        return
    for pattern, atoms in forms:
        for m in pattern.finditer(text):
            for atom in atoms(m):
                yield m.start(), m.end(), atom


def whole_atoms(text: str) -> set[str]:
    """The atoms a whole string is a written form of (`1,000` -> n:1000), if any."""
    found: set[str] = set()
    if not _ANY_DIGIT.search(text):
        return found
    for pattern, atoms in _FORMS:
        if m := pattern.fullmatch(text):
            found.update(atoms(m)[:1])  # a whole "555 123" is one number, not its parts
    return found


# ---------------------------------------------------------------------------- identifiers

_URL = re.compile(r"(?:https?|ftp)://[^\s<>\"'`]+|www\.[^\s<>\"'`]+")
_WORD = re.compile(r"\w[\w.-]*")
_LOCAL = re.compile(r"[\w.+-]")
_TLD = re.compile(r"[a-z]{2,24}")


def identifiers(text: str) -> set[str]:
    """URLs, e-mail addresses, domains, IBANs, long ids and digit runs inside `text`."""
    found: set[str] = set()
    for m in _URL.finditer(text):
        found.add(m[0].rstrip(".,;:!?)]}"))
    # e-mail: expand around each "@" by hand (a regex would backtrack quadratically)
    at = text.find("@")
    while at != -1:
        left = at
        while left > 0 and _LOCAL.match(text, left - 1):
            left -= 1
        right = text.find("@", at + 1)
        domain = _WORD.match(text, at + 1)
        if left < at and domain and "." in domain[0].strip(".-"):
            found.add(text[left:at] + "@" + domain[0].rstrip(".-"))
        at = right
    for m in _WORD.finditer(text):
        word = m[0].rstrip(".-")
        labels = word.split(".")
        if len(labels) > 1 and all(labels) and _TLD.fullmatch(labels[-1]):
            found.add(word)  # a domain name
        elif (
            len(word) >= 8
            and any(c.isdigit() for c in word)
            and any(c.isalpha() for c in word)
            and not whole_atoms(word)
        ):
            found.add(word)  # a long id: letters and digits
    for start, end, atom in spans(text, _IDS):
        if atom.startswith("i:"):
            found.add(text[start:end])
        elif atom.startswith("p:") and not any(a[0] in "dt" for a in whole_atoms(text[start:end])):
            found.add(text[start:end])  # an account or phone number, not a date
    return found
