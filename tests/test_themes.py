"""Theme files: fwtop's own themes, users' theme files, and what they look like in 256
and 16 colours and under NO_COLOR."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.color import Color as RichColor
from rich.color import ColorSystem as RichColorSystem
from textual.app import App, ComposeResult
from textual.color import Color
from textual.theme import Theme
from textual.widgets import Footer, Static

from fwtop.tui.themes import (
    BUILTIN_DIR,
    DEFAULT_THEME,
    USER_DIR,
    ThemeFileError,
    load_themes,
    theme_from_toml,
    theme_names,
)
from fwtop.workloads.errors import UserError

BUILTIN_NAMES = {"fwtop-dark", "fwtop-light", "fwtop-contrast"}

# The contrast theme's colours: hex -> the ANSI colour Rich (and so Textual) picks for it
# in a 16-colour terminal. Each is exact in the xterm 256-colour cube.
CONTRAST_PALETTE = {
    "#000000": 0,  # black
    "#0000ff": 4,  # blue, only as a background under white text
    "#ff5f5f": 9,  # bright red
    "#5fff5f": 10,  # bright green
    "#ffff00": 11,  # bright yellow
    "#ff5fff": 13,  # bright magenta
    "#00ffff": 14,  # bright cyan
    "#ffffff": 15,  # bright white
}

# (foreground variable, background variable, lowest contrast ratio) for what fwtop
# draws: title bar, panel text, state line, charts, device strip, help, footer, borders.
PAIRS = [
    ("text", "primary-background", 4.5),
    ("foreground", "background", 4.5),
    ("text", "surface", 4.5),
    ("foreground", "boost", 4.5),
    ("text-muted", "background", 3.0),
    ("text-muted", "boost", 3.0),
    ("error", "background", 3.0),
    ("success", "background", 3.0),
    ("warning", "background", 3.0),
    ("accent", "background", 3.0),
    ("secondary", "background", 3.0),
    ("footer-key-foreground", "footer-background", 3.0),
    ("footer-description-foreground", "footer-background", 4.5),
    ("panel-lighten-2", "background", 1.5),
]
STATUS = ["error", "success", "warning", "accent", "secondary"]


def builtins() -> dict[str, Theme]:
    themes, errors = load_themes(None)
    assert errors == []
    return {t.name: t for t in themes}


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


GOOD = """
name = "{name}"
dark = false
[colors]
primary = "{primary}"
accent = "orange"
[variables]
text-muted = "auto 70%"
border = "#ff0000 50%"
block-cursor-text-style = "bold reverse"
"""


# -- resolving colours the way Textual does --------------------------------------------


def resolve(variables: dict[str, str], name: str, under: Color) -> Color:
    """The opaque colour ``$name`` paints over ``under``."""
    match = re.match(r"^(\S+)(?:\s+(\d+(?:\.\d+)?)%)?$", variables[name].strip())
    assert match, variables[name]
    alpha = float(match[2] or 100) / 100
    if match[1] == "auto":
        return under + under.get_contrast_text(alpha)
    return under + Color.parse(match[1]).multiply_alpha(alpha)


def downgrade(color: Color, system: RichColorSystem) -> RichColor:
    return RichColor.from_rgb(color.r, color.g, color.b).downgrade(system)


def luminance(color: Color) -> float:
    def channel(c: int) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(color.r) + 0.7152 * channel(color.g) + 0.0722 * channel(color.b)


def contrast(a: Color, b: Color) -> float:
    hi, lo = sorted([luminance(a), luminance(b)], reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def in_256(color: Color) -> Color:
    return Color(*downgrade(color, RichColorSystem.EIGHT_BIT).get_truecolor())


def pairs(theme: Theme):
    variables = theme.to_color_system().generate()
    background = Color.parse(variables["background"])
    for fg, bg, need in PAIRS:
        under = resolve(variables, bg, background)
        yield fg, bg, need, resolve(variables, fg, under), under


# -- fwtop's own themes -----------------------------------------------------------------


def test_builtin_themes_load_with_distinct_names():
    themes, errors = load_themes(None)
    assert errors == []
    names = theme_names(themes)
    assert set(names) == BUILTIN_NAMES and len(names) == len(set(names))
    assert DEFAULT_THEME in names
    assert all(isinstance(t, Theme) for t in themes)
    assert {p.stem for p in BUILTIN_DIR.glob("*.toml")} == BUILTIN_NAMES
    for path in BUILTIN_DIR.glob("*.toml"):
        assert theme_from_toml(path).name == path.stem
    assert builtins()["fwtop-light"].dark is False
    assert builtins()["fwtop-dark"].dark is True


def test_user_dir_follows_xdg_config_home():
    assert USER_DIR.parts[-2:] == ("fwtop", "themes")
    assert "~" not in str(USER_DIR)


class ThemedApp(App):
    """The variables fwtop's screen uses, on the real app's and panel's CSS."""

    def compose(self) -> ComposeResult:
        yield Static("fwtop", id="topbar")
        yield Static("FAILED", id="failed")
        yield Static("muted", id="muted")
        yield Footer()


def themed_app() -> ThemedApp:
    from fwtop.tui.app import FwtopApp
    from fwtop.tui.panel import WorkloadPanel

    class App_(ThemedApp):
        CSS = (
            FwtopApp.CSS
            + WorkloadPanel.DEFAULT_CSS
            + """
            #failed { color: $error; background: $boost; border: round $panel-lighten-2; }
            #muted { color: $text-muted; background: $surface; border: round $accent; }
            """
        )

    return App_()


async def test_each_builtin_theme_applies_in_a_real_app():
    themes = builtins()
    app = themed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        for theme in themes.values():
            app.register_theme(theme)
        for name, theme in themes.items():
            app.theme = name
            await pilot.pause()
            assert app.current_theme.name == name
            variables = theme.to_color_system().generate()
            failed = app.query_one("#failed")
            assert failed.styles.color == Color.parse(variables["error"])
        assert name in app.available_themes
    # a theme that breaks the CSS only raises here, when the test app exits


# -- users' theme files -----------------------------------------------------------------

BROKEN = {
    # file name: (contents, the key its error line names)
    "bad-toml.toml": ('name = "x"\n[colors\nprimary = "#fff"\n', "not valid TOML"),
    "unknown-top.toml": ('name = "x"\ncolour = 1\n[colors]\nprimary = "#fff"\n', "colour: unknown key"),
    "unknown-color.toml": ('name = "x"\n[colors]\nprimary = "#fff"\nprimery = "#000"\n', "colors.primery: unknown key"),
    "bad-colour.toml": (
        'name = "x"\n[colors]\nprimary = "#fff"\naccent = "#12345"\n',
        "colors.accent: '#12345' is not",
    ),
    "named-colour.toml": ('name = "x"\n[colors]\nprimary = "bleu"\n', "colors.primary: 'bleu' is not"),
    "wrong-type.toml": ('name = "x"\ndark = "yes"\n[colors]\nprimary = "#fff"\n', "dark: expected true or false"),
    "colour-type.toml": ('name = "x"\n[colors]\nprimary = 255\n', "colors.primary: expected a colour string"),
    "missing-name.toml": ('[colors]\nprimary = "#fff"\n', "name: missing"),
    "missing-primary.toml": ('name = "x"\n[colors]\naccent = "#fff"\n', "colors.primary: missing"),
    "no-colors.toml": ('name = "x"\n', "colors.primary: missing"),
    "bad-variable.toml": (
        'name = "x"\n[colors]\nprimary = "#fff"\n[variables]\nboost = "auto 50%"\n',
        "variables.boost:",
    ),
    "bad-style.toml": (
        'name = "x"\n[colors]\nprimary = "#fff"\n[variables]\nlink-style = "wavy"\n',
        "variables.link-style: 'wavy' is not a text style",
    ),
    "unknown-variable.toml": (
        'name = "x"\n[colors]\nprimary = "#fff"\n[variables]\ntext-mutd = "#fff"\n',
        "variables.text-mutd: unknown variable",
    ),
    "not-utf8.toml": (None, "not valid TOML"),
}


def test_good_user_theme_loads_and_each_broken_file_gives_one_error_line(tmp_path):
    good = write(tmp_path, "mine.toml", GOOD.format(name="mine", primary="#336699"))
    write(tmp_path, "notes.txt", "not a theme")
    for file, (text, _) in BROKEN.items():
        if text is None:
            (tmp_path / file).write_bytes(b'name = "\xff"\n')
        else:
            write(tmp_path, file, text)

    themes, errors = load_themes(tmp_path)

    names = theme_names(themes)
    assert set(names) == BUILTIN_NAMES | {"mine"}
    mine = themes[names.index("mine")]
    assert (mine.primary, mine.accent, mine.dark) == ("#336699", "orange", False)
    assert mine.variables["border"] == "#ff0000 50%"
    assert not any(str(good) in e for e in errors)

    assert len(errors) == len(BROKEN), "\n".join(errors)
    for file, (_, key) in BROKEN.items():
        lines = [e for e in errors if e.startswith(f"{tmp_path / file}: ")]
        assert len(lines) == 1, (file, errors)
        assert key in lines[0], lines[0]
        assert "\n" not in lines[0]


def test_theme_from_toml_names_the_file_and_every_bad_key(tmp_path):
    path = write(tmp_path, "t.toml", 'name = 3\ndark = 1\n[colors]\nprimary = "nope"\nsurfce = "#000"\n')
    with pytest.raises(ThemeFileError) as info:
        theme_from_toml(path)
    err = info.value
    assert isinstance(err, UserError)  # the CLI prints it as one line
    assert str(err).startswith(f"{path}: name: expected a string")
    assert [p.split(":")[0] for p in err.problems] == ["name", "dark", "colors.primary", "colors.surfce"]
    assert "did you mean 'surface'?" in str(err)

    with pytest.raises(ThemeFileError, match="cannot read"):
        theme_from_toml(tmp_path / "absent.toml")


def test_boost_is_kept_even_with_a_panel_colour(tmp_path):
    # Textual drops Theme.boost when panel is set or the theme is light.
    path = write(tmp_path, "b.toml", 'name = "b"\n[colors]\nprimary = "#fff"\npanel = "#222222"\nboost = "#ff000020"\n')
    assert theme_from_toml(path).to_color_system().generate()["boost"].lower() == "#ff000020"


def test_user_theme_overrides_a_builtin(tmp_path):
    write(tmp_path, "my-dark.toml", GOOD.format(name=DEFAULT_THEME, primary="#123456"))
    themes, errors = load_themes(tmp_path)
    assert errors == []
    names = theme_names(themes)
    assert names.count(DEFAULT_THEME) == 1 and len(names) == len(BUILTIN_NAMES)
    assert themes[names.index(DEFAULT_THEME)].primary == "#123456"


def test_two_user_files_with_one_name_report_the_second(tmp_path):
    write(tmp_path, "a.toml", GOOD.format(name="same", primary="#111111"))
    second = write(tmp_path, "b.toml", GOOD.format(name="same", primary="#222222"))
    themes, errors = load_themes(tmp_path)
    assert [t.primary for t in themes if t.name == "same"] == ["#111111"]
    assert len(errors) == 1 and errors[0].startswith(f"{second}: name: ")


def test_missing_or_odd_user_dir(tmp_path):
    assert load_themes(tmp_path / "absent") == load_themes(None)
    not_a_dir = write(tmp_path, "themes", "")
    themes, errors = load_themes(not_a_dir)
    assert set(theme_names(themes)) == BUILTIN_NAMES
    assert errors == [f"{not_a_dir}: not a folder"]


async def test_a_user_theme_applies_in_a_real_app(tmp_path):
    write(tmp_path, "mine.toml", GOOD.format(name="mine", primary="#336699"))
    themes, _ = load_themes(tmp_path)
    app = themed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        for theme in themes:
            app.register_theme(theme)
        app.theme = "mine"
        await pilot.pause()
        assert app.current_theme.name == "mine"


# -- colours ----------------------------------------------------------------------------


def test_contrast_theme_uses_only_its_16_colour_palette():
    for hex_, ansi in CONTRAST_PALETTE.items():
        color = Color.parse(hex_)
        assert downgrade(color, RichColorSystem.STANDARD).number == ansi, hex_
        assert in_256(color).hex.lower() == hex_, hex_  # exact in 256 colours

    theme = builtins()["fwtop-contrast"]
    declared = [
        getattr(theme, k)
        for k in ("primary", "secondary", "accent", "warning", "error", "success", "foreground")
        + ("background", "surface", "panel", "boost")
    ]
    declared += [v for k, v in theme.variables.items() if not k.endswith("style")]
    assert None not in declared
    assert {c.lower() for c in declared} <= set(CONTRAST_PALETTE)

    # What Textual derives (and what the terminal gets) stays on the palette too.
    wanted = {(downgrade(Color.parse(h), RichColorSystem.EIGHT_BIT).number, a) for h, a in CONTRAST_PALETTE.items()}
    for fg, bg, _, color, under in pairs(theme):
        for name, c in ((fg, color), (bg, under)):
            got = (downgrade(c, RichColorSystem.EIGHT_BIT).number, downgrade(c, RichColorSystem.STANDARD).number)
            assert got in wanted, (name, c.hex, got)
        assert contrast(color, under) >= 4.5, (fg, bg)


@pytest.mark.parametrize("name", sorted(BUILTIN_NAMES))
def test_builtin_theme_reads_in_truecolor_256_and_16_colours(name):
    theme = builtins()[name]
    for fg, bg, need, color, under in pairs(theme):
        assert contrast(color, under) >= need, (fg, bg, color.hex, under.hex)
        assert contrast(in_256(color), in_256(under)) >= need, (fg, bg, "256")
        assert contrast(color.monochrome, under.monochrome) >= need, (fg, bg, "NO_COLOR")
        fg16 = downgrade(color, RichColorSystem.STANDARD).number
        bg16 = downgrade(under, RichColorSystem.STANDARD).number
        assert fg16 != bg16, (fg, bg, "16 colours", fg16)
    # the status colours and charts stay apart in 16 colours
    variables = theme.to_color_system().generate()
    background = Color.parse(variables["background"])
    ansi = [downgrade(resolve(variables, s, background), RichColorSystem.STANDARD).number for s in STATUS]
    assert len(set(ansi)) == len(STATUS), dict(zip(STATUS, ansi, strict=True))


async def test_every_theme_renders_under_no_color(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")  # Textual reads it when the App is created
    app = themed_app()
    assert app.no_color
    async with app.run_test(size=(80, 24)) as pilot:
        for theme in builtins().values():
            app.register_theme(theme)
            app.theme = theme.name
            await pilot.pause()
            update = app.screen._compositor.render_update(full=True)
            colors = {
                c.get_truecolor()
                for line in update.strips
                for strip in line
                for seg in strip
                if seg.style is not None
                for c in (seg.style.color, seg.style.bgcolor)
                if c is not None
            }
            assert colors, theme.name
            # Textual's NO_COLOR filter turns every colour to a grey of its luminance
            assert all(c.red == c.green == c.blue for c in colors), (theme.name, colors)
