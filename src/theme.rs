//! Themes: built in from `themes/*.toml`, overridable by `CONFIG/themes/NAME.toml`.
//! `NO_COLOR` selects mono. Nothing is told by colour alone: every state also has a
//! symbol and a word (see [`crate::ui::symbols`]).

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;
use std::path::Path;

const BUILTIN: [(&str, &str); 4] = [
    ("dark", include_str!("../themes/dark.toml")),
    ("light", include_str!("../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../themes/high-contrast.toml"),
    ),
    ("mono", include_str!("../themes/mono.toml")),
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThemeFile {
    name: String,
    text: String,
    dim: String,
    accent: String,
    ok: String,
    warn: String,
    bad: String,
    unknown: String,
    selected_fg: String,
    selected_bg: String,
    header_fg: String,
    header_bg: String,
    #[serde(default)]
    bold: bool,
    #[serde(default)]
    mono: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    pub text: Style,
    pub dim: Style,
    pub accent: Style,
    pub ok: Style,
    pub warn: Style,
    pub bad: Style,
    pub unknown: Style,
    pub selected: Style,
    pub header: Style,
}

fn color(s: &str) -> Result<Color, String> {
    if s == "reset" {
        return Ok(Color::Reset);
    }
    s.parse::<Color>()
        .map_err(|_| format!("`{s}` is not a colour"))
}

impl Theme {
    fn from_file(f: ThemeFile) -> Result<Theme, String> {
        let fg = |s: &str| -> Result<Style, String> { Ok(Style::default().fg(color(s)?)) };
        let bold = |st: Style| {
            if f.bold {
                st.add_modifier(Modifier::BOLD)
            } else {
                st
            }
        };
        let (selected, header) = if f.mono {
            (
                Style::default().add_modifier(Modifier::REVERSED),
                Style::default().add_modifier(Modifier::REVERSED),
            )
        } else {
            (
                Style::default()
                    .fg(color(&f.selected_fg)?)
                    .bg(color(&f.selected_bg)?),
                Style::default()
                    .fg(color(&f.header_fg)?)
                    .bg(color(&f.header_bg)?),
            )
        };
        Ok(Theme {
            name: f.name.clone(),
            text: fg(&f.text)?,
            dim: if f.mono {
                Style::default()
            } else {
                fg(&f.dim)?
            },
            accent: bold(fg(&f.accent)?).add_modifier(if f.mono {
                Modifier::BOLD
            } else {
                Modifier::empty()
            }),
            ok: bold(fg(&f.ok)?),
            warn: bold(fg(&f.warn)?),
            bad: bold(fg(&f.bad)?).add_modifier(if f.mono {
                Modifier::BOLD
            } else {
                Modifier::empty()
            }),
            unknown: bold(fg(&f.unknown)?),
            selected,
            header,
        })
    }

    pub fn parse(text: &str) -> Result<Theme, String> {
        let f: ThemeFile = toml::from_str(text).map_err(|e| e.to_string())?;
        Theme::from_file(f)
    }

    /// The theme called `name`: `config_dir/themes/NAME.toml` if present, else built in.
    pub fn load(name: &str, config_dir: Option<&Path>) -> Result<Theme, String> {
        if let Some(dir) = config_dir {
            let p = dir.join("themes").join(format!("{name}.toml"));
            if let Ok(text) = std::fs::read_to_string(&p) {
                return Theme::parse(&text).map_err(|e| format!("{}: {e}", p.display()));
            }
        }
        match BUILTIN.iter().find(|(n, _)| *n == name) {
            Some((_, text)) => Theme::parse(text),
            None => Err(format!(
                "no theme `{name}`; built in: {}",
                BUILTIN
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// `NO_COLOR` (any value) means mono; else the requested theme, else dark.
    pub fn choose(requested: Option<&str>, config_dir: Option<&Path>) -> Result<Theme, String> {
        if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            return Theme::load("mono", config_dir);
        }
        Theme::load(requested.unwrap_or("dark"), config_dir)
    }

    pub fn mono() -> Theme {
        Theme::parse(BUILTIN[3].1).expect("the built-in mono theme parses")
    }
}

/// The RGB an xterm shows for a colour: its default 16-colour palette, the 6×6×6 cube and
/// the grey ramp of the 256-colour palette, or the colour itself. `Reset` is the
/// terminal's own, which the caller decides.
pub fn xterm_rgb(c: Color) -> Option<(u8, u8, u8)> {
    const ANSI: [(u8, u8, u8); 16] = [
        (0x00, 0x00, 0x00),
        (0xcd, 0x00, 0x00),
        (0x00, 0xcd, 0x00),
        (0xcd, 0xcd, 0x00),
        (0x00, 0x00, 0xee),
        (0xcd, 0x00, 0xcd),
        (0x00, 0xcd, 0xcd),
        (0xe5, 0xe5, 0xe5),
        (0x7f, 0x7f, 0x7f),
        (0xff, 0x00, 0x00),
        (0x00, 0xff, 0x00),
        (0xff, 0xff, 0x00),
        (0x5c, 0x5c, 0xff),
        (0xff, 0x00, 0xff),
        (0x00, 0xff, 0xff),
        (0xff, 0xff, 0xff),
    ];
    let indexed = |i: u8| -> (u8, u8, u8) {
        match i {
            0..=15 => ANSI[i as usize],
            16..=231 => {
                let level = |v: u8| if v == 0 { 0 } else { 55 + 40 * v };
                let n = i - 16;
                (level(n / 36), level((n / 6) % 6), level(n % 6))
            }
            _ => {
                let g = 8 + 10 * (i - 232);
                (g, g, g)
            }
        }
    };
    Some(match c {
        Color::Reset => return None,
        Color::Black => ANSI[0],
        Color::Red => ANSI[1],
        Color::Green => ANSI[2],
        Color::Yellow => ANSI[3],
        Color::Blue => ANSI[4],
        Color::Magenta => ANSI[5],
        Color::Cyan => ANSI[6],
        Color::Gray => ANSI[7],
        Color::DarkGray => ANSI[8],
        Color::LightRed => ANSI[9],
        Color::LightGreen => ANSI[10],
        Color::LightYellow => ANSI[11],
        Color::LightBlue => ANSI[12],
        Color::LightMagenta => ANSI[13],
        Color::LightCyan => ANSI[14],
        Color::White => ANSI[15],
        Color::Indexed(i) => indexed(i),
        Color::Rgb(r, g, b) => (r, g, b),
    })
}

/// WCAG 2 contrast ratio of two colours (1 to 21).
pub fn contrast(a: (u8, u8, u8), b: (u8, u8, u8)) -> f64 {
    let lum = |(r, g, b): (u8, u8, u8)| {
        let ch = |v: u8| {
            let c = v as f64 / 255.0;
            if c <= 0.03928 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b)
    };
    let (x, y) = (lum(a), lum(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

/// Every foreground/background pair a theme draws, with the contrast ratio of each:
/// each text style on the terminal's background and on a selected row (a row keeps its
/// cells' colours when selected), the selection's own pair and the header's. `term` is
/// the terminal's own (foreground, background) that `reset` stands for.
pub fn pairs(t: &Theme, term: ((u8, u8, u8), (u8, u8, u8))) -> Vec<(String, f64)> {
    let rgb = |c: Option<Color>, default: (u8, u8, u8)| c.and_then(xterm_rgb).unwrap_or(default);
    let sel_bg = rgb(t.selected.bg, term.1);
    let mut out = Vec::new();
    for (name, st) in [
        ("text", t.text),
        ("dim", t.dim),
        ("accent", t.accent),
        ("ok", t.ok),
        ("warn", t.warn),
        ("bad", t.bad),
        ("unknown", t.unknown),
    ] {
        let fg = rgb(st.fg, term.0);
        out.push((format!("{name} on the background"), contrast(fg, term.1)));
        out.push((format!("{name} on a selected row"), contrast(fg, sel_bg)));
    }
    out.push((
        "the selected row".into(),
        contrast(rgb(t.selected.fg, term.0), sel_bg),
    ));
    out.push((
        "the header".into(),
        contrast(rgb(t.header.fg, term.0), rgb(t.header.bg, term.1)),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pair every coloured built-in theme draws reads at 4.5:1 or better (WCAG AA),
    /// computed from xterm's palette. Dark themes assume a light-on-black terminal, the
    /// light theme dark-on-white. (Mono draws no colour: reverse video only.)
    #[test]
    fn every_builtin_theme_has_contrast_of_at_least_4_5() {
        const WHITE: (u8, u8, u8) = (0xff, 0xff, 0xff);
        const GREY: (u8, u8, u8) = (0xe5, 0xe5, 0xe5);
        const BLACK: (u8, u8, u8) = (0, 0, 0);
        let mut low = Vec::new();
        for (name, term) in [
            ("dark", (GREY, BLACK)),
            ("high-contrast", (WHITE, BLACK)),
            ("light", (BLACK, WHITE)),
        ] {
            let t = Theme::load(name, None).unwrap();
            let p = pairs(&t, term);
            let worst = p.iter().map(|x| x.1).fold(f64::INFINITY, f64::min);
            let which = p.iter().find(|x| x.1 == worst).map_or("", |x| x.0.as_str());
            eprintln!("{name}: lowest contrast {worst:.2}:1 ({which})");
            for (what, ratio) in p {
                if ratio < 4.5 {
                    low.push(format!("{name}: {what}: {ratio:.2}:1"));
                }
            }
        }
        assert!(low.is_empty(), "below 4.5:1:\n{}", low.join("\n"));
    }

    #[test]
    fn the_palette_and_the_ratio_are_xterm_s_and_wcag_s() {
        assert_eq!(xterm_rgb(Color::Indexed(17)), Some((0, 0, 0x5f)));
        assert_eq!(xterm_rgb(Color::Indexed(231)), Some((255, 255, 255)));
        assert_eq!(xterm_rgb(Color::Indexed(244)), Some((0x80, 0x80, 0x80)));
        assert_eq!(xterm_rgb(Color::DarkGray), Some((0x7f, 0x7f, 0x7f)));
        assert!((contrast((0, 0, 0), (255, 255, 255)) - 21.0).abs() < 1e-9);
        assert!((contrast((0x77, 0x77, 0x77), (255, 255, 255)) - 4.48).abs() < 0.01);
    }

    #[test]
    fn every_builtin_theme_parses() {
        for (name, text) in BUILTIN {
            let t = Theme::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(t.name, name);
        }
        assert!(
            Theme::load("nope", None)
                .unwrap_err()
                .contains("built in: dark, light")
        );
        assert!(Theme::parse("name = \"x\"\nbogus = 1").is_err());
    }
}
