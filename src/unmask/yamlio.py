"""Reading the YAML files users write (suites, policies): strict, so that a typo cannot change a result.

PyYAML keeps the last of two equal keys and reads `true` where a number was meant; a second
`tolerated_gap:` appended to a policy would then silently loosen the gate. Here a duplicate key,
a file that is not UTF-8, an empty file, a root that is not a mapping and absurdly deep or large
documents are all errors naming the file and the line.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError

MAX_DEPTH = 24
"""Deeper nesting than any suite or policy needs; PyYAML itself recurses and would overflow."""
MAX_NODES = 200_000


def read_text(path: Path) -> str:
    """The file as UTF-8 text; a bad byte is an error naming its line."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(f"byte 0x{raw[exc.start]:02x} is not UTF-8", path=path, line=line,
                         fix="save the file as UTF-8") from None


def load_mapping(path: Path, *, start: str) -> tuple[dict[str, Any], yaml.Node]:
    """Parse a YAML file whose root must be a non-empty mapping; returns the data and its node tree
    (for `line_of`). `start` is the line the fix suggests for an empty or non-mapping file."""
    text = read_text(path)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.reader.ReaderError as exc:  # a control character: point at its line
        line = text[: exc.position].count("\n") + 1
        raise InputError(f"character {exc.character!r} is not allowed in YAML", path=path, line=line,
                         fix="remove the control character (or save the file as plain text)") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"not valid YAML ({getattr(exc, 'problem', None) or exc})", path=path,
                         line=mark.line + 1 if mark else None, fix="check indentation and quoting") from None
    except RecursionError:
        raise InputError(f"nesting deeper than {MAX_DEPTH} levels", path=path,
                         fix="flatten the file; no unmask file nests this deep") from None
    if node is None:
        raise InputError("the file is empty (or holds only comments)", path=path, line=1, fix=f"start with '{start}'")
    if not isinstance(node, yaml.MappingNode):
        raise InputError("the top level must be a mapping of keys to values", path=path,
                         line=node.start_mark.line + 1, fix=f"start with '{start}'")
    _check_tree(node, path)
    data = yaml.SafeLoader("").construct_document(node)
    if not isinstance(data, dict):  # a merge key can still produce odd shapes
        raise InputError("the top level must be a mapping of keys to values", path=path, line=1,
                         fix=f"start with '{start}'")
    return data, node


def _check_tree(root: yaml.Node, path: Path) -> None:
    """Duplicate keys, depth and size, without recursion (so a hostile file cannot overflow the stack)."""
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    seen = 0
    while stack:
        node, depth = stack.pop()
        seen += 1
        if depth > MAX_DEPTH:
            raise InputError(f"nesting deeper than {MAX_DEPTH} levels", path=path, line=node.start_mark.line + 1,
                             fix="flatten the file; no unmask file nests this deep")
        if seen > MAX_NODES:
            raise InputError(f"more than {MAX_NODES} values (or aliases expanding to them)", path=path,
                             fix="shorten the file")
        if isinstance(node, yaml.MappingNode):
            keys: dict[str, int] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    line = key.start_mark.line + 1
                    if key.value in keys:
                        raise InputError(f"key {key.value!r} appears twice (first on line {keys[key.value]})",
                                         path=path, line=line, field=key.value,
                                         fix="keep one of them: YAML would silently use the last")
                    keys[key.value] = line
                stack.append((value, depth + 1))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, depth + 1) for item in node.value)


def line_of(node: yaml.Node | None, loc: Sequence[int | str]) -> int | None:
    """The line a validation error's location points at: walk the node tree; the deepest node found wins."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == key), None)
            if match is None:
                return line
            key_node, node = match
            line = key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            break
    return line
