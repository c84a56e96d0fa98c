"""Theme files: TOML in, Textual ``Theme`` out.

fwtop's own themes live in the ``fwtop.themes`` package (the repository's ``themes/``
folder); a user's live in ``$XDG_CONFIG_HOME/fwtop/themes`` (default
``~/.config/fwtop/themes``). The format is described at the top of
``themes/fwtop-dark.toml``::

    name = "my-theme"
    dark = true
    [colors]        # primary, secondary, accent, warning, error, success,
                    # foreground, background, surface, panel, boost; primary is required
    [variables]     # optional Textual CSS variables, as strings

Every problem is reported as ``FILE: KEY: problem``. ``load_themes`` never raises for
a bad file: it skips it and returns one error line for it, so that the app can show
them all in one notification and carry on with the themes that did load.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from textual.color import Color, ColorParseError
from textual.css.constants import VALID_STYLE_FLAGS
from textual.design import ColorSystem
from textual.theme import Theme

import fwtop.themes
from fwtop.session.config import type_name
from fwtop.workloads.errors import UserError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10
    import tomli as tomllib

BUILTIN_DIR = Path(fwtop.themes.__file__).resolve().parent
USER_DIR = Path(os.environ.get("XDG_CONFIG_HOME") or "~/.config").expanduser() / "fwtop" / "themes"
DEFAULT_THEME = "fwtop-dark"

TOP_KEYS = ("name", "dark", "colors", "variables")
COLOR_KEYS = (
    "primary",
    "secondary",
    "accent",
    "warning",
    "error",
    "success",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)

# "#ff0000", "#ff0000 50%", "auto 87%": a colour with an optional opacity.
_COLOR_EXPR = re.compile(r"^(?P<color>\S+)(?:\s+(?P<percent>\d+(?:\.\d+)?)%)?$")


class ThemeFileError(UserError):
    """A theme file fwtop cannot use. The message is ``FILE: KEY: problem[; KEY: problem]``."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


@lru_cache(maxsize=1)
def _textual_variables() -> dict[str, str]:
    """Every CSS variable the installed Textual derives from a theme, with a default value."""
    names: dict[str, str] = {}
    for system in (
        ColorSystem(primary="#000000", dark=True),
        ColorSystem(primary="#000000", dark=False),
        ColorSystem(primary="ansi_blue", ansi=True),
    ):
        for name, value in system.generate().items():
            names.setdefault(name, value)
    return names


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _color_problem(text: str) -> str | None:
    """Why ``text`` is not a colour Textual can parse, or None when it is one."""
    try:
        Color.parse(text)
    except (ColorParseError, ValueError) as exc:
        return f"{text!r} is not a colour ({exc})"
    return None


def _variable_problem(name: str, value: str) -> str | None:
    """Why ``value`` would break Textual's CSS where ``name`` is used, or None."""
    if name.endswith("style"):
        bad = [flag for flag in value.split() if flag not in VALID_STYLE_FLAGS]
        if bad or not value.split():
            return f"{value!r} is not a text style (use words from: {', '.join(sorted(VALID_STYLE_FLAGS))})"
        return None
    match = _COLOR_EXPR.match(value.strip())
    if match is None:
        return f"{value!r} is not a colour, or a colour and an opacity such as '#ff0000 50%'"
    color, percent = match["color"], match["percent"]
    default = _textual_variables()[name]
    if color == "auto" and default.startswith("auto"):
        return None  # text colours: black or white, whichever reads on the background
    if color == "initial" and percent is None and default == "initial":
        return None
    if percent is not None and float(percent) > 100:
        return f"{value!r}: the opacity is over 100%"
    return _color_problem(color)


def theme_from_toml(path: Path, checked: bool = True) -> Theme:
    """Read one theme file. Raises ThemeFileError naming the file and every bad key.
    ``checked``: also check the variables against the ones Textual defines and that Textual
    can derive the theme's shades from its colours (each builds Textual's colour system, a
    few milliseconds in all; fwtop's own files skip both at start-up, tests check them)."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise ThemeFileError(path, [f"not valid TOML: {exc}"]) from None
    except UnicodeDecodeError as exc:
        raise ThemeFileError(path, [f"not valid TOML: not UTF-8 text ({exc.reason} at byte {exc.start})"]) from None
    except OSError as exc:
        raise ThemeFileError(path, [f"cannot read: {exc.strerror or exc}"]) from None

    problems: list[str] = []

    for key in data:
        if key not in TOP_KEYS:
            problems.append(f"{key}: unknown key (expected {', '.join(TOP_KEYS)}){_suggest(key, TOP_KEYS)}")

    name = data.get("name")
    if "name" not in data:
        problems.append("name: missing")
    elif not isinstance(name, str):
        problems.append(f"name: expected a string, got {type_name(name)}")
    elif not name.strip() or name != name.strip():
        problems.append(f"name: {name!r} is empty or starts or ends with a space")

    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        problems.append(f"dark: expected true or false, got {type_name(dark)}")

    colors = data.get("colors", {})
    if not isinstance(colors, dict):
        problems.append(f"colors: expected a table ([colors]), got {type_name(colors)}")
        colors = {}
    elif "primary" not in colors:
        problems.append("colors.primary: missing (every theme needs a primary colour)")
    for key, value in colors.items():
        where = f"colors.{key}"
        if key not in COLOR_KEYS:
            problems.append(f"{where}: unknown key (expected {', '.join(COLOR_KEYS)}){_suggest(key, COLOR_KEYS)}")
        elif not isinstance(value, str):
            problems.append(f"{where}: expected a colour string such as '#ff8800', got {type_name(value)}")
        elif (problem := _color_problem(value)) is not None:
            problems.append(f"{where}: {problem}")

    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        problems.append(f"variables: expected a table ([variables]), got {type_name(variables)}")
        variables = {}
    if checked:
        known = _textual_variables() if variables else {}
        for key, value in variables.items():
            where = f"variables.{key}"
            if key not in known:
                problems.append(f"{where}: unknown variable (not one Textual defines){_suggest(key, known)}")
            elif not isinstance(value, str):
                problems.append(f"{where}: expected a string, got {type_name(value)}")
            elif (problem := _variable_problem(key, value)) is not None:
                problems.append(f"{where}: {problem}")

    if problems:
        raise ThemeFileError(path, problems)

    variables = dict(variables)
    if "boost" in colors:
        # Textual ignores Theme.boost when a panel colour is given or the theme is
        # light; the variable always works.
        variables.setdefault("boost", colors["boost"])
    theme = Theme(name=name, dark=dark, variables=variables, **colors)
    try:
        if checked:
            theme.to_color_system().generate()
    except Exception as exc:  # a colour combination Textual cannot derive shades from
        raise ThemeFileError(path, [f"colors: Textual cannot build a theme from these colours ({exc})"]) from None
    return theme


def _theme_files(folder: Path) -> tuple[list[Path], list[str]]:
    if not folder.exists():
        return [], []
    if not folder.is_dir():
        return [], [f"{folder}: not a folder"]
    try:
        return sorted(p for p in folder.glob("*.toml") if not p.is_dir()), []
    except OSError as exc:
        return [], [f"{folder}: cannot read: {exc.strerror or exc}"]


def load_themes(user_dir: Path | None = USER_DIR) -> tuple[list[Theme], list[str]]:
    """fwtop's themes, then the user's; returns (themes, one error line per broken file).

    A broken file is skipped and the rest still load. A user theme with the name of a
    built-in one replaces it (and keeps its place in the list); a second user file
    with a name already used by another user file is reported as broken.
    """
    themes: dict[str, Theme] = {}
    errors: list[str] = []
    for folder in (BUILTIN_DIR, user_dir):
        if folder is None:
            continue
        files, folder_errors = _theme_files(Path(folder))
        errors += folder_errors
        seen: dict[str, Path] = {}
        for path in files:
            try:
                theme = theme_from_toml(path, checked=folder is not BUILTIN_DIR)
            except ThemeFileError as exc:
                errors.append(str(exc))
                continue
            if theme.name in seen:
                errors.append(f"{path}: name: {theme.name!r} is already the name of {seen[theme.name]}")
                continue
            seen[theme.name] = path
            themes[theme.name] = theme
    return list(themes.values()), errors


def theme_names(themes: Iterable[Theme]) -> list[str]:
    """The names of ``themes``, in order (for ``--theme`` choices and messages)."""
    return [theme.name for theme in themes]
