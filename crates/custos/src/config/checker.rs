//! Walking the TOML tree: a table being checked, and the checks of single
//! values, each reporting what it found and what was expected, at the
//! place the value is written.

use std::ops::Range;

use toml_edit::{Item, TableLike, Value};

use super::errors::{line_col, Problem};

/// A table being checked: its keys, where it starts, how to name it.
pub(super) struct Section<'t> {
    pub(super) table: &'t dyn TableLike,
    /// The header (`[server]`, `[[camera]]`) or the `{` of an inline table;
    /// missing keys are reported here.
    pub(super) span: Option<Range<usize>>,
    /// How messages name it: "the top level", "[server]", "[[camera]]".
    pub(super) name: &'static str,
    pub(super) known: &'static [&'static str],
}

impl<'t> Section<'t> {
    /// The item under `key` and the best place to point at for it.
    pub(super) fn get(&self, key: &str) -> Option<(&'t Item, Option<Range<usize>>)> {
        let (k, item) = self.table.get_key_value(key)?;
        let span = item
            .span()
            .or_else(|| k.span())
            .or_else(|| self.span.clone());
        Some((item, span))
    }
}

pub(super) struct Checker<'a> {
    pub(super) text: &'a str,
    pub(super) problems: Vec<Problem>,
}

impl Checker<'_> {
    pub(super) fn report(&mut self, span: Option<Range<usize>>, message: String) {
        let (line, column) = span.map_or((1, 1), |s| line_col(self.text, s.start));
        self.problems.push(Problem {
            line,
            column,
            message,
        });
    }

    pub(super) fn unknown_keys(&mut self, section: &Section<'_>) {
        for (key, item) in section.table.iter() {
            if section.known.contains(&key) {
                continue;
            }
            let span = section
                .table
                .key(key)
                .and_then(|k| k.span())
                .or_else(|| item.span())
                .or_else(|| section.span.clone());
            self.report(
                span,
                format!(
                    "unknown key {key:?} {} {}; expected one of: {}",
                    if section.name.starts_with('[') {
                        "in"
                    } else {
                        "at"
                    },
                    section.name,
                    section.known.join(", ")
                ),
            );
        }
    }

    pub(super) fn missing(&mut self, section: &Section<'_>, key: &str, expected: &str) {
        self.report(
            section.span.clone(),
            format!(
                "{} is missing the required key {key:?}; expected {expected}",
                section.name
            ),
        );
    }

    /// A string value, or a report that something else is there.
    pub(super) fn string(
        &mut self,
        section: &Section<'_>,
        key: &str,
        expected: &str,
    ) -> Option<(String, Option<Range<usize>>)> {
        let (item, span) = section.get(key)?;
        match item.as_str() {
            Some(s) => Some((s.to_owned(), span)),
            None => {
                self.report(
                    span,
                    format!("{key}: expected {expected}, found {}", describe(item)),
                );
                None
            }
        }
    }

    /// An integer in `min..=max`, or a report naming the range.
    pub(super) fn integer<T: TryFrom<i64>>(
        &mut self,
        section: &Section<'_>,
        key: &str,
        min: i64,
        max: i64,
    ) -> Option<T> {
        let (item, span) = section.get(key)?;
        let value = item
            .as_integer()
            .filter(|v| (min..=max).contains(v))
            .and_then(|v| T::try_from(v).ok());
        if value.is_none() {
            self.report(
                span,
                format!(
                    "{key}: expected an integer from {min} to {max}, found {}",
                    describe(item)
                ),
            );
        }
        value
    }

    pub(super) fn boolean(&mut self, section: &Section<'_>, key: &str) -> Option<bool> {
        let (item, span) = section.get(key)?;
        let value = item.as_bool();
        if value.is_none() {
            self.report(
                span,
                format!("{key}: expected true or false, found {}", describe(item)),
            );
        }
        value
    }

    /// A `[name]` table (or inline table) under `key` of the root.
    pub(super) fn sub_table<'t>(
        &mut self,
        root: &Section<'t>,
        key: &str,
        name: &'static str,
        known: &'static [&'static str],
    ) -> Option<Section<'t>> {
        let (item, span) = root.get(key)?;
        match item.as_table_like() {
            Some(table) => {
                let section = Section {
                    table,
                    span,
                    name,
                    known,
                };
                self.unknown_keys(&section);
                Some(section)
            }
            None => {
                self.report(
                    span,
                    format!("{key}: expected a {name} table, found {}", describe(item)),
                );
                None
            }
        }
    }

    pub(super) fn required_string(
        &mut self,
        section: &Section<'_>,
        key: &str,
        expected: &str,
    ) -> Option<String> {
        match self.string(section, key, expected) {
            Some((s, span)) if s.trim().is_empty() => {
                self.report(
                    span,
                    format!("{key}: expected {expected}, found an empty string"),
                );
                None
            }
            Some((s, _)) => Some(s),
            None => {
                if section.get(key).is_none() {
                    self.missing(section, key, expected);
                }
                None
            }
        }
    }

    pub(super) fn env_name(&mut self, section: &Section<'_>, key: &str) -> Option<String> {
        let (name, span) = self.string(section, key, "an environment variable name")?;
        if !valid_env_name(&name) {
            self.report(
                span,
                format!(
                    "{key}: expected an environment variable name, found {}",
                    quote(&name)
                ),
            );
            return None;
        }
        Some(name)
    }

    /// A byte size: an integer, or a string with a unit (`"50GB"`).
    pub(super) fn byte_size(&mut self, section: &Section<'_>, key: &str) -> Option<u64> {
        let (item, span) = section.get(key)?;
        let message = match item.as_value() {
            Some(Value::Integer(i)) => match u64::try_from(*i.value()) {
                Ok(b) if b > 0 => return Some(b),
                _ => format!("expected {SIZE_EXPECTED}, found {}", describe(item)),
            },
            Some(Value::String(s)) => match parse_byte_size(s.value()) {
                Ok(b) => return Some(b),
                Err(why) => format!("{why} in {}; expected {SIZE_EXPECTED}", quote(s.value())),
            },
            _ => format!("expected {SIZE_EXPECTED}, found {}", describe(item)),
        };
        self.report(span, format!("{key}: {message}"));
        None
    }
}

pub(super) const SIZE_EXPECTED: &str =
    "an integer number of bytes above 0 or a string such as \"50GB\" \
     (units B, KB, MB, GB, TB in steps of 1000; KiB, MiB, GiB, TiB in steps of 1024)";

/// Parses a byte size written as a string: a number (decimals allowed) and
/// an optional unit, B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB,
/// TiB (powers of 1024), case-insensitive. The result must be a whole
/// number of bytes, above zero, that fits in 64 bits.
pub fn parse_byte_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = (&t[..split], t[split..].trim());
    let multiplier: u128 = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "KIB" => 1 << 10,
        "MIB" => 1 << 20,
        "GIB" => 1 << 30,
        "TIB" => 1 << 40,
        _ => return Err(format!("unknown unit {unit:?}")),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits_ok(whole) || !digits_ok(fraction) || whole.len() > 20 {
        return Err("no number before the unit".into());
    }
    if fraction.len() > 12 {
        return Err("too many decimal places".into());
    }
    let too_big = || "too large for 64 bits".to_string();
    let whole: u128 = whole.parse().map_err(|_| too_big())?;
    let (fraction_value, scale) = if fraction.is_empty() {
        (0, 1)
    } else {
        let value: u128 = fraction.parse().map_err(|_| too_big())?;
        (
            value,
            10u128.pow(u32::try_from(fraction.len()).map_err(|_| too_big())?),
        )
    };
    let fraction_bytes = fraction_value * multiplier;
    if !fraction_bytes.is_multiple_of(scale) {
        return Err("not a whole number of bytes".into());
    }
    let bytes = whole
        .checked_mul(multiplier)
        .and_then(|b| b.checked_add(fraction_bytes / scale))
        .ok_or_else(too_big)?;
    let bytes = u64::try_from(bytes).map_err(|_| too_big())?;
    if bytes == 0 {
        return Err("a size of zero bytes".into());
    }
    Ok(bytes)
}

pub(super) fn valid_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

pub(super) fn valid_env_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A string as quoted in messages, shortened if long.
pub(super) fn quote(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        format!("{s:?}")
    } else {
        let short: String = s.chars().take(MAX).collect();
        format!("{short:?}…")
    }
}

/// What a TOML item is, for "found …" in messages.
pub(super) fn describe(item: &Item) -> String {
    match item {
        Item::None => "nothing".into(),
        Item::Table(_) => "a table".into(),
        Item::ArrayOfTables(_) => "an array of tables".into(),
        Item::Value(v) => describe_value(v),
    }
}

pub(super) fn describe_value(value: &Value) -> String {
    match value {
        Value::String(s) => format!("string {}", quote(s.value())),
        Value::Integer(i) => format!("integer {}", i.value()),
        Value::Float(f) => format!("float {}", f.value()),
        Value::Boolean(b) => format!("boolean {}", b.value()),
        Value::Datetime(d) => format!("date-time {}", d.value()),
        Value::Array(_) => "an array".into(),
        Value::InlineTable(_) => "an inline table".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::camera_problem;
    use super::super::tests::valid;

    #[test]
    fn retain_bytes_units() {
        let bytes = |v: &str| {
            valid(&format!(
                "data_dir = \"d\"\n[[camera]]\nid = \"a\"\nurl = \"rtsp://h/s\"\nretain_bytes = {v}\n"
            ))
            .cameras[0]
                .settings
                .retain_bytes
        };
        assert_eq!(bytes("150000"), Some(150_000));
        assert_eq!(bytes("\"50GB\""), Some(50_000_000_000));
        assert_eq!(bytes("\"2 TB\""), Some(2_000_000_000_000));
        assert_eq!(bytes("\"500MiB\""), Some(500 << 20));
        assert_eq!(bytes("\"1.5GiB\""), Some(3 << 29));
        assert_eq!(bytes("\"3KB\""), Some(3_000));
        assert_eq!(bytes("\"4kib\""), Some(4_096));
        assert_eq!(bytes("\"1TiB\""), Some(1 << 40));
        assert_eq!(bytes("\"7B\""), Some(7));

        for bad in [
            "\"50 parsecs\"",
            "\"GB\"",
            "\"0GB\"",
            "0",
            "-5",
            "\"1.5B\"",
            "\"99999999TB\"",
            "1.5",
            "true",
        ] {
            let (l, c, m) = camera_problem(&format!(
                "id = \"a\"\nurl = \"rtsp://h/s\"\nretain_bytes = {bad}\n"
            ));
            assert_eq!((l, c), (5, 16), "{bad}");
            assert!(m.starts_with("retain_bytes: "), "{bad}: {m}");
            assert!(
                m.contains("expected an integer number of bytes above 0 or a string"),
                "{bad}: {m}"
            );
        }
        let (_, _, m) =
            camera_problem("id = \"a\"\nurl = \"rtsp://h/s\"\nretain_bytes = \"50 parsecs\"\n");
        assert!(
            m.starts_with("retain_bytes: unknown unit \"parsecs\" in \"50 parsecs\"; expected"),
            "{m}"
        );
    }
}
