"""Pydantic validation errors as located problems: line, field, the rule and the bad value."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from pydantic import ValidationError

from treeline.config.yaml_source import Loc, LocatedYaml
from treeline.errors import Problem, suggest


def pydantic_problems(
    src: LocatedYaml, exc: ValidationError, key_choices: Iterable[str] = (), at: Loc = ()
) -> list[Problem]:
    """Problems for the errors of validating the value at `at` in `src`. Errors that only echo
    a problem of the document itself (a refused tag, a merge key) are left out."""
    choices = sorted(set(key_choices))
    value = src.at(at)
    found = [
        (err, (*at, *_real_loc(value, err["loc"], err["type"] == "missing")))
        for err in exc.errors()
    ]
    unknown = {(loc[:-1], str(loc[-1]).lower()) for err, loc in found if _is_unknown_key(err, loc)}
    out = []
    for err, loc in found:
        missing = err["type"] == "missing"
        if src.consequence(loc, missing):
            continue
        if missing and (loc[:-1], str(loc[-1]).lower()) in unknown:
            continue  # `Budget:` given for `budget`: the unknown key's message says it all
        out.append(src.problem(loc, _message(err, loc, choices, src.number_text.get(loc))))
    return out


def _is_unknown_key(err: Any, loc: Loc) -> bool:
    return err["type"] == "extra_forbidden" and bool(loc)


def _message(err: Any, loc: Loc, choices: list[str], quoted: bool | None) -> str:
    """The rule and the bad value; `quoted`: whether a number read as text was quoted (None:
    the value is not such a number)."""
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden" and loc:
        return f"unknown key '{loc[-1]}'{suggest(str(loc[-1]), choices)}"
    if kind == "missing":
        return "required field is missing"
    if kind == "value_error":
        # Our validators' messages carry the value; the input is the whole mapping.
        return msg.removeprefix("Value error, ")
    if "input" not in err:
        return msg
    given = err["input"]
    if given is None:
        return f"{msg}, got nothing (an empty value)"
    if kind == "string_type" and isinstance(given, (bool, int, float, date)):
        what = "a date" if isinstance(given, date) else f"the {type(given).__name__} {given!r}"
        return f"{msg}, got {given} (YAML read it as {what}: quote it to make it text)"
    if quoted is not None and kind in ("int_type", "float_type"):
        why = (
            "quoted, so text: remove the quotes"
            if quoted
            else "YAML reads it as text: write a number with a dot and a signed exponent, "
            "e.g. 1.0e+3, or in full"
        )
        return f"{msg}, got {given!r} ({why})"
    return f"{msg}, got {_short(given)}"


def _real_loc(value: Any, loc: tuple[Any, ...], missing: bool) -> Loc:
    """The parts of a pydantic loc that are keys and indexes of `value`.

    Pydantic puts the member of a union in the loc (`str`, `DatasetEntry`, a discriminator's
    tag); walking the loc against the data tells them apart from real keys, whatever their case.
    A missing key is not in the data: it is the last part.
    """
    out: list[str | int] = []
    for i, part in enumerate(loc):
        key = isinstance(value, dict) and part in value
        index = isinstance(value, list) and isinstance(part, int) and 0 <= part < len(value)
        if key or index:
            value = value[part]
        elif not (missing and i == len(loc) - 1 and isinstance(value, dict)):
            continue  # a union member's tag: not a place in the file
        out.append(part)
    return tuple(out)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
