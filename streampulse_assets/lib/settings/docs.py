"""The README's environment-variable tables, generated from the settings tree.

    python -m streampulse_assets.lib.settings.docs          rewrite them in README.md
    python -m streampulse_assets.lib.settings.docs --check  exit 1 if README.md has drifted

One table per group (its docstring's first line is the heading), one row per variable, in the
tree's order. The tables sit between the BEGIN/END markers; the text around them is the README's.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo

from streampulse_assets.lib.services.paths import REPO_ROOT
from streampulse_assets.lib.settings import Settings
from streampulse_assets.lib.settings.base import Group, env_name, is_group

README = REPO_ROOT / "README.md"
BEGIN = (
    "<!-- BEGIN settings tables: generated from lib/settings/ by "
    "`python -m streampulse_assets.lib.settings.docs`; edit the tree, not this table -->"
)
END = "<!-- END settings tables -->"


def title(cls: type[Group]) -> str:
    return (cls.__doc__ or cls.__name__).strip().splitlines()[0].rstrip(".")


def shown_default(field: FieldInfo) -> str:
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    if "shown_default" in extra:
        return str(extra["shown_default"])
    value: Any = field.get_default(call_default_factory=True)
    if value is None or value == {} or value == "":
        return "–"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`"


def tables(cls: type[Group] = Settings) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """(heading, [(variable, default, meaning)]) per group that declares variables."""
    rows = []
    nested = []
    for name, field in cls.model_fields.items():
        if is_group(field.annotation):
            nested.append(field.annotation)
        else:
            meaning = (field.description or "").replace("|", "\\|")
            rows.append((f"`{env_name(cls, name)}`", shown_default(field), meaning))
    found = [(title(cls), rows)] if rows else []
    for child in nested:
        found += tables(child)
    return found


def render() -> str:
    parts = [BEGIN]
    for heading, rows in tables():
        parts += [
            "",
            f"**{heading}**",
            "",
            "| variable | default | meaning |",
            "| --- | --- | --- |",
        ]
        parts += [f"| {var} | {default} | {meaning} |" for var, default, meaning in rows]
    return "\n".join([*parts, "", END])


def current(text: str) -> str:
    """The generated block as it stands in `text` (empty if the markers are missing)."""
    start, end = text.find(BEGIN), text.find(END)
    return text[start : end + len(END)] if 0 <= start < end else ""


def update(text: str) -> str:
    block = current(text)
    if not block:
        raise ValueError(f"README.md has no settings markers ({BEGIN!r} ... {END!r})")
    return text.replace(block, render())


def main(argv: list[str] | None = None, readme: Path = README) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = readme.read_text()
    if "--check" in args:
        if current(text) != render():
            print(f"{readme} is out of date: run python -m streampulse_assets.lib.settings.docs")
            return 1
        return 0
    readme.write_text(update(text))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
