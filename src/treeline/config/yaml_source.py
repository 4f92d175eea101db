"""YAML loading that remembers the line of every key, so errors can point at it."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from treeline.errors import ConfigError, Problem, suggest

Loc = tuple[str | int, ...]


class LocatedYaml:
    """A parsed YAML document plus the 1-based line of each location (path of keys/indexes)."""

    def __init__(self, path: Path, data: Any, lines: dict[Loc, int]):
        self.path = path
        self.data = data
        self.lines = lines

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
    """Parse `path`; syntax errors and duplicate keys become a ConfigError with the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError.single(path, None, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError.single(path, None, "", f"cannot read: {exc}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError.single(path, line, "", f"YAML syntax error: {problem}") from None
    lines: dict[Loc, int] = {}
    problems: list[Problem] = []
    constructor = yaml.SafeLoader("")
    if node is None:
        raise ConfigError.single(path, 1, "", "the file is empty")

    def build(n: yaml.Node, loc: Loc) -> Any:
        lines.setdefault(loc, n.start_mark.line + 1)
        if isinstance(n, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in n.value:
                key = constructor.construct_object(key_node, deep=True)
                key_loc = (*loc, key)
                if key in out:
                    problems.append(
                        Problem(
                            str(path),
                            key_node.start_mark.line + 1,
                            format_loc(key_loc),
                            f"duplicate key '{key}' (first at line {lines[key_loc]})",
                        )
                    )
                    continue
                lines[key_loc] = key_node.start_mark.line + 1
                out[key] = build(value_node, key_loc)
            return out
        if isinstance(n, yaml.SequenceNode):
            return [build(item, (*loc, i)) for i, item in enumerate(n.value)]
        return constructor.construct_object(n, deep=True)

    data = build(node, ())
    if problems:
        raise ConfigError(problems)
    return LocatedYaml(path, data, lines)


def pydantic_problems(src: LocatedYaml, exc: Any, key_choices: Iterable[str] = ()) -> list[Problem]:
    """Turn a pydantic ValidationError into located problems (rule + bad value)."""
    out = []
    key_choices = sorted(set(key_choices))
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and _is_union_tag(p)))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = f"unknown key '{loc[-1]}'{suggest(str(loc[-1]), key_choices)}"
        elif err["type"] == "missing":
            msg = "required field is missing"
        elif "input" in err and err["type"] not in ("missing",):
            msg = f"{msg}, got {err['input']!r}"
        out.append(src.problem(loc, msg))
    return out


def _is_union_tag(part: str) -> bool:
    # pydantic inserts the member type name into the loc of union errors ("str", "DatasetEntry").
    return part in {"str", "int", "float", "bool"} or part[:1].isupper() or "[" in part
