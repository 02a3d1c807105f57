//! The register's records: locations, items and people, and which codes are
//! valid.
//!
//! Codes (location codes, item barcodes, staff ids) are 1 to 64 characters
//! of `A-Z a-z 0-9 . _ -`. They end up in URLs, CSV files, log entries and
//! Code 128 labels, so anything that needs quoting or escaping anywhere is
//! kept out from the start.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The longest code accepted, in characters.
pub const MAX_CODE_LEN: usize = 64;

/// A value that breaks the register's rules for codes, kinds or coverage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// A code was empty.
    #[error("{what} is empty")]
    Empty {
        /// What the value is, such as "barcode".
        what: String,
    },
    /// A code was longer than [`MAX_CODE_LEN`].
    #[error("{what} {value:?} is {len} characters long; at most {MAX_CODE_LEN} are allowed")]
    TooLong {
        /// What the value is.
        what: String,
        /// The value.
        value: String,
        /// Its length in characters.
        len: usize,
    },
    /// A code held a character outside `A-Z a-z 0-9 . _ -`.
    #[error(
        "{what} {value:?} contains {ch:?} at position {position}; \
         only letters A-Z a-z, digits 0-9, '.', '_' and '-' are allowed"
    )]
    BadChar {
        /// What the value is.
        what: String,
        /// The value.
        value: String,
        /// The first character not allowed.
        ch: char,
        /// Its position, counted in characters from 1.
        position: usize,
    },
    /// A word that should name one of a fixed set of values did not.
    #[error("{what} {value:?} is not one of: {allowed}")]
    UnknownValue {
        /// What the value is, such as "location kind".
        what: &'static str,
        /// The value.
        value: String,
        /// The allowed values, comma-separated.
        allowed: &'static str,
    },
    /// A coverage entry ("camera" or "camera:zone") was malformed.
    #[error("coverage {value:?}: {reason}")]
    BadCoverage {
        /// The entry as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Checks a code: 1..=64 characters of `[A-Za-z0-9._-]`. `what` names the
/// value in the error ("barcode", "staff id", "location code").
pub fn validate_code(what: &str, s: &str) -> Result<(), ModelError> {
    if s.is_empty() {
        return Err(ModelError::Empty { what: what.into() });
    }
    if let Some((index, ch)) = s
        .chars()
        .enumerate()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(ModelError::BadChar {
            what: what.into(),
            value: s.into(),
            ch,
            position: index + 1,
        });
    }
    // Only ASCII is left, so bytes are characters.
    if s.len() > MAX_CODE_LEN {
        return Err(ModelError::TooLong {
            what: what.into(),
            value: s.into(),
            len: s.len(),
        });
    }
    Ok(())
}

/// Writes `as_str`, `FromStr` and `Display` for a snake_case enum, so the
/// text forms used in CSV, the CLI and serde cannot drift apart.
macro_rules! text_enum {
    ($ty:ident, $what:literal, $($variant:ident => $text:literal),+ $(,)?) => {
        impl $ty {
            /// Every value, in the order listed in messages.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The text form, as used in CSV files, the CLI and JSON.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $text),+
                }
            }
        }

        impl FromStr for $ty {
            type Err = ModelError;

            /// Parses the text form; case and surrounding spaces are ignored.
            fn from_str(s: &str) -> Result<Self, ModelError> {
                let wanted = s.trim();
                $(
                    if wanted.eq_ignore_ascii_case($text) {
                        return Ok($ty::$variant);
                    }
                )+
                Err(ModelError::UnknownValue {
                    what: $what,
                    value: s.into(),
                    allowed: concat!($($text, " "),+).trim_ascii_end(),
                })
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// What sort of place a location is.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LocationKind {
    /// A room, such as a strong room or a reading room.
    Room,
    /// A shelf (or bay, cabinet, drawer) inside a room.
    Shelf,
    /// A table in a reading room where researchers consult items.
    ReadingTable,
    /// Anything else.
    Other,
}

text_enum!(LocationKind, "location kind",
    Room => "room", Shelf => "shelf", ReadingTable => "reading_table", Other => "other");

/// Where an item is in its life.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// At a location of the archive.
    InPlace,
    /// Checked out to a person.
    Out,
    /// Disposed of (destroyed, transferred to another institution…).
    Disposed,
}

text_enum!(ItemStatus, "item status",
    InPlace => "in_place", Out => "out", Disposed => "disposed");

/// What a person is to the archive.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PersonRole {
    /// A member of staff.
    Staff,
    /// A visiting researcher.
    Researcher,
    /// A contractor (conservator, digitiser, mover…).
    Contractor,
    /// Anyone else.
    Other,
}

text_enum!(PersonRole, "role",
    Staff => "staff", Researcher => "researcher", Contractor => "contractor", Other => "other");

/// A camera, and optionally one of its named motion zones, that sees a
/// location. Written `camera` or `camera:zone`; lists are written
/// `cam1;cam2:table-3`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Coverage {
    /// The camera's name in the site configuration.
    pub camera: String,
    /// The name of one of the camera's motion zones, when only that part of
    /// the picture shows the location.
    #[serde(default)]
    pub zone: Option<String>,
}

impl Coverage {
    /// Parses `camera` or `camera:zone`. Spaces around either part are
    /// trimmed; the camera must be a valid code; the zone is free text (zones
    /// are named like "reading table") but may not contain `;`, which
    /// separates entries in a list, nor control characters.
    pub fn parse(s: &str) -> Result<Coverage, ModelError> {
        let bad = |reason: &str| ModelError::BadCoverage {
            value: s.into(),
            reason: reason.into(),
        };
        let (camera, zone) = match s.split_once(':') {
            Some((camera, zone)) => (camera.trim(), Some(zone.trim())),
            None => (s.trim(), None),
        };
        validate_code("camera", camera).map_err(|e| bad(&e.to_string()))?;
        let zone = match zone {
            None => None,
            Some("") => return Err(bad("the zone after ':' is empty")),
            Some(z) if z.contains(';') || z.chars().any(char::is_control) => {
                return Err(bad("a zone name may not contain ';' or control characters"))
            }
            Some(z) => Some(z.to_owned()),
        };
        Ok(Coverage {
            camera: camera.to_owned(),
            zone,
        })
    }

    /// Parses a `;`-separated list such as `cam1;cam2:table-3`. Empty
    /// entries (a trailing `;`, or an empty string) are skipped.
    pub fn parse_list(s: &str) -> Result<Vec<Coverage>, ModelError> {
        s.split(';')
            .filter(|part| !part.trim().is_empty())
            .map(Coverage::parse)
            .collect()
    }

    /// Writes a list in the form [`Coverage::parse_list`] reads.
    pub fn format_list(list: &[Coverage]) -> String {
        list.iter()
            .map(Coverage::to_string)
            .collect::<Vec<_>>()
            .join(";")
    }
}

impl fmt::Display for Coverage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.zone {
            Some(zone) => write!(f, "{}:{}", self.camera, zone),
            None => f.write_str(&self.camera),
        }
    }
}

/// A place an item can be: a room, a shelf in a room, a reading table.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Location {
    /// Its code, unique in the register.
    pub code: String,
    /// A name for people.
    pub name: String,
    /// What sort of place it is.
    pub kind: LocationKind,
    /// The code of the room that contains it (for shelves and tables):
    /// the room's cameras see it too.
    #[serde(default)]
    pub room: Option<String>,
    /// The cameras that see it.
    #[serde(default)]
    pub coverage: Vec<Coverage>,
    /// No longer in use: nothing may be put there.
    #[serde(default)]
    pub retired: bool,
}

/// An archive item under custody.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Item {
    /// Its barcode, unique in the register.
    pub barcode: String,
    /// Its title.
    pub title: String,
    /// The archive's reference (call number).
    pub reference: String,
    /// Its classification (such as "public", "restricted").
    pub classification: String,
    /// Where it belongs.
    pub home_location: String,
    /// Where it is now when in place (the last place it was put or seen).
    pub location: String,
    /// In place, out or disposed.
    pub status: ItemStatus,
    /// The staff id of who holds it while it is out.
    #[serde(default)]
    pub holder: Option<String>,
    /// When it is due back while out, ms since the Unix epoch.
    #[serde(default)]
    pub due_ms: Option<i64>,
    /// Why it was disposed of.
    #[serde(default)]
    pub disposed_reason: Option<String>,
}

/// Someone who can hold or consult items.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Person {
    /// Their id, unique in the register.
    pub staff_id: String,
    /// Their name.
    pub name: String,
    /// What they are to the archive.
    pub role: PersonRole,
    /// Their badge number, if they have one.
    #[serde(default)]
    pub badge: Option<String>,
    /// No longer allowed to hold or consult items.
    #[serde(default)]
    pub retired: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_accept_the_allowed_characters_only() {
        assert_eq!(validate_code("barcode", "AB-12_x.9"), Ok(()));
        assert_eq!(
            validate_code("barcode", ""),
            Err(ModelError::Empty {
                what: "barcode".into()
            })
        );
        let err = validate_code("staff id", "ab/c").expect_err("slash is refused");
        assert_eq!(
            err,
            ModelError::BadChar {
                what: "staff id".into(),
                value: "ab/c".into(),
                ch: '/',
                position: 3
            }
        );
        assert!(err.to_string().contains("staff id \"ab/c\" contains '/'"));
        assert!(validate_code("code", "é").is_err());
        assert!(validate_code("code", "a b").is_err());
        assert!(validate_code("code", &"x".repeat(64)).is_ok());
        assert!(matches!(
            validate_code("code", &"x".repeat(65)),
            Err(ModelError::TooLong { len: 65, .. })
        ));
    }

    #[test]
    fn enums_round_trip_and_list_allowed_values() {
        for kind in LocationKind::ALL {
            assert_eq!(kind.as_str().parse::<LocationKind>(), Ok(*kind));
            let json = serde_json::to_string(kind).expect("serialises");
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
        for status in ItemStatus::ALL {
            assert_eq!(status.as_str().parse::<ItemStatus>(), Ok(*status));
        }
        for role in PersonRole::ALL {
            assert_eq!(role.as_str().parse::<PersonRole>(), Ok(*role));
        }
        assert_eq!(" Reading_Table ".parse(), Ok(LocationKind::ReadingTable));
        let err = "desk".parse::<LocationKind>().expect_err("unknown kind");
        assert_eq!(
            err.to_string(),
            "location kind \"desk\" is not one of: room shelf reading_table other"
        );
    }

    #[test]
    fn coverage_text_forms() {
        let plain = Coverage::parse("cam1").expect("camera only");
        assert_eq!(plain.zone, None);
        assert_eq!(plain.to_string(), "cam1");
        let zoned = Coverage::parse(" cam2 : reading table ").expect("camera and zone");
        assert_eq!(zoned.camera, "cam2");
        assert_eq!(zoned.zone.as_deref(), Some("reading table"));
        assert_eq!(zoned.to_string(), "cam2:reading table");
        assert!(Coverage::parse("cam2:").is_err());
        assert!(Coverage::parse(":zone").is_err());
        assert!(Coverage::parse("cam 2").is_err());

        let list = Coverage::parse_list("cam1;cam2:table-3;").expect("list");
        assert_eq!(list.len(), 2);
        assert_eq!(Coverage::format_list(&list), "cam1;cam2:table-3");
        assert_eq!(Coverage::parse_list(""), Ok(Vec::new()));
    }
}
