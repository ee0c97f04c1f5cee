//! The pieces of an `allowed_signers` line as OpenSSH's `sshsig.c` reads them: OpenSSH
//! pattern lists (`*`, `?`, `!negated`), quoted tokens, the options
//! (`cert-authority`, `namespaces=`, `valid-after=`, `valid-before=`, names
//! case-insensitive, anything else invalidating the line) and absolute times.

use chrono::{Local, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// One pattern (`*` any run, `?` one character) against a string, as OpenSSH's
/// `match_pattern`.
pub fn match_pattern(s: &str, pattern: &str) -> bool {
    let (s, p): (Vec<char>, Vec<char>) = (s.chars().collect(), pattern.chars().collect());
    // Iterative wildcard match with backtracking to the last `*`.
    let (mut i, mut j, mut star, mut mark) = (0usize, 0usize, None::<usize>, 0usize);
    while i < s.len() {
        if j < p.len() && (p[j] == '?' || p[j] == s[i]) {
            i += 1;
            j += 1;
        } else if j < p.len() && p[j] == '*' {
            star = Some(j);
            mark = i;
            j += 1;
        } else if let Some(st) = star {
            j = st + 1;
            mark += 1;
            i = mark;
        } else {
            return false;
        }
    }
    while j < p.len() && p[j] == '*' {
        j += 1;
    }
    j == p.len()
}

/// A comma-separated pattern list, as OpenSSH's `match_pattern_list`: 1 when a positive
/// pattern matches, -1 when a negated one (`!pat`) does (which wins), 0 otherwise.
pub fn match_pattern_list(s: &str, list: &str) -> i32 {
    let mut got_positive = 0;
    for sub in list.split(',') {
        let (negated, pat) = match sub.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, sub),
        };
        if match_pattern(s, pat) {
            if negated {
                return -1;
            }
            got_positive = 1;
        }
    }
    got_positive
}

/// The next whitespace-delimited token; a token that starts with `"` runs to the next
/// `"` and is returned without the quotes (OpenSSH's `strdelimw`). `None`: nothing left,
/// or an unterminated quote.
pub fn next_token(s: &mut &str) -> Option<String> {
    let t = s.trim_start_matches([' ', '\t']);
    if t.is_empty() {
        *s = t;
        return None;
    }
    if let Some(rest) = t.strip_prefix('"') {
        let end = rest.find('"')?;
        let tok = rest[..end].to_string();
        *s = &rest[end + 1..];
        return Some(tok);
    }
    let end = t.find([' ', '\t']).unwrap_or(t.len());
    let tok = t[..end].to_string();
    *s = &t[end..];
    Some(tok)
}

/// Split off an options field: up to the first space or tab outside double quotes (a
/// `\"` does not end a quote). `None` when a quote is left open at the end.
pub fn options_field<'a>(s: &mut &'a str) -> Option<&'a str> {
    let t = s.trim_start_matches([' ', '\t']);
    let b = t.as_bytes();
    let (mut i, mut quoted) = (0usize, false);
    while i < b.len() && (quoted || (b[i] != b' ' && b[i] != b'\t')) {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'"') {
            i += 1;
        } else if b[i] == b'"' {
            quoted = !quoted;
        }
        i += 1;
    }
    if quoted && i >= b.len() {
        return None;
    }
    *s = &t[i..];
    Some(&t[..i])
}

/// What the options of a line say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    pub cert_authority: bool,
    pub namespaces: Option<String>,
    /// Unix seconds.
    pub valid_after: Option<i64>,
    pub valid_before: Option<i64>,
}

/// A quoted option value: `"…"` with `\"` for a quote inside (OpenSSH's `opt_dequote`).
fn dequote(s: &mut &str) -> Result<String, String> {
    let Some(rest) = s.strip_prefix('"') else {
        return Err("missing start quote".into());
    };
    let mut out = String::new();
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if rest[i + 1..].starts_with('"') => {
                out.push('"');
                chars.next();
            }
            '"' => {
                *s = &rest[i + 1..];
                return Ok(out);
            }
            c => out.push(c),
        }
    }
    Err("missing end quote".into())
}

fn strip_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    s.get(..prefix.len())
        .filter(|head| head.eq_ignore_ascii_case(prefix))
        .map(|_| &s[prefix.len()..])
}

/// Parse the options field as `sigopts_parse` does.
pub fn parse_options(mut opts: &str) -> Result<Options, String> {
    let mut o = Options::default();
    while !opts.is_empty() && !opts.starts_with([' ', '\t']) {
        if let Some(rest) = strip_ci(opts, "cert-authority") {
            o.cert_authority = true;
            opts = rest;
        } else if let Some(mut rest) = strip_ci(opts, "namespaces=") {
            if o.namespaces.is_some() {
                return Err("multiple \"namespaces\" clauses".into());
            }
            o.namespaces = Some(dequote(&mut rest)?);
            opts = rest;
        } else if let Some(mut rest) = strip_ci(opts, "valid-after=") {
            if o.valid_after.is_some() {
                return Err("multiple \"valid-after\" clauses".into());
            }
            let v = dequote(&mut rest)?;
            // ssh-keygen refuses a time at or before the epoch.
            o.valid_after = Some(
                parse_time(&v)
                    .filter(|t| *t > 0)
                    .ok_or_else(|| "invalid \"valid-after\" time".to_string())?,
            );
            opts = rest;
        } else if let Some(mut rest) = strip_ci(opts, "valid-before=") {
            if o.valid_before.is_some() {
                return Err("multiple \"valid-before\" clauses".into());
            }
            let v = dequote(&mut rest)?;
            o.valid_before = Some(
                parse_time(&v)
                    .filter(|t| *t > 0)
                    .ok_or_else(|| "invalid \"valid-before\" time".to_string())?,
            );
            opts = rest;
        }
        if opts.is_empty() || opts.starts_with([' ', '\t']) {
            break;
        }
        let Some(rest) = opts.strip_prefix(',') else {
            return Err("unknown key option".into());
        };
        if rest.is_empty() {
            return Err("unexpected end-of-options".into());
        }
        opts = rest;
    }
    if let (Some(a), Some(b)) = (o.valid_after, o.valid_before)
        && b <= a
    {
        return Err("\"valid-before\" time is before \"valid-after\"".into());
    }
    Ok(o)
}

/// `YYYYMMDD`, `YYYYMMDDHHMM` or `YYYYMMDDHHMMSS`, UTC with a trailing `Z`, else local
/// time (OpenSSH's `parse_absolute_time`). Unix seconds; `None` for anything else.
pub fn parse_time(s: &str) -> Option<i64> {
    let (digits, utc) = match s.strip_suffix(['Z', 'z']) {
        Some(d) if s.len() > 1 => (d, true),
        _ => (s, false),
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |a: usize, b: usize| digits.get(a..b)?.parse::<u32>().ok();
    let date = NaiveDate::from_ymd_opt(n(0, 4)? as i32, n(4, 6)?, n(6, 8)?)?;
    let dt: NaiveDateTime = match digits.len() {
        8 => date.and_hms_opt(0, 0, 0)?,
        12 => date.and_hms_opt(n(8, 10)?, n(10, 12)?, 0)?,
        14 => date.and_hms_opt(n(8, 10)?, n(10, 12)?, n(12, 14)?)?,
        _ => return None,
    };
    let t = if utc {
        Utc.from_utc_datetime(&dt).timestamp()
    } else {
        Local.from_local_datetime(&dt).single()?.timestamp()
    };
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_as_openssh_matches_them() {
        assert!(match_pattern("alice", "a*"));
        assert!(match_pattern("alice", "al?ce"));
        assert!(!match_pattern("alice", "bob"));
        assert!(match_pattern("", "*"));
        assert_eq!(match_pattern_list("alice", "bob,a*"), 1);
        assert_eq!(match_pattern_list("alice", "*,!alice"), -1);
        assert_eq!(match_pattern_list("alice", "bob"), 0);
    }

    #[test]
    fn options_as_sigopts_parse_reads_them() {
        let o = parse_options("Cert-Authority,NAMESPACES=\"git,gander\"").unwrap();
        assert!(o.cert_authority);
        assert_eq!(o.namespaces.as_deref(), Some("git,gander"));
        assert!(parse_options("namespaces=gander").is_err());
        assert!(parse_options("unknown").is_err());
        assert!(parse_options("namespaces=\"x\",").is_err());
        assert!(parse_options("valid-after=\"20300101\",valid-before=\"20200101\"").is_err());
        assert_eq!(parse_time("20200101Z"), Some(1577836800));
        assert_eq!(parse_time("202001010000Z"), Some(1577836800));
        assert_eq!(parse_time("20200101000001Z"), Some(1577836801));
        assert_eq!(parse_time("2020010"), None);
    }
}
