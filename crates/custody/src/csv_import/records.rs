//! Splitting a CSV file into records, strictly, keeping the line each one
//! starts on.
//!
//! The format is RFC 4180 as spreadsheets write it: fields separated by
//! commas; a field holding a comma, a quote or a line break is written in
//! double quotes, with each quote inside doubled. Lines end with LF, CRLF or
//! a lone CR (each counts as one line, as editors show them), also inside
//! quoted fields. Spaces before an opening quote and after a closing one are
//! allowed (values are trimmed anyway). Blank lines, and rows whose every
//! field is empty (`,,,`, as spreadsheets write an empty row), are skipped.
//!
//! A quote anywhere else is a mistake, not data: lenient readers guess
//! (`"a "b" c"` becomes `a b" c"`), which silently alters a title. Here the
//! record carries the mistake, with its line and character, and the caller
//! refuses the row.

use std::borrow::Cow;

/// A quote where the format allows none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct QuoteProblem {
    /// The line of the quote (counted from 1).
    pub line: u64,
    /// The field of the record it is in (counted from 0).
    pub field: usize,
    /// What is wrong and how to write it, for the user.
    pub reason: String,
}

/// One record: its fields, raw bytes (not yet checked to be UTF-8).
#[derive(Debug)]
pub(super) struct Record<'a> {
    /// The line where the record starts.
    pub line: u64,
    pub fields: Vec<Cow<'a, [u8]>>,
    pub problems: Vec<QuoteProblem>,
}

/// Reads records from the bytes of a file (after any byte order mark).
pub(super) struct Records<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// The line `pos` is on.
    line: u64,
    /// Where that line starts, for character positions.
    line_start: usize,
}

/// Quoted values longer than this are not repeated in a message.
const MAX_SUGGESTION_BYTES: usize = 120;

impl<'a> Records<'a> {
    pub fn new(bytes: &'a [u8]) -> Records<'a> {
        Records {
            bytes,
            pos: 0,
            line: 1,
            line_start: 0,
        }
    }

    /// How many bytes have been read.
    pub fn position(&self) -> usize {
        self.pos
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// The length of the line end at `pos` (LF, CR or CRLF), or 0.
    fn line_end_len(&self) -> usize {
        match self.peek() {
            Some(b'\n') => 1,
            Some(b'\r') if self.bytes.get(self.pos + 1) == Some(&b'\n') => 2,
            Some(b'\r') => 1,
            _ => 0,
        }
    }

    /// Steps over the line end at `pos`, which is `len` bytes long.
    fn pass_line_end(&mut self, len: usize) {
        self.pos += len;
        self.line += 1;
        self.line_start = self.pos;
    }

    /// The character (counted from 1) of byte `at` on the current line;
    /// UTF-8 continuation bytes do not count.
    fn character(&self, at: usize) -> u64 {
        let before = self.bytes.get(self.line_start..at).unwrap_or_default();
        before.iter().filter(|&&b| b & 0xC0 != 0x80).count() as u64 + 1
    }

    fn skip_spaces(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// The next record that is not blank, or `None` at the end.
    pub fn next_record(&mut self) -> Option<Record<'a>> {
        loop {
            // Blank lines between records.
            loop {
                let len = self.line_end_len();
                if len == 0 {
                    break;
                }
                self.pass_line_end(len);
            }
            if self.pos >= self.bytes.len() {
                return None;
            }
            let record = self.read_record();
            let blank = record.problems.is_empty()
                && record.fields.iter().all(|f| f.trim_ascii().is_empty());
            if !blank {
                return Some(record);
            }
        }
    }

    /// Reads one record from `pos`, up to and including its line end.
    fn read_record(&mut self) -> Record<'a> {
        let mut record = Record {
            line: self.line,
            fields: Vec::new(),
            problems: Vec::new(),
        };
        loop {
            let field = record.fields.len();
            let value = self.read_field(field, &mut record.problems);
            record.fields.push(value);
            match self.peek() {
                Some(b',') => self.pos += 1,
                _ => {
                    let len = self.line_end_len();
                    if len > 0 {
                        self.pass_line_end(len);
                    }
                    return record;
                }
            }
        }
    }

    /// Reads one field, leaving `pos` on the comma or line end after it (or
    /// at the end of the file).
    fn read_field(&mut self, field: usize, problems: &mut Vec<QuoteProblem>) -> Cow<'a, [u8]> {
        let start = self.pos;
        self.skip_spaces();
        if self.peek() == Some(b'"') {
            return self.read_quoted(field, problems);
        }
        self.pos = start;
        let mut stray_quote = None;
        while let Some(b) = self.peek() {
            if b == b',' || b == b'\n' || b == b'\r' {
                break;
            }
            if b == b'"' && stray_quote.is_none() {
                stray_quote = Some((self.line, self.character(self.pos)));
            }
            self.pos += 1;
        }
        let value = &self.bytes[start..self.pos];
        if let Some((line, character)) = stray_quote {
            problems.push(QuoteProblem {
                line,
                field,
                reason: format!(
                    "a quote at character {character} inside a value that does not start \
                     with one; put the whole value in quotes and write the quote twice{}",
                    suggestion(value.trim_ascii())
                ),
            });
        }
        Cow::Borrowed(value)
    }

    /// Reads a quoted field; `pos` is on its opening quote.
    fn read_quoted(&mut self, field: usize, problems: &mut Vec<QuoteProblem>) -> Cow<'a, [u8]> {
        let (open_line, open_character) = (self.line, self.character(self.pos));
        self.pos += 1;
        let content_start = self.pos;
        // Borrowed while nothing needed unescaping.
        let mut owned: Option<Vec<u8>> = None;
        // (line, character) of the first quote that closed the value too early.
        let mut early_close: Option<(u64, u64)> = None;
        loop {
            let Some(b) = self.peek() else {
                problems.push(QuoteProblem {
                    line: open_line,
                    field,
                    reason: format!(
                        "the quote at character {open_character} opens a value that is never \
                         closed (the file ends inside it)"
                    ),
                });
                return finish(owned, &self.bytes[content_start..self.pos]);
            };
            match b {
                b'"' if self.bytes.get(self.pos + 1) == Some(&b'"') => {
                    // A doubled quote stands for one.
                    owned
                        .get_or_insert_with(|| self.bytes[content_start..self.pos].to_vec())
                        .push(b'"');
                    self.pos += 2;
                }
                b'"' => {
                    let quote_at = self.pos;
                    self.pos += 1;
                    self.skip_spaces();
                    let ends = matches!(self.peek(), None | Some(b',' | b'\n' | b'\r'));
                    if ends {
                        let value = finish(owned, &self.bytes[content_start..quote_at]);
                        if let Some((line, character)) = early_close {
                            problems.push(QuoteProblem {
                                line,
                                field,
                                reason: format!(
                                    "the quote at character {character} ends the quoted value \
                                     but the value goes on; inside quotes, write a quote twice{}",
                                    suggestion(value.trim_ascii())
                                ),
                            });
                        }
                        return value;
                    }
                    // Text after a closing quote: the quote was meant as
                    // part of the value. Keep it, to show the value as
                    // meant in the message, and read on.
                    if early_close.is_none() {
                        early_close = Some((self.line, self.character(quote_at)));
                    }
                    owned
                        .get_or_insert_with(|| self.bytes[content_start..quote_at].to_vec())
                        .extend_from_slice(&self.bytes[quote_at..self.pos]);
                }
                b'\n' | b'\r' => {
                    let len = self.line_end_len();
                    if let Some(v) = owned.as_mut() {
                        v.extend_from_slice(&self.bytes[self.pos..self.pos + len]);
                    }
                    self.pass_line_end(len);
                }
                other => {
                    if let Some(v) = owned.as_mut() {
                        v.push(other);
                    }
                    self.pos += 1;
                }
            }
        }
    }
}

fn finish<'a>(owned: Option<Vec<u8>>, borrowed: &'a [u8]) -> Cow<'a, [u8]> {
    match owned {
        Some(v) => Cow::Owned(v),
        None => Cow::Borrowed(borrowed),
    }
}

/// `: "value with ""quotes"" doubled"`, when the value is short enough to
/// repeat and is text.
fn suggestion(value: &[u8]) -> String {
    match std::str::from_utf8(value) {
        Ok(text) if value.len() <= MAX_SUGGESTION_BYTES && !text.contains(['\n', '\r']) => {
            format!(": \"{}\"", text.replace('"', "\"\""))
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(bytes: &[u8]) -> Vec<(u64, Vec<String>, Vec<QuoteProblem>)> {
        let mut records = Records::new(bytes);
        let mut out = Vec::new();
        while let Some(r) = records.next_record() {
            let fields = r
                .fields
                .iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect();
            out.push((r.line, fields, r.problems));
        }
        assert_eq!(records.position(), bytes.len());
        out
    }

    fn lines_and_fields(bytes: &[u8]) -> Vec<(u64, Vec<String>)> {
        all(bytes)
            .into_iter()
            .map(|(line, fields, problems)| {
                assert!(problems.is_empty(), "{problems:?}");
                (line, fields)
            })
            .collect()
    }

    fn owned(fields: &[&str]) -> Vec<String> {
        fields.iter().map(|f| (*f).to_owned()).collect()
    }

    #[test]
    fn every_line_end_counts_once() {
        for file in [
            &b"a,b\nc,d\n\ne,f"[..],
            b"a,b\r\nc,d\r\n\r\ne,f\r\n",
            b"a,b\rc,d\r\re,f\r",
        ] {
            assert_eq!(
                lines_and_fields(file),
                [
                    (1, owned(&["a", "b"])),
                    (2, owned(&["c", "d"])),
                    (4, owned(&["e", "f"]))
                ],
                "{file:?}"
            );
        }
    }

    #[test]
    fn quoted_fields_keep_commas_quotes_and_line_breaks() {
        let file = b"\"a,1\",\"say \"\"hi\"\"\"\r\n\"two\r\nlines\",\"\"\r\nx, \"y\" \n";
        assert_eq!(
            lines_and_fields(file),
            [
                (1, owned(&["a,1", "say \"hi\""])),
                (2, owned(&["two\r\nlines", ""])),
                (4, owned(&["x", "y"])),
            ]
        );
    }

    #[test]
    fn empty_rows_are_blank() {
        assert_eq!(
            lines_and_fields(b"a,b\n,\n  , \n\"\",\"\"\nc,d"),
            [(1, owned(&["a", "b"])), (5, owned(&["c", "d"]))]
        );
    }

    #[test]
    fn stray_quotes_are_problems_at_their_place() {
        let got = all("é,\"a \"b\" c\",d\nx,y\"z\n".as_bytes());
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].1, owned(&["é", "a \"b\" c", "d"]));
        assert_eq!(
            got[0].2,
            [QuoteProblem {
                line: 1,
                field: 1,
                reason: "the quote at character 6 ends the quoted value but the value goes \
                         on; inside quotes, write a quote twice: \"a \"\"b\"\" c\""
                    .into()
            }]
        );
        assert_eq!(got[1].0, 2);
        assert_eq!(got[1].2[0].field, 1);
        assert_eq!(got[1].2[0].line, 2);

        // A quote closed early on the second line of a value.
        let got = all(b"a,\"one\ntwo \"x\" three\"\n");
        assert_eq!(got[0].2[0].line, 2);
        assert!(got[0].2[0].reason.starts_with("the quote at character 5 "));
        // A value never closed is reported where it opens.
        let got = all(b"a,b\nc,\"d\ne\n");
        assert_eq!(got[1].2[0].line, 2);
        assert_eq!(got[1].1, owned(&["c", "d\ne\n"]));
    }
}
