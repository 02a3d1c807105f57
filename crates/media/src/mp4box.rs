//! Minimal ISO BMFF (ISO/IEC 14496-12) box reading and writing primitives.
//!
//! Only what the segment writer and reader need: appending boxes to a buffer
//! with their size patched afterwards, and walking a byte slice box by box
//! with every length checked.

use std::fmt;

/// Appends a plain box of type `fourcc` whose body is written by `body`.
pub fn write_box(buf: &mut Vec<u8>, fourcc: &[u8; 4], body: impl FnOnce(&mut Vec<u8>)) {
    let start = buf.len();
    buf.extend_from_slice(&[0, 0, 0, 0]);
    buf.extend_from_slice(fourcc);
    body(buf);
    patch_size(buf, start);
}

/// Appends a full box (a box with version and 24-bit flags).
pub fn write_full_box(
    buf: &mut Vec<u8>,
    fourcc: &[u8; 4],
    version: u8,
    flags: u32,
    body: impl FnOnce(&mut Vec<u8>),
) {
    write_box(buf, fourcc, |buf| {
        buf.push(version);
        buf.extend_from_slice(&flags.to_be_bytes()[1..]);
        body(buf);
    });
}

fn patch_size(buf: &mut [u8], start: usize) {
    // Boxes we write are far below 4 GiB: a fragment holds about one second.
    let size = u32::try_from(buf.len() - start).unwrap_or(u32::MAX);
    buf[start..start + 4].copy_from_slice(&size.to_be_bytes());
}

pub fn put_u16(buf: &mut Vec<u8>, v: u16) {
    buf.extend_from_slice(&v.to_be_bytes());
}
pub fn put_u32(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(&v.to_be_bytes());
}
pub fn put_u64(buf: &mut Vec<u8>, v: u64) {
    buf.extend_from_slice(&v.to_be_bytes());
}

/// A box header found while reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BoxHeader {
    pub fourcc: [u8; 4],
    /// Offset of the box's first byte within the slice that was walked.
    pub offset: usize,
    /// Length of the header (8, or 16 with a 64-bit size).
    pub header_len: usize,
    /// Total length of the box including its header.
    pub len: usize,
}

impl BoxHeader {
    pub fn body_range(&self) -> std::ops::Range<usize> {
        self.offset + self.header_len..self.offset + self.len
    }
    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len
    }
}

/// Why a byte slice is not a well-formed sequence of boxes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BoxError {
    /// Fewer bytes remain than a header needs, or than the header announces.
    Truncated {
        offset: usize,
        needed: usize,
        available: usize,
    },
    /// A size field smaller than the header itself.
    BadSize { offset: usize, size: u64 },
    /// A field inside a box has a value we cannot accept.
    Invalid {
        fourcc: [u8; 4],
        offset: usize,
        reason: &'static str,
    },
}

impl fmt::Display for BoxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BoxError::Truncated {
                offset,
                needed,
                available,
            } => write!(
                f,
                "box at byte {offset} is truncated: needs {needed} bytes, {available} present"
            ),
            BoxError::BadSize { offset, size } => {
                write!(f, "box at byte {offset} has an impossible size {size}")
            }
            BoxError::Invalid {
                fourcc,
                offset,
                reason,
            } => write!(
                f,
                "box '{}' at byte {offset}: {reason}",
                String::from_utf8_lossy(fourcc)
            ),
        }
    }
}

impl std::error::Error for BoxError {}

/// Reads the header of the box starting at `offset` in `data` and checks that
/// the whole box is present.
pub fn read_header(data: &[u8], offset: usize) -> Result<BoxHeader, BoxError> {
    let available = data.len().saturating_sub(offset);
    if available < 8 {
        return Err(BoxError::Truncated {
            offset,
            needed: 8,
            available,
        });
    }
    let size32 = be_u32(&data[offset..]);
    let mut fourcc = [0u8; 4];
    fourcc.copy_from_slice(&data[offset + 4..offset + 8]);
    let (size, header_len) = match size32 {
        0 => (available as u64, 8),
        1 => {
            if available < 16 {
                return Err(BoxError::Truncated {
                    offset,
                    needed: 16,
                    available,
                });
            }
            (be_u64(&data[offset + 8..]), 16)
        }
        n => (u64::from(n), 8),
    };
    if size < header_len as u64 {
        return Err(BoxError::BadSize { offset, size });
    }
    let len = usize::try_from(size).map_err(|_| BoxError::BadSize { offset, size })?;
    if len > available {
        return Err(BoxError::Truncated {
            offset,
            needed: len,
            available,
        });
    }
    Ok(BoxHeader {
        fourcc,
        offset,
        header_len,
        len,
    })
}

/// Iterates over the boxes laid end to end in `data[range]`.
pub fn children(
    data: &[u8],
    range: std::ops::Range<usize>,
) -> impl Iterator<Item = Result<BoxHeader, BoxError>> + '_ {
    let mut offset = range.start;
    let end = range.end;
    std::iter::from_fn(move || {
        if offset >= end {
            return None;
        }
        match read_header(&data[..end], offset) {
            Ok(h) => {
                offset += h.len;
                Some(Ok(h))
            }
            Err(e) => {
                offset = end;
                Some(Err(e))
            }
        }
    })
}

/// Finds the first child of type `fourcc` within `range`.
pub fn find_child(
    data: &[u8],
    range: std::ops::Range<usize>,
    fourcc: &[u8; 4],
) -> Result<Option<BoxHeader>, BoxError> {
    for child in children(data, range) {
        let child = child?;
        if &child.fourcc == fourcc {
            return Ok(Some(child));
        }
    }
    Ok(None)
}

pub fn be_u16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}
pub fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}
pub fn be_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

/// A cursor over a box body that fails instead of panicking on short input.
pub struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    fourcc: [u8; 4],
    base: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(data: &'a [u8], header: &BoxHeader) -> Self {
        Cursor {
            data: &data[header.body_range()],
            pos: 0,
            fourcc: header.fourcc,
            base: header.offset,
        }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], BoxError> {
        if self.data.len() - self.pos < n {
            return Err(BoxError::Invalid {
                fourcc: self.fourcc,
                offset: self.base,
                reason: "body shorter than its fields",
            });
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    pub fn u8(&mut self) -> Result<u8, BoxError> {
        Ok(self.take(1)?[0])
    }
    pub fn u32(&mut self) -> Result<u32, BoxError> {
        self.take(4).map(be_u32)
    }
    pub fn u64(&mut self) -> Result<u64, BoxError> {
        self.take(8).map(be_u64)
    }
    pub fn skip(&mut self, n: usize) -> Result<(), BoxError> {
        self.take(n).map(|_| ())
    }
    /// Position within the body.
    pub fn pos(&self) -> usize {
        self.pos
    }
    pub fn invalid(&self, reason: &'static str) -> BoxError {
        BoxError::Invalid {
            fourcc: self.fourcc,
            offset: self.base,
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_boxes_nest_and_read_back() {
        let mut buf = Vec::new();
        write_box(&mut buf, b"moov", |b| {
            write_full_box(b, b"mvhd", 1, 0x000003, |b| put_u32(b, 7));
            write_box(b, b"free", |_| {});
        });
        let top = read_header(&buf, 0).expect("moov header");
        assert_eq!(&top.fourcc, b"moov");
        assert_eq!(top.len, buf.len());
        let kids: Vec<_> = children(&buf, top.body_range())
            .collect::<Result<_, _>>()
            .expect("children");
        assert_eq!(kids.len(), 2);
        assert_eq!(&kids[0].fourcc, b"mvhd");
        assert_eq!(kids[0].len, 8 + 4 + 4);
        assert_eq!(&buf[kids[0].offset + 8..kids[0].offset + 12], &[1, 0, 0, 3]);
        assert_eq!(&kids[1].fourcc, b"free");
        assert_eq!(kids[1].len, 8);
    }

    #[test]
    fn truncated_and_bad_sizes_are_errors_not_panics() {
        let mut buf = Vec::new();
        write_box(&mut buf, b"mdat", |b| b.extend_from_slice(&[1, 2, 3, 4]));
        assert!(matches!(
            read_header(&buf[..10], 0),
            Err(BoxError::Truncated {
                needed: 12,
                available: 10,
                ..
            })
        ));
        assert!(matches!(
            read_header(&buf[..5], 0),
            Err(BoxError::Truncated { .. })
        ));
        let bad = [0, 0, 0, 3, b'a', b'b', b'c', b'd'];
        assert!(matches!(
            read_header(&bad, 0),
            Err(BoxError::BadSize { size: 3, .. })
        ));
        let large = [0, 0, 0, 1, b'a', b'b', b'c', b'd', 0, 0, 0, 0, 0, 0, 0, 100];
        assert!(matches!(
            read_header(&large, 0),
            Err(BoxError::Truncated { .. })
        ));
    }

    #[test]
    fn size_zero_extends_to_end() {
        let data = [0, 0, 0, 0, b'm', b'd', b'a', b't', 9, 9, 9];
        let h = read_header(&data, 0).expect("header");
        assert_eq!(h.len, data.len());
    }

    #[test]
    fn cursor_refuses_to_read_past_body() {
        let mut buf = Vec::new();
        write_box(&mut buf, b"tfdt", |b| put_u16(b, 1));
        let h = read_header(&buf, 0).expect("header");
        let mut c = Cursor::new(&buf, &h);
        assert!(c.u32().is_err());
    }
}
