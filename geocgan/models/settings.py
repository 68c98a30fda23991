"""A model's settings, read off its config dataclass: types, choices, defaults and help.

The command line is built from these, so a new model's settings reach ``geocgan train --set
key=value`` and ``geocgan models NAME`` with no code in the CLI: the choices come from the
field's type (``Literal[...]``, ``bool``, numbers, lists), the help from the ``Parameters``
section of the config's numpy-style docstring.
"""

from __future__ import annotations

import re
import typing
from dataclasses import MISSING, dataclass, fields
from typing import Any, Literal

from geocgan.errors import InputError


@dataclass(frozen=True)
class Setting:
    name: str
    kind: str  # "bool" | "int" | "float" | "str" | "list[float]" | "list[int]" | "choice"
    default: Any
    choices: tuple = ()
    help: str = ""

    def parse(self, text: str) -> Any:
        """The value of ``text`` for this setting; ``InputError`` naming what is valid."""
        t = text.strip()
        try:
            if self.kind == "choice":
                if t not in self.choices:
                    raise ValueError
                return t
            if self.kind == "bool":
                low = t.lower()
                if low not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError
                return low in ("true", "1", "yes")
            if self.kind == "int":
                return int(t)
            if self.kind == "float":
                return float(t)
            if self.kind.startswith("list"):
                item = int if self.kind == "list[int]" else float
                return [item(v) for v in t.split(",") if v.strip()]
            return t
        except ValueError:
            want = {
                "choice": f"one of {', '.join(self.choices)}",
                "bool": "true or false",
                "int": "an integer",
                "float": "a number",
                "list[float]": "numbers separated by commas",
                "list[int]": "integers separated by commas",
            }.get(self.kind, "text")
            raise InputError(f"setting {self.name}={text!r}: give {want}") from None


def _param_help(doc: str) -> dict[str, str]:
    """``name -> first sentence of its description`` from a numpy-style Parameters section."""
    out: dict[str, str] = {}
    section = doc.split("Parameters\n", 1)[-1] if doc else ""
    current: list[str] = []
    for line in section.splitlines():
        m = re.match(r"^    (\w[\w, ]*?)\s*(:.*)?$", line)
        if m and not line.startswith("        "):
            current = [n.strip() for n in m.group(1).split(",")]
            continue
        text = line.strip()
        if text and current:
            for name in current:
                out[name] = (out.get(name, "") + " " + text).strip()
    return {k: v.split(". ")[0].rstrip(".") + "." for k, v in out.items()}


def settings(config_class: type) -> dict[str, Setting]:
    """The settings of ``config_class`` (a dataclass), by name."""
    hints = typing.get_type_hints(config_class)
    helps = _param_help(config_class.__doc__ or "")
    out = {}
    for f in fields(config_class):
        t = hints[f.name]
        default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
        origin, args = typing.get_origin(t), typing.get_args(t)
        choices: tuple = ()
        if origin is Literal:
            kind, choices = "choice", tuple(str(a) for a in args)
        elif t is bool:
            kind = "bool"
        elif t is int:
            kind = "int"
        elif t is float:
            kind = "float"
        elif origin is list:
            kind = "list[int]" if args and args[0] is int else "list[float]"
        else:
            kind = "str"
        out[f.name] = Setting(f.name, kind, default, choices, helps.get(f.name, ""))
    return out


def apply_settings(config_class: type, base: dict, assignments: list[str], model: str) -> dict:
    """``base`` with ``key=value`` ``assignments`` applied, typed by ``config_class``; an
    unknown key or a value of the wrong type raises ``InputError`` listing what is valid."""
    known = settings(config_class)
    out = dict(base)
    for text in assignments:
        key, sep, value = text.partition("=")
        key = key.strip().replace("-", "_")
        if not sep:
            raise InputError(f"--set {text!r}: write KEY=VALUE, e.g. --set {next(iter(known))}=...")
        if key not in known:
            raise InputError(
                f"{key!r} is not a setting of model {model!r}; its settings are: "
                f"{', '.join(known)} (`geocgan models {model}` describes them)"
            )
        out[key] = known[key].parse(value)
    return out
