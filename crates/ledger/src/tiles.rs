//! The log as C2SP `tlog-tiles`: the static files a log publishes so that
//! anyone can fetch its hashes and entries with plain GETs and check them
//! against a signed checkpoint, with no server of ours in the way.
//!
//! A tile at level L holds the hashes of up to 256 consecutive complete
//! subtrees of height 8·L (level 0: leaf hashes); tile N of level L covers
//! subtrees `[256·N, 256·N + W)`. A full tile (W = 256) never changes; the
//! right edge of a tree is a partial tile, published under its width
//! (`.p/W`), so it never changes either: a larger tree publishes a wider
//! partial tile beside it. Entry bundles hold the entries of the level-0
//! tile of the same index, each after a big-endian `u16` length.
//!
//! Every object this module names is therefore immutable once written,
//! which is what lets a publisher put each one create-only, and the
//! checkpoint is the only object that is ever replaced.

use std::fmt::Write as _;

use crate::merkle::{HashSource, MerkleError};

/// Hashes (or entries) in a full tile.
pub const TILE_WIDTH: u64 = 256;

/// Levels of the tree one tile level spans (log2 of [`TILE_WIDTH`]).
const TILE_HEIGHT: u32 = 8;

/// The largest entry an entry bundle can hold (its length is a `u16`).
pub const MAX_BUNDLED_ENTRY: usize = u16::MAX as usize;

/// Why a tile could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TileError {
    /// An entry is longer than an entry bundle can hold.
    #[error("entry {index} is {len} bytes; a tlog-tiles entry bundle holds entries of at most 65535 bytes")]
    EntryTooLong {
        /// The entry's index in the log.
        index: u64,
        /// Its length in bytes.
        len: usize,
    },
    /// A hash the tile needs could not be read.
    #[error("reading the hashes of tile {level}/{index}: {source}")]
    Hashes {
        /// The tile's level.
        level: u8,
        /// The tile's index.
        index: u64,
        /// Why.
        #[source]
        source: MerkleError,
    },
}

/// One object of a published log, other than the checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tile {
    /// Hash tile `index` of tile level `level`, `width` hashes wide.
    Hashes {
        /// Tile level (level L holds hashes of subtrees of height 8·L).
        level: u8,
        /// Tile index within its level.
        index: u64,
        /// Hashes in it, 1..=256.
        width: u64,
    },
    /// The entry bundle of level-0 tile `index`, `width` entries long.
    Entries {
        /// Tile index.
        index: u64,
        /// Entries in it, 1..=256.
        width: u64,
    },
}

impl Tile {
    /// The object's path under the log's prefix, as tlog-tiles names it:
    /// `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`.
    pub fn path(&self) -> String {
        let (level, index, width) = match *self {
            Tile::Hashes {
                level,
                index,
                width,
            } => (level.to_string(), index, width),
            Tile::Entries { index, width } => ("entries".to_owned(), index, width),
        };
        let mut path = format!("tile/{level}/{}", index_path(index));
        if width < TILE_WIDTH {
            let _ = write!(path, ".p/{width}");
        }
        path
    }

    /// Leaves the tile covers: `[first, first + count)` of level 0 for an
    /// entry bundle and a level-0 tile.
    pub fn width(&self) -> u64 {
        match *self {
            Tile::Hashes { width, .. } | Tile::Entries { width, .. } => width,
        }
    }
}

/// A tile index as tlog-tiles writes it in a path: groups of three
/// decimal digits, every group but the last prefixed with `x`
/// (1234067 → `x001/x234/067`).
pub fn index_path(index: u64) -> String {
    let mut groups = Vec::new();
    let mut n = index;
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    let mut out = String::new();
    for (i, group) in groups.iter().rev().enumerate() {
        if i > 0 {
            out.push('/');
        }
        if i + 1 < groups.len() {
            let _ = write!(out, "x{group:03}");
        } else {
            let _ = write!(out, "{group:03}");
        }
    }
    out
}

/// Every tile of a tree of `size` leaves, at `level`: full ones, then the
/// partial right edge if there is one.
fn tiles_of_level(level: u8, size: u64) -> impl Iterator<Item = (u64, u64)> {
    let nodes = size >> (TILE_HEIGHT * u32::from(level));
    let full = nodes / TILE_WIDTH;
    let rest = nodes % TILE_WIDTH;
    (0..full)
        .map(|i| (i, TILE_WIDTH))
        .chain((rest > 0).then_some((full, rest)))
}

/// The tiles and entry bundles a log of `new_size` entries publishes that a
/// log of `old_size` had not: the tiles whose index or width is new, level
/// by level, entry bundles first. Publishing them, then a checkpoint of
/// `new_size`, moves a published log from one size to the other.
pub fn tiles_to_publish(old_size: u64, new_size: u64) -> Vec<Tile> {
    let mut out = Vec::new();
    if new_size <= old_size {
        return out;
    }
    let mut seen_at_old = std::collections::HashSet::new();
    for level in 0u8.. {
        if new_size >> (TILE_HEIGHT * u32::from(level)) == 0 {
            break;
        }
        seen_at_old.clear();
        seen_at_old.extend(tiles_of_level(level, old_size));
        for (index, width) in tiles_of_level(level, new_size) {
            if seen_at_old.contains(&(index, width)) {
                continue;
            }
            if level == 0 {
                out.push(Tile::Entries { index, width });
            }
            out.push(Tile::Hashes {
                level,
                index,
                width,
            });
        }
    }
    out
}

/// The bytes of hash tile `level`/`index`, `width` hashes wide, read from
/// `src` (which must hold at least the tree the tile belongs to).
pub fn hash_tile<S: HashSource + ?Sized>(
    src: &S,
    level: u8,
    index: u64,
    width: u64,
) -> Result<Vec<u8>, TileError> {
    let height = TILE_HEIGHT * u32::from(level);
    let mut out = Vec::with_capacity(width as usize * 32);
    for k in 0..width {
        let hash = src
            .subtree_hash(height, index * TILE_WIDTH + k)
            .map_err(|source| TileError::Hashes {
                level,
                index,
                source,
            })?;
        out.extend_from_slice(&hash);
    }
    Ok(out)
}

/// An entry bundle: each entry after its length as a big-endian `u16`.
/// `first_index` is the index of the first entry, for the error.
pub fn entry_bundle<E: AsRef<[u8]>>(first_index: u64, entries: &[E]) -> Result<Vec<u8>, TileError> {
    let mut out = Vec::new();
    for (k, entry) in entries.iter().enumerate() {
        let entry = entry.as_ref();
        let len = u16::try_from(entry.len()).map_err(|_| TileError::EntryTooLong {
            index: first_index + k as u64,
            len: entry.len(),
        })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(entry);
    }
    Ok(out)
}

/// Splits an entry bundle into its entries, or says where it is malformed.
pub fn split_entry_bundle(bundle: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < bundle.len() {
        let Some(len_bytes) = bundle.get(at..at + 2) else {
            return Err(format!("a length cut short at byte {at}"));
        };
        let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
        let Some(entry) = bundle.get(at + 2..at + 2 + len) else {
            return Err(format!(
                "entry {} at byte {at} claims {len} bytes but the bundle ends first",
                out.len()
            ));
        };
        out.push(entry);
        at += 2 + len;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{leaf_hash, root_from_leaf_hashes, MemoryTree};

    #[test]
    fn index_paths_group_digits_as_the_spec_does() {
        assert_eq!(index_path(0), "000");
        assert_eq!(index_path(7), "007");
        assert_eq!(index_path(999), "999");
        assert_eq!(index_path(1000), "x001/000");
        assert_eq!(index_path(1_234_067), "x001/x234/067");
    }

    #[test]
    fn tile_paths_name_partial_widths() {
        let t = Tile::Hashes {
            level: 1,
            index: 1234,
            width: 256,
        };
        assert_eq!(t.path(), "tile/1/x001/234");
        let t = Tile::Entries {
            index: 2,
            width: 17,
        };
        assert_eq!(t.path(), "tile/entries/002.p/17");
    }

    #[test]
    fn growth_publishes_only_new_tiles_and_widths() {
        // From nothing to 70000 entries: 273 full level-0 tiles, one
        // partial of 112; level 1: 273 nodes → one full, one partial of 17;
        // level 2: one node (70000 >> 16 = 1) → a partial of 1.
        let all = tiles_to_publish(0, 70_000);
        let level0: Vec<_> = all
            .iter()
            .filter(|t| matches!(t, Tile::Hashes { level: 0, .. }))
            .collect();
        assert_eq!(level0.len(), 274);
        let entries = all
            .iter()
            .filter(|t| matches!(t, Tile::Entries { .. }))
            .count();
        assert_eq!(entries, 274);
        assert!(all.contains(&Tile::Hashes {
            level: 1,
            index: 1,
            width: 17
        }));
        assert!(all.contains(&Tile::Hashes {
            level: 2,
            index: 0,
            width: 1
        }));
        // Growing by one entry inside a partial tile: one new bundle, one
        // new level-0 tile, and nothing above (the level-1 width is unchanged).
        assert_eq!(
            tiles_to_publish(70_000, 70_001),
            vec![
                Tile::Entries {
                    index: 273,
                    width: 113
                },
                Tile::Hashes {
                    level: 0,
                    index: 273,
                    width: 113
                },
            ]
        );
        // Completing a tile publishes it full and widens the level above.
        let grow = tiles_to_publish(255, 256);
        assert_eq!(
            grow,
            vec![
                Tile::Entries {
                    index: 0,
                    width: 256
                },
                Tile::Hashes {
                    level: 0,
                    index: 0,
                    width: 256
                },
                Tile::Hashes {
                    level: 1,
                    index: 0,
                    width: 1
                },
            ]
        );
        assert!(tiles_to_publish(5, 5).is_empty());
        assert!(tiles_to_publish(6, 5).is_empty());
    }

    #[test]
    fn tiles_hold_the_subtree_hashes_a_root_is_built_from() {
        let leaves: Vec<_> = (0..600u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let tree = MemoryTree::from_leaf_hashes(&leaves);
        let t0 = hash_tile(&tree, 0, 1, 256).expect("tile");
        assert_eq!(&t0[..32], &leaves[256]);
        let t1 = hash_tile(&tree, 1, 0, 2).expect("tile");
        assert_eq!(&t1[..32], &root_from_leaf_hashes(&leaves[..256]));
        assert_eq!(&t1[32..], &root_from_leaf_hashes(&leaves[256..512]));
    }

    #[test]
    fn bundles_round_trip_and_refuse_what_they_cannot_hold() {
        let entries: Vec<Vec<u8>> = vec![b"a".to_vec(), Vec::new(), vec![7u8; 300]];
        let bundle = entry_bundle(10, &entries).expect("bundle");
        assert_eq!(&bundle[..3], &[0, 1, b'a']);
        let back = split_entry_bundle(&bundle).expect("split");
        assert_eq!(back, vec![&b"a"[..], &[][..], &[7u8; 300][..]]);
        let err = entry_bundle(10, &[vec![0u8; 70_000]]).expect_err("too long");
        assert!(err.to_string().contains("entry 10 is 70000 bytes"), "{err}");
        assert!(split_entry_bundle(&[0, 5, 1]).is_err());
        assert!(split_entry_bundle(&[0]).is_err());
    }
}
