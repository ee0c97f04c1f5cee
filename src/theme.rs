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

#[cfg(test)]
mod tests {
    use super::*;

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
