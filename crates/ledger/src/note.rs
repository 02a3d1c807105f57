//! Ed25519 signed notes (<https://c2sp.org/signed-note>) and transparency
//! log checkpoints (<https://c2sp.org/tlog-checkpoint>).
//!
//! A site signs the head of its log as a C2SP checkpoint: the note text
//!
//! ```text
//! <origin>\n<tree size in decimal>\n<base64 of the 32-byte root>\n
//! ```
//!
//! followed by a blank line and one signature line per signer,
//! `— <key name> <base64(4-byte key ID ‖ 64-byte Ed25519 signature)>\n`.
//! The key name is the log origin (the site's name) and the key ID is the
//! first four bytes of `SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)`, as the
//! signed-note specification recommends for Ed25519 (signature type `0x01`).
//!
//! Keys are exchanged as the strings of the Go `sumdb/note` package, which
//! other tools for these specifications read too:
//! `<name>+<8 hex digits of key ID>+<base64(0x01 ‖ 32-byte public key)>` for
//! a verifier key and `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 ‖
//! 32-byte seed)>` for a signer key.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signer as _, SECRET_KEY_LENGTH, SIGNATURE_LENGTH};

use crate::key_string::{check_stated_id, decode_key_of_type, parse_public_key, public_key_string};

/// The signature type byte of Ed25519 in signed notes (c2sp.org/signed-note,
/// "Signature types").
pub const ED25519_TYPE: u8 = 0x01;

/// Notes longer than this are refused before any parsing (the signed-note
/// specification asks verifiers to bound a note's size).
pub const MAX_NOTE_BYTES: usize = 1 << 20;

/// At most this many signature lines are accepted in a note (the
/// specification requires accepting at least 16).
pub const MAX_SIGNATURES: usize = 100;

/// What a signature line starts with: U+2014 EM DASH and a space.
pub(crate) const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// The prefix of a signer (private) key string.
const PRIVATE_PREFIX: &str = "PRIVATE+KEY+";

/// Key files longer than this are not key files.
const MAX_KEY_FILE_BYTES: u64 = 4096;

/// Why a note, a checkpoint or a key string was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The note is larger than [`MAX_NOTE_BYTES`].
    #[error("the note is {size} bytes, more than the {max} accepted")]
    TooLarge {
        /// Its size in bytes.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A line of the note breaks the signed-note format.
    #[error("malformed note, line {line}: {reason}")]
    Malformed {
        /// 1-based line number within the note.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// More signature lines than [`MAX_SIGNATURES`].
    #[error("the note has {count} signatures, more than the {max} accepted")]
    TooManySignatures {
        /// How many it has.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// No signature line carries this key's name and key ID.
    #[error("the note has no signature by key {key} (it is signed by: {})", .found.join(", "))]
    NoSignatureByKey {
        /// The expected key, as `name+keyid`.
        key: String,
        /// The `name+keyid` of each signature line that is there.
        found: Vec<String>,
    },
    /// The signature line of this key does not verify over the note text.
    #[error(
        "the signature by key {key} does not verify: the note text or the signature was altered"
    )]
    BadSignature {
        /// The key, as `name+keyid`.
        key: String,
    },
    /// The checkpoint is signed by the key, but names another log.
    #[error("the checkpoint is for log {origin:?}, not for {key_name:?}, the name of its key")]
    OriginMismatch {
        /// The checkpoint's origin line.
        origin: String,
        /// The key's name.
        key_name: String,
    },
    /// The checkpoint text has fewer than three lines, or an empty line.
    #[error("checkpoint line {line}: {reason}")]
    BadCheckpoint {
        /// 1-based line number within the checkpoint text.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The tree size line is not a decimal number without leading zeros
    /// that fits in 64 bits.
    #[error("checkpoint tree size {found:?} is not a decimal number of at most 64 bits without leading zeros")]
    SizeNotDecimal {
        /// The line found.
        found: String,
    },
    /// The root hash line is not the standard base64 of exactly 32 bytes.
    #[error("checkpoint root hash {found:?} is not the base64 of 32 bytes")]
    RootNotHash {
        /// The line found.
        found: String,
    },
    /// A key name is empty or holds a space, a plus sign or a control
    /// character.
    #[error("key name {name:?} is not valid: {reason}")]
    BadKeyName {
        /// The name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// A verifier or signer key string is malformed.
    #[error("malformed key string: {reason}")]
    BadKey {
        /// What is wrong.
        reason: String,
    },
    /// The key ID written in a key string is not the one computed from its
    /// name and key.
    #[error("key string states key ID {stated} but its name and key give {computed}")]
    KeyIdMismatch {
        /// The hex key ID in the string.
        stated: String,
        /// The hex key ID computed.
        computed: String,
    },
    /// A text that cannot be signed as a note.
    #[error("cannot sign this text as a note: {reason}")]
    BadText {
        /// Why.
        reason: &'static str,
    },
}

/// Why a key file could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// A file system operation failed.
    #[error("{action} {}: {source}", .path.display())]
    Io {
        /// What was being done ("reading", "creating", …).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The key file can be read or written by its group or by others.
    #[error(
        "key file {} has mode {mode:04o}, which gives its group or others access; \
         run `chmod 600 {}` (and consider the key exposed)",
        .path.display(), .path.display()
    )]
    TooOpen {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The path is not a regular file.
    #[error("key file {} is not a regular file", .path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The key file holds a key for another name.
    #[error(
        "key file {} holds the key of {found:?}, not of {expected:?}: \
         the site name changed, or this is another site's key",
        .path.display()
    )]
    NameMismatch {
        /// The file.
        path: PathBuf,
        /// The name asked for.
        expected: String,
        /// The name in the file.
        found: String,
    },
    /// The key file's content is not a signer key string.
    #[error("key file {}: {error}", .path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong with its content.
        error: NoteError,
    },
    /// The key name asked for is not a valid key name.
    #[error(transparent)]
    BadName(NoteError),
}

/// Checks a key name: non-empty, with no Unicode space, no plus sign
/// (c2sp.org/signed-note, "Format") and no control character (a note may not
/// hold one).
pub fn check_key_name(name: &str) -> Result<(), NoteError> {
    let bad = |reason| {
        Err(NoteError::BadKeyName {
            name: name.to_owned(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.contains('+') {
        return bad("it contains a plus sign");
    }
    if name.chars().any(char::is_whitespace) {
        return bad("it contains a space");
    }
    if name.chars().any(char::is_control) {
        return bad("it contains a control character");
    }
    Ok(())
}

/// The key ID of an Ed25519 key:
/// `SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]` (c2sp.org/signed-note,
/// "Ed25519 signatures").
pub fn key_id(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    crate::key_string::typed_key_id(name, ED25519_TYPE, public_key)
}

/// Decodes the `base64(0x01 ‖ 32 bytes)` part of a key string.
fn decode_typed_key(b64: &str) -> Result<[u8; 32], NoteError> {
    decode_key_of_type(b64, ED25519_TYPE, "Ed25519")
}

/// A log's Ed25519 signing key, named after the log origin.
///
/// Its [`Debug`] output shows the name and key ID, never the key.
#[derive(Clone)]
pub struct SigningKey {
    name: String,
    id: [u8; 4],
    key: ed25519_dalek::SigningKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("name", &self.name)
            .field("key_id", &hex::encode(self.id))
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A new random key for `name`, from the operating system's generator.
    pub fn generate(name: &str) -> Result<SigningKey, NoteError> {
        check_key_name(name)?;
        let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        Ok(SigningKey::from_dalek(name, key))
    }

    /// The key for `name` whose RFC 8032 private key (seed) is `seed`.
    pub fn from_seed(name: &str, seed: &[u8; SECRET_KEY_LENGTH]) -> Result<SigningKey, NoteError> {
        check_key_name(name)?;
        Ok(SigningKey::from_dalek(
            name,
            ed25519_dalek::SigningKey::from_bytes(seed),
        ))
    }

    /// The RFC 8032 private key (seed), for a witness key kept in the same
    /// kind of file.
    pub(crate) fn seed(&self) -> [u8; SECRET_KEY_LENGTH] {
        self.key.to_bytes()
    }

    fn from_dalek(name: &str, key: ed25519_dalek::SigningKey) -> SigningKey {
        let id = key_id(name, key.verifying_key().as_bytes());
        SigningKey {
            name: name.to_owned(),
            id,
            key,
        }
    }

    /// Parses `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 ‖ seed)>`.
    pub fn from_signer_string(s: &str) -> Result<SigningKey, NoteError> {
        let rest = s
            .strip_prefix(PRIVATE_PREFIX)
            .ok_or_else(|| NoteError::BadKey {
                reason: "a signer key starts with PRIVATE+KEY+".to_owned(),
            })?;
        // The base64 key may itself hold plus signs: split twice only.
        let parts: Vec<&str> = rest.splitn(3, '+').collect();
        let [name, id, b64] = parts[..] else {
            return Err(NoteError::BadKey {
                reason: format!(
                    "a signer key is PRIVATE+KEY+<name>+<key ID>+<key>, this one has {} parts after PRIVATE+KEY",
                    parts.len()
                ),
            });
        };
        check_key_name(name)?;
        let seed = decode_typed_key(b64)?;
        let key = SigningKey::from_dalek(name, ed25519_dalek::SigningKey::from_bytes(&seed));
        check_stated_id(id, key.id)?;
        Ok(key)
    }

    /// `PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 ‖ seed)>`: the secret.
    pub fn to_signer_string(&self) -> String {
        let mut raw = Vec::with_capacity(1 + SECRET_KEY_LENGTH);
        raw.push(ED25519_TYPE);
        raw.extend_from_slice(self.key.as_bytes());
        format!(
            "{PRIVATE_PREFIX}{}+{}+{}",
            self.name,
            hex::encode(self.id),
            BASE64.encode(&raw)
        )
    }

    /// The matching public key.
    pub fn verifier(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// The key name (the log origin).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> [u8; 4] {
        self.id
    }

    /// The signature line of this key over `text`:
    /// `— <name> <base64(key ID ‖ signature)>\n`.
    fn signature_line(&self, text: &str) -> String {
        let signature = self.key.sign(text.as_bytes());
        let mut raw = Vec::with_capacity(4 + SIGNATURE_LENGTH);
        raw.extend_from_slice(&self.id);
        raw.extend_from_slice(&signature.to_bytes());
        format!("{SIGNATURE_PREFIX}{} {}\n", self.name, BASE64.encode(&raw))
    }

    /// Loads the signer key stored at `path`, or creates one for `name` if
    /// there is no file there. Returns the key and whether it was created.
    ///
    /// A new key is written to a temporary file created with mode 0600,
    /// fsynced, linked into place (so a crash never leaves a half-written key
    /// file, and two processes never both create one) and the directory is
    /// fsynced. An existing file is refused when its mode gives its group or
    /// others any access, when it is not a regular file, or when the key in
    /// it has another name than `name`.
    pub fn load_or_create(path: &Path, name: &str) -> Result<(SigningKey, bool), KeyFileError> {
        check_key_name(name).map_err(KeyFileError::BadName)?;
        match SigningKey::load(path, name) {
            Ok(key) => return Ok((key, false)),
            Err(KeyFileError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let key = SigningKey::generate(name).map_err(KeyFileError::BadName)?;
        match key.create_file(path) {
            Ok(()) => Ok((key, true)),
            // Another process created it first: use theirs.
            Err(KeyFileError::Io { source, .. })
                if source.kind() == io::ErrorKind::AlreadyExists =>
            {
                Ok((SigningKey::load(path, name)?, false))
            }
            Err(e) => Err(e),
        }
    }

    /// Loads the key file at `path`, which must hold a key named `name`.
    fn load(path: &Path, name: &str) -> Result<SigningKey, KeyFileError> {
        let io_err = |action| {
            let path = path.to_owned();
            move |source| KeyFileError::Io {
                action,
                path,
                source,
            }
        };
        let file = File::open(path).map_err(io_err("opening"))?;
        // The descriptor's metadata: the file checked is the file read.
        let meta = file.metadata().map_err(io_err("inspecting"))?;
        if !meta.is_file() {
            return Err(KeyFileError::NotAFile {
                path: path.to_owned(),
            });
        }
        let mode = meta.mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::TooOpen {
                path: path.to_owned(),
                mode,
            });
        }
        let mut text = String::new();
        file.take(MAX_KEY_FILE_BYTES)
            .read_to_string(&mut text)
            .map_err(io_err("reading"))?;
        let line = text.strip_suffix('\n').unwrap_or(&text);
        let key =
            SigningKey::from_signer_string(line).map_err(|error| KeyFileError::Malformed {
                path: path.to_owned(),
                error,
            })?;
        if key.name != name {
            return Err(KeyFileError::NameMismatch {
                path: path.to_owned(),
                expected: name.to_owned(),
                found: key.name,
            });
        }
        Ok(key)
    }

    /// Writes this key to a new file at `path` (see [`Self::load_or_create`]).
    fn create_file(&self, path: &Path) -> Result<(), KeyFileError> {
        let io_err = |action, p: &Path| {
            let p = p.to_owned();
            move |source| KeyFileError::Io {
                action,
                path: p,
                source,
            }
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        let file_name = path.file_name().ok_or_else(|| KeyFileError::Io {
            action: "naming",
            path: path.to_owned(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "the path has no file name"),
        })?;
        let tmp = dir.join(format!(
            ".{}.new-{}-{:08x}",
            file_name.to_string_lossy(),
            std::process::id(),
            rand::random::<u32>()
        ));
        let result = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(io_err("creating", &tmp))?;
            let mut secret = self.to_signer_string();
            secret.push('\n');
            file.write_all(secret.as_bytes())
                .map_err(io_err("writing", &tmp))?;
            file.sync_all().map_err(io_err("syncing", &tmp))?;
            fs::hard_link(&tmp, path).map_err(io_err("creating", path))
        })();
        // The temporary name goes whatever happened; the key lives on under
        // `path` if the link was made.
        let _ = fs::remove_file(&tmp);
        result?;
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("syncing the directory", &dir))
    }
}

/// A log's Ed25519 public key with its name and key ID.
///
/// Its [`Display`](fmt::Display) form is the verifier key string
/// `<name>+<8 hex digits of key ID>+<base64(0x01 ‖ public key)>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: [u8; 4],
    key: ed25519_dalek::VerifyingKey,
}

impl VerifierKey {
    /// Parses `<name>+<hex key ID>+<base64(0x01 ‖ public key)>`, checking
    /// the name, that the key is a valid Ed25519 point of large order, and
    /// that the key ID is the one computed from name and key.
    pub fn parse(s: &str) -> Result<VerifierKey, NoteError> {
        if s.starts_with(PRIVATE_PREFIX) {
            return Err(NoteError::BadKey {
                reason: "this is a signer (private) key, not a verifier key; keep it secret"
                    .to_owned(),
            });
        }
        let (name, id, key) = parse_public_key(s, ED25519_TYPE, "Ed25519", "verifier key")?;
        Ok(VerifierKey {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// The key name (the log origin).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key ID.
    pub fn key_id(&self) -> [u8; 4] {
        self.id
    }

    /// `name+hexid`: how reports and errors name the key.
    pub fn short(&self) -> String {
        format!("{}+{}", self.name, hex::encode(self.id))
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&public_key_string(
            &self.name,
            self.id,
            ED25519_TYPE,
            &self.key,
        ))
    }
}

/// Signs `text` as a note: `text ‖ "\n" ‖ signature line`.
///
/// The text must be non-empty, end in a newline and hold no control
/// character other than newline (c2sp.org/signed-note, "Format").
pub fn sign_note(text: &str, key: &SigningKey) -> Result<String, NoteError> {
    if text.is_empty() {
        return Err(NoteError::BadText {
            reason: "it is empty",
        });
    }
    if !text.ends_with('\n') {
        return Err(NoteError::BadText {
            reason: "it does not end in a newline",
        });
    }
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::BadText {
            reason: "it holds a control character other than newline",
        });
    }
    Ok(format!("{text}\n{}", key.signature_line(text)))
}

/// Splits a well-formed note (c2sp.org/signed-note: valid UTF-8, no control
/// character but newline, a text ending in newline, a blank line, then at
/// most [`MAX_SIGNATURES`] signature lines) into its text and its
/// signature lines, verifying none.
pub(crate) fn split_note(note: &str) -> Result<(&str, Vec<SignatureLine<'_>>), NoteError> {
    if note.len() > MAX_NOTE_BYTES {
        return Err(NoteError::TooLarge {
            size: note.len(),
            max: MAX_NOTE_BYTES,
        });
    }
    for (i, line) in note.split('\n').enumerate() {
        if line.chars().any(|c| c < ' ') {
            return Err(NoteError::Malformed {
                line: i + 1,
                reason: "it holds a control character".to_owned(),
            });
        }
    }
    let last_line = note.split('\n').count();
    if !note.ends_with('\n') {
        return Err(NoteError::Malformed {
            line: last_line,
            reason: "the note does not end in a newline".to_owned(),
        });
    }
    // The text ends at the last blank line (its newline stays in the text).
    let Some(split) = note.rfind("\n\n") else {
        return Err(NoteError::Malformed {
            line: last_line,
            reason: "no blank line separates the text from the signatures".to_owned(),
        });
    };
    let text = &note[..=split];
    let signatures = &note[split + 2..];
    let first_signature_line = text.matches('\n').count() + 2;
    if signatures.is_empty() {
        return Err(NoteError::Malformed {
            line: first_signature_line,
            reason: "the note has no signature lines".to_owned(),
        });
    }
    let lines: Vec<&str> = signatures
        .strip_suffix('\n')
        .unwrap_or(signatures)
        .split('\n')
        .collect();
    if lines.len() > MAX_SIGNATURES {
        return Err(NoteError::TooManySignatures {
            count: lines.len(),
            max: MAX_SIGNATURES,
        });
    }
    let mut parsed = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        parsed.push(parse_signature_line(line, first_signature_line + i)?);
    }
    Ok((text, parsed))
}

/// One signature line of a note, parsed but not verified.
pub(crate) struct SignatureLine<'a> {
    /// The key name.
    pub name: &'a str,
    /// The key ID, the first four bytes of the signature.
    pub id: [u8; 4],
    /// What follows the key ID.
    pub signature: Vec<u8>,
}

impl SignatureLine<'_> {
    /// `name+hexid`, as reports name a key.
    pub fn short(&self) -> String {
        format!("{}+{}", self.name, hex::encode(self.id))
    }
}

fn parse_signature_line(line: &str, line_no: usize) -> Result<SignatureLine<'_>, NoteError> {
    let malformed = |reason: String| NoteError::Malformed {
        line: line_no,
        reason,
    };
    let rest = line.strip_prefix(SIGNATURE_PREFIX).ok_or_else(|| {
        malformed("a signature line starts with an em dash (U+2014) and a space".to_owned())
    })?;
    let (name, b64) = rest
        .split_once(' ')
        .ok_or_else(|| malformed("a signature line is \"— <key name> <signature>\"".to_owned()))?;
    check_key_name(name).map_err(|e| malformed(e.to_string()))?;
    let raw = BASE64
        .decode(b64)
        .map_err(|e| malformed(format!("the signature is not base64: {e}")))?;
    if raw.len() < 5 {
        return Err(malformed(format!(
            "a signature has a 4-byte key ID and at least one more byte, this one {} bytes",
            raw.len()
        )));
    }
    Ok(SignatureLine {
        name,
        id: [raw[0], raw[1], raw[2], raw[3]],
        signature: raw[4..].to_vec(),
    })
}

/// Checks a signed note against one trusted key and returns its text.
///
/// Follows c2sp.org/signed-note: the note must be well formed (valid UTF-8,
/// no control character but newline, a text ending in newline, a blank line,
/// then signature lines); signatures by other keys (another name or key ID)
/// are ignored; the signature by `key` must be present and verify (with
/// RFC 8032 strict verification), and if any signature line of `key` fails
/// to verify the whole note is rejected.
pub fn open_note<'a>(note: &'a str, key: &VerifierKey) -> Result<&'a str, NoteError> {
    let (text, lines) = split_note(note)?;
    let mut verified = false;
    for line in &lines {
        if line.name != key.name || line.id != key.id {
            continue;
        }
        let good = <[u8; SIGNATURE_LENGTH]>::try_from(&line.signature[..])
            .map(|sig| ed25519_dalek::Signature::from_bytes(&sig))
            .is_ok_and(|sig| key.key.verify_strict(text.as_bytes(), &sig).is_ok());
        if !good {
            return Err(NoteError::BadSignature { key: key.short() });
        }
        verified = true;
    }
    if !verified {
        return Err(NoteError::NoSignatureByKey {
            key: key.short(),
            found: lines.iter().map(SignatureLine::short).collect(),
        });
    }
    Ok(text)
}

/// A transparency log checkpoint (c2sp.org/tlog-checkpoint): the log's
/// origin, its size and the RFC 9162 Merkle tree root at that size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin: the site's name, which is also its key name.
    pub origin: String,
    /// The number of leaves.
    pub size: u64,
    /// The RFC 9162 §2.1.1 Merkle tree hash of the first `size` leaves.
    pub root: [u8; 32],
}

impl Checkpoint {
    /// The note text: `<origin>\n<size>\n<base64 root>\n` (no extension
    /// lines).
    pub fn to_body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        )
    }

    /// Parses a checkpoint note text, ignoring any extension lines.
    pub fn parse_body(text: &str) -> Result<Checkpoint, NoteError> {
        Checkpoint::parse_body_with_extensions(text).map(|(cp, _)| cp)
    }

    /// Parses a checkpoint note text; returns it with its extension lines
    /// (the lines after the third, which this log never writes).
    pub fn parse_body_with_extensions(text: &str) -> Result<(Checkpoint, Vec<String>), NoteError> {
        let body = text.strip_suffix('\n').ok_or(NoteError::BadCheckpoint {
            line: text.split('\n').count(),
            reason: "the text does not end in a newline".to_owned(),
        })?;
        let lines: Vec<&str> = body.split('\n').collect();
        if let Some(i) = lines.iter().position(|l| l.is_empty()) {
            return Err(NoteError::BadCheckpoint {
                line: i + 1,
                reason: "the line is empty".to_owned(),
            });
        }
        let [origin, size, root, extensions @ ..] = &lines[..] else {
            return Err(NoteError::BadCheckpoint {
                line: lines.len() + 1,
                reason: "a checkpoint has an origin, a tree size and a root hash line".to_owned(),
            });
        };
        let size_ok =
            size.bytes().all(|b| b.is_ascii_digit()) && (*size == "0" || !size.starts_with('0'));
        let size = size
            .parse::<u64>()
            .ok()
            .filter(|_| size_ok)
            .ok_or_else(|| NoteError::SizeNotDecimal {
                found: (*size).to_owned(),
            })?;
        let root = BASE64
            .decode(root)
            .ok()
            .and_then(|r| <[u8; 32]>::try_from(r).ok())
            .ok_or_else(|| NoteError::RootNotHash {
                found: (*root).to_owned(),
            })?;
        Ok((
            Checkpoint {
                origin: (*origin).to_owned(),
                size,
                root,
            },
            extensions.iter().map(|l| (*l).to_owned()).collect(),
        ))
    }
}

/// The checkpoint signed by `key`, as a complete signed note:
/// `to_body() ‖ "\n" ‖ "— <name> <base64(key ID ‖ signature)>\n"`.
///
/// The origin should be the key's name (what [`open_checkpoint`] demands);
/// an origin holding a newline or a control character yields a note that no
/// verifier accepts.
pub fn sign_checkpoint(checkpoint: &Checkpoint, key: &SigningKey) -> String {
    let body = checkpoint.to_body();
    let line = key.signature_line(&body);
    format!("{body}\n{line}")
}

/// Verifies a checkpoint note against `key` and returns the checkpoint.
///
/// The note must pass [`open_note`], its text must be a checkpoint
/// (c2sp.org/tlog-checkpoint) and its origin must equal the key's name.
/// Extension lines are accepted and ignored; see
/// [`open_checkpoint_with_extensions`] to see them.
pub fn open_checkpoint(note: &str, key: &VerifierKey) -> Result<Checkpoint, NoteError> {
    open_checkpoint_with_extensions(note, key).map(|(cp, _)| cp)
}

/// As [`open_checkpoint`], also returning the checkpoint's extension lines.
pub fn open_checkpoint_with_extensions(
    note: &str,
    key: &VerifierKey,
) -> Result<(Checkpoint, Vec<String>), NoteError> {
    let text = open_note(note, key)?;
    let (checkpoint, extensions) = Checkpoint::parse_body_with_extensions(text)?;
    if checkpoint.origin != key.name {
        return Err(NoteError::OriginMismatch {
            origin: checkpoint.origin,
            key_name: key.name.clone(),
        });
    }
    Ok((checkpoint, extensions))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};
    use std::os::unix::fs::PermissionsExt;

    fn checkpoint(origin: &str) -> Checkpoint {
        Checkpoint {
            origin: origin.to_owned(),
            size: 12_345,
            root: [7u8; 32],
        }
    }

    fn key(name: &str) -> SigningKey {
        SigningKey::generate(name).expect("valid name")
    }

    #[test]
    fn sign_and_open_round_trip() {
        let k = key("site.example/archive");
        let cp = checkpoint("site.example/archive");
        let note = sign_checkpoint(&cp, &k);
        assert!(note.starts_with("site.example/archive\n12345\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n\n\u{2014} site.example/archive "));
        assert!(note.ends_with('\n'));
        assert_eq!(open_checkpoint(&note, &k.verifier()), Ok(cp.clone()));
        assert_eq!(Checkpoint::parse_body(&cp.to_body()), Ok(cp.clone()));
        // The empty tree too.
        let empty = Checkpoint {
            origin: "site.example/archive".into(),
            size: 0,
            root: [0; 32],
        };
        assert_eq!(
            open_checkpoint(&sign_checkpoint(&empty, &k), &k.verifier()),
            Ok(empty)
        );
    }

    #[test]
    fn key_strings_round_trip() {
        let k = key("library");
        let v = k.verifier();
        let s = v.to_string();
        assert!(s.starts_with(&format!("library+{}+", hex::encode(v.key_id()))));
        assert_eq!(VerifierKey::parse(&s), Ok(v.clone()));
        assert_eq!(v.name(), "library");
        assert_eq!(v.key_id(), key_id("library", &v.public_key()));
        let secret = k.to_signer_string();
        assert!(secret.starts_with("PRIVATE+KEY+library+"));
        let back = SigningKey::from_signer_string(&secret).expect("parses");
        assert_eq!(back.verifier(), v);
        assert_eq!(back.to_signer_string(), secret);
        assert!(!format!("{k:?}").contains(&secret[secret.len() - 20..]));
    }

    #[test]
    fn malformed_key_strings_are_refused_with_a_cause() {
        // A fixed key: the upper-cased id below must differ from the id,
        // which a random key's all-digit id (one in 43) would not.
        let fixed = SigningKey::from_seed("library", &[3; SECRET_KEY_LENGTH]).expect("key");
        let v = fixed.verifier().to_string();
        let parts: Vec<&str> = v.splitn(3, '+').collect();
        assert!(
            parts[1].bytes().any(|b| b.is_ascii_alphabetic()),
            "the fixed key's id {} has a letter",
            parts[1]
        );
        let other_id = if parts[1] == "00000000" {
            "00000001"
        } else {
            "00000000"
        };
        let cases = [
            format!("{}+{other_id}+{}", parts[0], parts[2]),
            format!("{}+{}", parts[0], parts[2]),
            format!("lib rary+{}+{}", parts[1], parts[2]),
            format!("+{}+{}", parts[1], parts[2]),
            format!("{}+{}+{}", parts[0], parts[1].to_uppercase(), parts[2]),
            format!("{}+{}+{}", parts[0], parts[1], &parts[2][1..]),
            format!("{}+{}+{}", parts[0], parts[1], BASE64.encode([2u8; 33])),
            format!("{}+{}+{}", parts[0], parts[1], BASE64.encode([1u8; 32])),
            key("library").to_signer_string(),
        ];
        for c in &cases {
            assert!(VerifierKey::parse(c).is_err(), "accepted {c}");
        }
        assert!(matches!(
            VerifierKey::parse(&cases[0]),
            Err(NoteError::KeyIdMismatch { .. })
        ));
        assert!(matches!(
            VerifierKey::parse(&cases[2]),
            Err(NoteError::BadKeyName { .. })
        ));
        assert!(SigningKey::from_signer_string(&v).is_err());
        assert!(SigningKey::from_signer_string("PRIVATE+KEY+a+b").is_err());
    }

    #[test]
    fn each_kind_of_failure_has_its_own_error() {
        let k = key("site");
        let note = sign_checkpoint(&checkpoint("site"), &k);
        let v = k.verifier();

        // A byte of the text changed: 12345 → 12346.
        let body_flip = note.replacen("12345", "12346", 1);
        assert_eq!(
            open_checkpoint(&body_flip, &v),
            Err(NoteError::BadSignature { key: v.short() })
        );

        // A byte of the signature changed (past the key ID).
        let (text, sig_line) = note.split_at(note.rfind('\u{2014}').expect("signature line"));
        let b64 = sig_line.trim_end().rsplit(' ').next().expect("signature");
        let mut raw = BASE64.decode(b64).expect("base64");
        raw[10] ^= 1;
        let sig_flip = format!("{text}\u{2014} site {}\n", BASE64.encode(&raw));
        assert_eq!(
            open_checkpoint(&sig_flip, &v),
            Err(NoteError::BadSignature { key: v.short() })
        );

        // Another key of the same name: its ID differs, so the signature is
        // an unknown key's and is ignored, leaving none by the key asked for.
        let other = key("site").verifier();
        assert!(matches!(
            open_checkpoint(&note, &other),
            Err(NoteError::NoSignatureByKey { key, found }) if key == other.short() && found == vec![v.short()]
        ));

        // A key of another name.
        let stranger = key("elsewhere").verifier();
        assert!(matches!(
            open_checkpoint(&note, &stranger),
            Err(NoteError::NoSignatureByKey { .. })
        ));

        // Signed by the right key, but for another log.
        let foreign = sign_checkpoint(&checkpoint("other-site"), &k);
        assert_eq!(
            open_checkpoint(&foreign, &v),
            Err(NoteError::OriginMismatch {
                origin: "other-site".into(),
                key_name: "site".into()
            })
        );

        // Not a note at all.
        assert!(matches!(
            open_checkpoint("site\n1\n", &v),
            Err(NoteError::Malformed { .. })
        ));
        assert!(matches!(
            open_checkpoint(&note.replace('\u{2014}', "-"), &v),
            Err(NoteError::Malformed { line: 5, .. })
        ));
        assert!(matches!(
            open_checkpoint(&note.replacen('\n', "\r\n", 1), &v),
            Err(NoteError::Malformed { line: 1, .. })
        ));
        assert!(matches!(
            open_checkpoint(note.trim_end(), &v),
            Err(NoteError::Malformed { .. })
        ));
    }

    #[test]
    fn unknown_signatures_are_ignored_and_bad_known_ones_reject() {
        let k = key("site");
        let witness = key("witness.example");
        let note = sign_checkpoint(&checkpoint("site"), &k);
        let body = checkpoint("site").to_body();
        let cosigned = format!("{note}{}", witness.signature_line(&body));
        assert_eq!(
            open_checkpoint(&cosigned, &k.verifier()),
            Ok(checkpoint("site"))
        );
        assert_eq!(open_note(&cosigned, &witness.verifier()), Ok(body.as_str()));
        // A second line by the same key that does not verify rejects.
        let forged = format!(
            "{note}\u{2014} site {}\n",
            BASE64.encode([&k.key_id()[..], &[0u8; 64][..]].concat())
        );
        assert!(matches!(
            open_checkpoint(&forged, &k.verifier()),
            Err(NoteError::BadSignature { .. })
        ));
        // Too many signatures.
        let many = format!(
            "{note}{}",
            witness.signature_line(&body).repeat(MAX_SIGNATURES)
        );
        assert!(matches!(
            open_checkpoint(&many, &k.verifier()),
            Err(NoteError::TooManySignatures { .. })
        ));
    }

    #[test]
    fn checkpoint_bodies_are_parsed_strictly() {
        let root = BASE64.encode([1u8; 32]);
        let parse = |s: String| Checkpoint::parse_body_with_extensions(&s);
        assert_eq!(
            parse(format!("o\n5\n{root}\next one\next two\n")).map(|(_, e)| e),
            Ok(vec!["ext one".to_owned(), "ext two".to_owned()])
        );
        for size in [
            "05",
            "-1",
            "+1",
            "1.0",
            "0x1",
            "18446744073709551616",
            " 1",
            "",
        ] {
            let r = parse(format!("o\n{size}\n{root}\n"));
            assert!(
                matches!(
                    r,
                    Err(NoteError::SizeNotDecimal { .. }) | Err(NoteError::BadCheckpoint { .. })
                ),
                "{size:?}: {r:?}"
            );
        }
        assert!(matches!(
            parse(format!("o\n05\n{root}\n")),
            Err(NoteError::SizeNotDecimal { .. })
        ));
        for bad_root in [
            BASE64.encode([1u8; 31]),
            BASE64.encode([1u8; 33]),
            "!!".into(),
        ] {
            assert!(matches!(
                parse(format!("o\n5\n{bad_root}\n")),
                Err(NoteError::RootNotHash { .. })
            ));
        }
        assert!(matches!(
            parse("o\n5\n".into()),
            Err(NoteError::BadCheckpoint { line: 3, .. })
        ));
        assert!(matches!(
            parse(format!("o\n5\n{root}")),
            Err(NoteError::BadCheckpoint { .. })
        ));
        assert_eq!(
            Checkpoint::parse_body(&format!("o\n18446744073709551615\n{root}\n")).map(|c| c.size),
            Ok(u64::MAX)
        );
    }

    #[test]
    fn key_names_are_checked() {
        for bad in ["", "a+b", "a b", "a\u{3000}b", "a\tb", "a\u{7f}"] {
            assert!(SigningKey::generate(bad).is_err(), "{bad:?}");
        }
        assert!(SigningKey::generate("example.com/log42").is_ok());
        assert!(sign_note("no newline", &key("a")).is_err());
        assert!(sign_note("", &key("a")).is_err());
        assert!(sign_note("tab\there\n", &key("a")).is_err());
        let k = key("a");
        let note = sign_note("any\n\ntext\n", &k).expect("signs");
        assert_eq!(open_note(&note, &k.verifier()), Ok("any\n\ntext\n"));
    }

    #[test]
    fn key_file_is_created_private_and_loaded_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("log.key");
        let (k, created) = SigningKey::load_or_create(&path, "site").expect("create");
        assert!(created);
        let mode = fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(
            fs::read_to_string(&path).expect("read"),
            format!("{}\n", k.to_signer_string())
        );
        let (again, created) = SigningKey::load_or_create(&path, "site").expect("load");
        assert!(!created);
        assert_eq!(again.verifier(), k.verifier());
        // Nothing but the key file is left behind.
        assert_eq!(fs::read_dir(dir.path()).expect("ls").count(), 1);

        // Another name: refused, with both names.
        let e = SigningKey::load_or_create(&path, "other").expect_err("name differs");
        assert!(
            matches!(&e, KeyFileError::NameMismatch { expected, found, .. } if expected == "other" && found == "site")
        );

        // Readable by group or others: refused, whatever the content.
        for open in [0o640, 0o604, 0o660] {
            fs::set_permissions(&path, fs::Permissions::from_mode(open)).expect("chmod");
            let e = SigningKey::load_or_create(&path, "site").expect_err("too open");
            assert!(
                matches!(e, KeyFileError::TooOpen { mode, .. } if mode == open),
                "{e}"
            );
            assert!(e.to_string().contains("chmod 600"));
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).expect("chmod");
        assert!(SigningKey::load_or_create(&path, "site").is_ok());

        // Garbage in a private file.
        let junk = dir.path().join("junk.key");
        fs::write(&junk, "not a key\n").expect("write");
        fs::set_permissions(&junk, fs::Permissions::from_mode(0o600)).expect("chmod");
        assert!(matches!(
            SigningKey::load_or_create(&junk, "site"),
            Err(KeyFileError::Malformed { .. })
        ));
        // A directory.
        assert!(matches!(
            SigningKey::load_or_create(dir.path(), "site"),
            Err(KeyFileError::NotAFile { .. }) | Err(KeyFileError::TooOpen { .. })
        ));
        // A bad name is refused before touching the disk.
        let fresh = dir.path().join("fresh.key");
        assert!(matches!(
            SigningKey::load_or_create(&fresh, "a b"),
            Err(KeyFileError::BadName(_))
        ));
        assert!(!fresh.exists());
    }

    /// The worked example of `docs/evidence-format.md` (§ Worked example),
    /// which must stay reproducible from this code.
    #[test]
    fn worked_example_of_the_spec() {
        let seed: [u8; 32] = Sha256::digest(b"custos evidence-format example key").into();
        let k = SigningKey::from_seed("example-site", &seed).expect("name");
        assert_eq!(k.to_signer_string(), EXAMPLE_SIGNER);
        assert_eq!(k.verifier().to_string(), EXAMPLE_VERIFIER);
        let leaves =
            [EXAMPLE_LEAF_0, EXAMPLE_LEAF_1].map(|l| crate::merkle::leaf_hash(l.as_bytes()));
        let root = crate::merkle::root_from_leaf_hashes(&leaves);
        let cp = Checkpoint {
            origin: "example-site".into(),
            size: 2,
            root,
        };
        let note = sign_checkpoint(&cp, &k);
        assert_eq!(note, EXAMPLE_NOTE);
        assert_eq!(open_checkpoint(&note, &k.verifier()), Ok(cp));
    }

    const EXAMPLE_SIGNER: &str =
        "PRIVATE+KEY+example-site+d03078e7+ARrT1swXPEtkcOPwjtyEKCbzIqBIrvCleocrxY7fTmOx";
    const EXAMPLE_VERIFIER: &str =
        "example-site+d03078e7+AWDfBWRRQoCitmBlHKd6KBciOuXWiXXPoVFbEU0oyehS";
    const EXAMPLE_LEAF_0: &str = r#"{"at_ms":1767225599990,"camera":"gate","detail":null,"state":"recording","time_ms":1767225600000,"type":"camera.state"}"#;
    const EXAMPLE_LEAF_1: &str = r#"{"bytes":5,"camera":"gate","end_ms":1767225602000,"frames":20,"path":"video/gate/1767225600000.mp4","sha256":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824","start_ms":1767225600000,"time_ms":1767225602010,"type":"segment.sealed"}"#;
    const EXAMPLE_NOTE: &str = "example-site\n2\nN7PrOuWg9t0wupGDTEu/5BvZZYNvk0yjFFVi2H2vusw=\n\n\u{2014} example-site 0DB45wfjPvR96gVViMfHoYGJ7G1JiS/Ke1WKH7qpd4xS9sUkN/kfv6S31F4q0c2kJ2rN5Xjhn0BRzR7fQI9Cm48DTgM=\n";
}
