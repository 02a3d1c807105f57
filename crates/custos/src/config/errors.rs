//! Where a problem is: every problem of a file, each with its line and
//! column, and the file's name.

use std::fmt;

/// One problem in a config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line; 0 when the problem has no place in the file (the file
    /// cannot be read, an environment variable is missing).
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    pub message: String,
}

/// Every problem found in a config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The file name (or other source) the positions refer to.
    pub origin: String,
    /// In the order they appear in the file; never empty.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    /// One problem per line, `FILE:LINE:COL: message` (`FILE: message` for a
    /// problem without a position), with no trailing newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            if p.line == 0 {
                write!(f, "{}: {}", self.origin, p.message)?;
            } else {
                write!(f, "{}:{}:{}: {}", self.origin, p.line, p.column, p.message)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    pub(super) fn unplaced(origin: &str, message: String) -> ConfigError {
        ConfigError {
            origin: origin.to_owned(),
            problems: vec![Problem {
                line: 0,
                column: 0,
                message,
            }],
        }
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let text = "ab\nçd\ne";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 3), (2, 1));
        assert_eq!(line_col(text, 5), (2, 2), "ç is two bytes, one column");
        assert_eq!(line_col(text, 4), (2, 1), "inside a character");
        assert_eq!(line_col(text, 99), (3, 2));
    }
}
