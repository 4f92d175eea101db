"""YAML loading that remembers the line of every key, so errors can point at it.

The document is built from the parser's events with an explicit stack instead of PyYAML's
recursive composer and constructor, so neither deep nesting nor aliases of aliases (a few hundred
bytes that expand to billions of values) can exhaust the stack, the memory or the clock: an alias
counts as every value and every character it stands for, against `MAX_VALUES` and `MAX_TEXT`.
YAML features the schema has no use for (merge keys, custom tags, complex keys) are reported,
located, instead of half-working.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from treeline.config.text_file import MAX_BYTES, read_text
from treeline.errors import ConfigError, Problem

Loc = tuple[str | int, ...]

MAX_VALUES = 10_000  # a large suite has a few hundred; aliases count as what they expand to
MAX_TEXT = 4 * MAX_BYTES  # characters of text, aliases expanded: each may be copied into a message
MAX_DEPTH = 32  # the schema nests five levels

_CORE = "tag:yaml.org,2002:"
# Explicit tags a user may write to force a type (`!!str 0`); every other tag is refused.
_SCALAR_TAGS = {_CORE + t for t in ("str", "int", "float", "bool", "null")}
_MERGE, _VALUE = _CORE + "merge", _CORE + "value"
# libyaml when installed: several times faster than the pure-Python parser on a large file.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class LocatedYaml:
    """A parsed YAML document plus the 1-based line of each location (path of keys/indexes).

    `problems`: what is wrong with the document itself but did not stop it being read. The value
    at a `broken` location is a placeholder, so schema errors at or under it are consequences;
    a `partial` mapping lost keys (a merge key, a complex key), so its missing keys may be too.
    `number_text`: where text reads as a number, whether it was quoted (YAML 1.1 reads a plain
    `1e9` as text).
    """

    path: Path
    data: Any
    lines: dict[Loc, int]
    problems: list[Problem] = field(default_factory=list)
    broken: set[Loc] = field(default_factory=set)
    partial: set[Loc] = field(default_factory=set)
    number_text: dict[Loc, bool] = field(default_factory=dict)

    def line(self, loc: Loc) -> int | None:
        """The line of `loc`, or of its closest located parent."""
        loc = tuple(loc)
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get((), 1)

    def problem(self, loc: Loc, message: str) -> Problem:
        return Problem(str(self.path), self.line(loc), format_loc(loc), message)

    def at(self, loc: Loc) -> Any:
        """The value at `loc`, or None where there is none."""
        value = self.data
        for part in loc:
            try:
                value = value[part]
            except (KeyError, IndexError, TypeError):
                return None
        return value

    def consequence(self, loc: Loc, missing: bool) -> bool:
        """Is a schema error at `loc` only the echo of a document problem already reported?"""
        if any(loc[: len(b)] == b for b in self.broken):
            return True
        return missing and loc[:-1] in self.partial


def format_loc(loc: Loc) -> str:
    """`datasets[1].n` style field names."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def load_yaml(path: Path) -> LocatedYaml:
    """Parse `path`. An unreadable file, a syntax error or a document over the limits raises a
    ConfigError; other problems of the document are collected in `LocatedYaml.problems`."""
    text = read_text(path)
    builder = _Builder(path)
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            builder.feed(event)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        syntax = Problem(str(path), line, "", f"YAML syntax error: {problem}")
        raise ConfigError([*builder.problems, syntax]) from None
    if not builder.done:
        raise ConfigError.single(path, 1, "", "the file is empty")
    b = builder
    return LocatedYaml(path, b.root, b.lines, b.problems, b.broken, b.partial, b.number_text)


@dataclass
class _Frame:
    """An open mapping or sequence."""

    loc: Loc
    value: dict[str, Any] | list[Any]
    anchor: str | None
    count_at_start: int
    text_at_start: int
    keep: bool  # False inside a refused node: read and counted, not stored
    expect_key: bool = True  # a mapping's next node is a key (else the value of `key`)
    key: str | None = None  # the key whose value comes next; None drops that value


class _Builder:
    """Python values from parser events, with their lines, under the size and depth limits."""

    def __init__(self, path: Path):
        self.path = path
        self.root: Any = None
        self.done = False
        self.lines: dict[Loc, int] = {}
        self.problems: list[Problem] = []
        self.broken: set[Loc] = set()
        self.partial: set[Loc] = set()
        self.number_text: dict[Loc, bool] = {}
        self.stack: list[_Frame] = []
        # name -> (value, values and characters it stands for)
        self.anchors: dict[str, tuple[Any, int, int]] = {}
        self.open_anchors: set[str] = set()
        self.count = 0
        self.text = 0
        self.documents = 0
        self.resolver = yaml.resolver.Resolver()
        self.constructor = yaml.constructor.SafeConstructor()

    def feed(self, ev: yaml.Event) -> None:
        line = ev.start_mark.line + 1
        if isinstance(ev, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                self._fatal(line, "more than one YAML document ('---'); a file holds one")
        elif isinstance(ev, yaml.AliasEvent):
            self._alias(ev.anchor, line)
        elif isinstance(ev, yaml.ScalarEvent):
            self._grow(1, len(ev.value), line)
            if self._at_key():
                self._key(ev.value, self._key_problem(ev), line)
                if ev.anchor:
                    self.anchors[ev.anchor] = (ev.value, 1, len(ev.value))
            else:
                self._attach(self._scalar(ev, line), line, ev.anchor, (1, len(ev.value)))
        elif isinstance(ev, yaml.CollectionStartEvent):
            self._open(ev, line)
        elif isinstance(ev, yaml.CollectionEndEvent):
            frame = self.stack.pop()
            if frame.anchor:
                self.open_anchors.discard(frame.anchor)
            size = (self.count - frame.count_at_start, self.text - frame.text_at_start)
            if self._at_key():  # it was a complex key, already reported: drop its value too
                self._key(None, None, 0)
                if frame.anchor:
                    self.anchors[frame.anchor] = (frame.value, *size)
            else:
                self._attach(frame.value, None, frame.anchor, size)

    # -- nodes -----------------------------------------------------------------------------

    def _open(self, ev: yaml.CollectionStartEvent, line: int) -> None:
        self._grow(1, 0, line)
        if len(self.stack) >= MAX_DEPTH:
            self._fatal(line, f"nested more than {MAX_DEPTH} levels deep")
        is_map = isinstance(ev, yaml.MappingStartEvent)
        loc = self._loc_of_next()
        keep = self._keeping()
        if self._at_key():
            if keep:
                kind = "mapping" if is_map else "list"
                self._bad_key(line, f"a key must be a plain name, not a {kind}")
            keep = False
        elif keep:
            self.lines.setdefault(loc, line)
            if ev.tag not in (None, "!", _CORE + ("map" if is_map else "seq")):
                self._bad(loc, line, _tag_message(ev.tag))
                keep = False
        if ev.anchor:
            self.open_anchors.add(ev.anchor)
        value: dict[str, Any] | list[Any] = {} if is_map else []
        self.stack.append(_Frame(loc, value, ev.anchor, self.count - 1, self.text, keep))

    def _scalar(self, ev: yaml.ScalarEvent, line: int) -> Any:
        tag = ev.tag
        if tag in (None, "!"):
            tag = self.resolver.resolve(yaml.ScalarNode, ev.value, ev.implicit)
        elif tag not in _SCALAR_TAGS:
            self._bad(self._loc_of_next(), line, _tag_message(tag))
            return None
        if tag in (_MERGE, _VALUE):
            return ev.value  # '<<' or '=' as a value: to us, text
        if tag == _CORE + "str" and _is_number(ev.value):
            self.number_text[self._loc_of_next()] = bool(ev.style)  # plain: None or ''
        node = yaml.ScalarNode(tag, ev.value, ev.start_mark, ev.end_mark, ev.style)
        try:
            return self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            reason = getattr(exc, "problem", None) or str(exc)
            self._bad(self._loc_of_next(), line, f"cannot read '{ev.value}': {reason}")
            return None

    def _alias(self, name: str, line: int) -> None:
        value: Any = None
        size = (1, 0)
        problem = None
        if name in self.open_anchors:
            problem = f"alias '*{name}' refers to a value that contains it"
        elif name not in self.anchors:
            problem = f"alias '*{name}' has no anchor '&{name}' before it"
        else:
            value, *size = self.anchors[name]
        self._grow(*size, line)
        if self._at_key():
            if problem is None and not isinstance(value, str):
                problem = "a key must be a plain name, not a list or a mapping"
            self._key(value if problem is None else None, problem, line)
            return
        if problem is not None:
            self._bad(self._loc_of_next(), line, problem)
        self._attach(value, line, None, size)

    # -- where a node goes -----------------------------------------------------------------

    def _at_key(self) -> bool:
        return (
            bool(self.stack)
            and isinstance(self.stack[-1].value, dict)
            and self.stack[-1].expect_key
        )

    def _keeping(self) -> bool:
        """Is the node being read stored (not inside a refused node, not a dropped key's value)?"""
        if not self.stack:
            return True
        top = self.stack[-1]
        if not top.keep:
            return False
        return isinstance(top.value, list) or top.expect_key or top.key is not None

    def _loc_of_next(self) -> Loc:
        """The location the node being read will take."""
        if not self.stack:
            return ()
        top = self.stack[-1]
        if isinstance(top.value, list):
            return (*top.loc, len(top.value))
        if top.expect_key or top.key is None:
            return top.loc
        return (*top.loc, top.key)

    def _attach(
        self, value: Any, line: int | None, anchor: str | None, size: tuple[int, int]
    ) -> None:
        """Store a value (not a key) read at `line` (None: a collection, located when opened);
        `size`: the values and characters it stands for."""
        if anchor:
            self.anchors[anchor] = (value, *size)
        keep = self._keeping()
        if not self.stack:
            self.root, self.done = value, True
            if line is not None:
                self.lines.setdefault((), line)
            return
        top = self.stack[-1]
        if isinstance(top.value, list):
            if keep:
                if line is not None:
                    self.lines.setdefault((*top.loc, len(top.value)), line)
                top.value.append(value)
            return
        if keep and top.key is not None:
            top.value[top.key] = value
        top.expect_key, top.key = True, None

    def _key(self, text: str | None, problem: str | None, line: int) -> None:
        """The next key of the top mapping: `text`, or None when it cannot be used."""
        top = self.stack[-1]
        top.expect_key, top.key = False, None
        if not top.keep:
            return
        if problem is not None:
            self._bad_key(line, problem)
            return
        if text is None:
            return
        key_loc = (*top.loc, text)
        if text in top.value:
            self.problems.append(
                Problem(
                    str(self.path),
                    line,
                    format_loc(key_loc),
                    f"duplicate key '{text}' (first at line {self.lines[key_loc]})",
                )
            )
            return
        self.lines[key_loc] = line
        top.key = text

    def _key_problem(self, ev: yaml.ScalarEvent) -> str | None:
        """Why a scalar cannot be a key, or None. Its text is the key: YAML would read `on` or
        `1` as other types, but as a key it is only a name."""
        if ev.tag not in (None, "!") and ev.tag not in _SCALAR_TAGS:
            return _tag_message(ev.tag)
        plain = ev.tag is None and ev.implicit[0]
        if plain and self.resolver.resolve(yaml.ScalarNode, ev.value, ev.implicit) == _MERGE:
            return "merge keys ('<<: *anchor') are not supported; write the keys out in full"
        return None

    # -- problems --------------------------------------------------------------------------

    def _bad_key(self, line: int, message: str) -> None:
        top = self.stack[-1]
        self.problems.append(Problem(str(self.path), line, format_loc(top.loc), message))
        self.partial.add(top.loc)

    def _bad(self, loc: Loc, line: int, message: str) -> None:
        if not self._keeping():
            return  # inside something already refused
        self.problems.append(Problem(str(self.path), line, format_loc(loc), message))
        self.broken.add(loc)

    def _grow(self, values: int, chars: int, line: int) -> None:
        self.count += values
        self.text += chars
        if self.count > MAX_VALUES:
            self._fatal(
                line,
                f"the document holds more than {MAX_VALUES:,} values (counting what each alias "
                "stands for); configuration files are limited to that",
            )
        if self.text > MAX_TEXT:
            self._fatal(
                line,
                f"the document holds more than {MAX_TEXT:,} characters of text (counting what "
                "each alias stands for); configuration files are limited to that",
            )

    def _fatal(self, line: int, message: str) -> None:
        raise ConfigError([*self.problems, Problem(str(self.path), line, "", message)])


def _tag_message(tag: str) -> str:
    shown = "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag
    return f"the tag '{shown}' is not supported: remove it (plain values, lists and mappings only)"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
