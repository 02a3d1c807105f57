//! Merkle tree hashing, proofs and proof verification as defined by
//! RFC 6962 §2.1 and its successor RFC 9162 §2.1.
//!
//! The tree is the one of RFC 9162 §2.1.1: leaves are hashed with a 0x00
//! prefix and interior nodes with a 0x01 prefix (the domain separation that
//! stops a leaf being passed off as a node, RFC 9162 §2.1.1), and a list of
//! `n > 1` leaves splits at the largest power of two smaller than `n`.
//!
//! Proof *generation* is written against [`HashSource`], which hands out the
//! hash of any complete, aligned subtree; the in-memory [`MemoryTree`] and the
//! on-disk log (`crate::storage`) both provide one. Proof *verification*
//! ([`verify_inclusion`], [`verify_consistency`]) needs nothing but the proof,
//! so an auditor can run it offline.

use sha2::{Digest, Sha256};

/// A SHA-256 digest: a leaf hash, an interior node hash or a tree head.
pub type Hash = [u8; 32];

/// Domain-separation prefix of leaf hashes (RFC 9162 §2.1.1).
const LEAF_PREFIX: u8 = 0x00;
/// Domain-separation prefix of interior node hashes (RFC 9162 §2.1.1).
const NODE_PREFIX: u8 = 0x01;

/// The hash of one leaf: `SHA-256(0x00 ‖ data)` (RFC 9162 §2.1.1).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([LEAF_PREFIX]);
    h.update(data);
    h.finalize().into()
}

/// The hash of an interior node: `SHA-256(0x01 ‖ left ‖ right)`
/// (RFC 9162 §2.1.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([NODE_PREFIX]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: `SHA-256()` of no bytes (RFC 9162 §2.1.1).
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two strictly smaller than `n` (the split point `k`
/// of RFC 9162 §2.1.1). Only meaningful for `n >= 2`.
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// MTH over a list of leaf hashes, computed by the recursive definition of
/// RFC 9162 §2.1.1 exactly as written.
///
/// This is the reference against which everything else is tested; it holds
/// every leaf hash in memory, so the log itself uses [`root`] over a
/// [`HashSource`] instead.
pub fn root_from_leaf_hashes(hashes: &[Hash]) -> Hash {
    match hashes.len() {
        0 => empty_root(),
        1 => hashes[0],
        n => {
            // `usize` fits in `u64` on every platform Rust supports, and the
            // result is below `n`, so it fits back into `usize`.
            let k = split_point(n as u64) as usize;
            node_hash(
                &root_from_leaf_hashes(&hashes[..k]),
                &root_from_leaf_hashes(&hashes[k..]),
            )
        }
    }
}

/// Why a proof could not be produced from a [`HashSource`].
#[derive(Debug, thiserror::Error)]
pub enum MerkleError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is out of range for a tree of size {size}")]
    IndexOutOfRange {
        /// The requested leaf index.
        index: u64,
        /// The tree size it was asked against.
        size: u64,
    },
    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    SizeOrder {
        /// The older (supposedly smaller) tree size.
        old_size: u64,
        /// The newer tree size.
        new_size: u64,
    },
    /// The source does not hold the requested complete subtree (typically:
    /// the tree size asked for exceeds what the source holds).
    #[error("no complete subtree at level {level}, index {index}")]
    MissingSubtree {
        /// Height of the subtree (0 = a leaf).
        level: u32,
        /// Position of the subtree among those of its level.
        index: u64,
    },
    /// The source failed for its own reasons (for example an I/O error).
    #[error(transparent)]
    Source(Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// Where node hashes come from when proofs are generated.
///
/// Every hash a proof needs is the hash of a node of the tree of RFC 9162
/// §2.1.1, and every such node is either a complete subtree aligned on its
/// own size, or lies on the right edge of the tree, whose hash is a fold of
/// complete aligned subtrees (see `range_hash`). So this one accessor is
/// enough to answer roots and proofs for every tree size the source covers.
pub trait HashSource {
    /// The hash of the complete subtree covering leaves
    /// `[index·2^level, (index+1)·2^level)`; level 0 yields leaf hashes.
    fn subtree_hash(&self, level: u32, index: u64) -> Result<Hash, MerkleError>;
}

/// MTH of the node covering leaves `[start, end)` of a tree.
///
/// Precondition (holds for every node of RFC 9162 §2.1.1): `start < end`
/// and `start` is a multiple of the largest power of two not above
/// `end - start`. Such a range splits into complete aligned subtrees of
/// strictly decreasing sizes, one per set bit of `end - start`, and the MTH
/// recursion, which always splits off the largest power of two first,
/// combines them right to left. So this costs one `subtree_hash` per set
/// bit: at most 64, and at most log2(n)+1 in a tree of size n.
fn range_hash<S: HashSource + ?Sized>(src: &S, start: u64, end: u64) -> Result<Hash, MerkleError> {
    debug_assert!(start < end);
    let mut pieces: [Hash; 64] = [[0u8; 32]; 64];
    let mut count = 0;
    let mut at = start;
    while at < end {
        let level = 63 - (end - at).leading_zeros();
        debug_assert_eq!(at % (1u64 << level), 0, "range is not a tree node");
        pieces[count] = src.subtree_hash(level, at >> level)?;
        count += 1;
        at += 1u64 << level;
    }
    let mut acc = pieces[count - 1];
    for piece in pieces[..count - 1].iter().rev() {
        acc = node_hash(piece, &acc);
    }
    Ok(acc)
}

/// The root (MTH, RFC 9162 §2.1.1) of the first `size` leaves of `src`.
///
/// Costs at most log2(size)+1 `subtree_hash` calls.
pub fn root<S: HashSource + ?Sized>(src: &S, size: u64) -> Result<Hash, MerkleError> {
    if size == 0 {
        return Ok(empty_root());
    }
    range_hash(src, 0, size)
}

/// The inclusion proof of leaf `index` in the tree of the first `size`
/// leaves: `PATH(m, D[n])` of RFC 9162 §2.1.3.1, ordered from the leaf's
/// sibling up to the child of the root, as RFC 9162 §2.1.3.2 consumes it.
///
/// Costs O(log size) `subtree_hash` calls: every sibling on the path is a
/// complete subtree (one call) except at most one, the sibling that lies on
/// the right edge of the tree (at most log2(size)+1 calls).
pub fn inclusion_proof<S: HashSource + ?Sized>(
    src: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    // Walk down from the root. RFC 9162 §2.1.3.1 appends each level's
    // sibling *after* the path of the lower levels, so siblings are
    // collected top-down and reversed at the end.
    let mut path = Vec::with_capacity(64);
    let (mut start, mut end) = (0u64, size);
    while end - start > 1 {
        let mid = start + split_point(end - start);
        if index < mid {
            path.push(range_hash(src, mid, end)?);
            end = mid;
        } else {
            path.push(range_hash(src, start, mid)?);
            start = mid;
        }
    }
    path.reverse();
    Ok(path)
}

/// The consistency proof between the tree of the first `old_size` leaves and
/// that of the first `new_size` leaves: `PROOF(m, D[n])` of RFC 9162 §2.1.4.1.
///
/// RFC 9162 defines the proof for `0 < m < n`; for `m == n` its SUBPROOF
/// gives the empty list, and for `m == 0` (every tree extends the empty one)
/// this returns the empty list too, which [`verify_consistency`] expects.
/// Costs O(log new_size) `subtree_hash` calls (as for [`inclusion_proof`]).
pub fn consistency_proof<S: HashSource + ?Sized>(
    src: &S,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, MerkleError> {
    if old_size > new_size {
        return Err(MerkleError::SizeOrder { old_size, new_size });
    }
    if old_size == 0 || old_size == new_size {
        return Ok(Vec::new());
    }
    // SUBPROOF(m, D[start:end], whole) unrolled: `whole` is true while the
    // old tree's root is itself a node of this subtree walk (it is then
    // known to the verifier and left out).
    let mut proof = Vec::with_capacity(64);
    let (mut start, mut end, mut m, mut whole) = (0u64, new_size, old_size, true);
    loop {
        let n = end - start;
        if m == n {
            if !whole {
                proof.push(range_hash(src, start, end)?);
            }
            break;
        }
        let k = split_point(n);
        if m <= k {
            proof.push(range_hash(src, start + k, end)?);
            end = start + k;
        } else {
            proof.push(range_hash(src, start, start + k)?);
            start += k;
            m -= k;
            whole = false;
        }
    }
    // As in inclusion_proof: SUBPROOF lists the deeper part first.
    proof.reverse();
    Ok(proof)
}

/// Why a proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not below the tree size (RFC 9162 §2.1.3.2 step 1).
    #[error("leaf index {index} is out of range for a tree of size {size}")]
    IndexOutOfRange {
        /// The claimed leaf index.
        index: u64,
        /// The claimed tree size.
        size: u64,
    },
    /// The old tree is claimed larger than the new one.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    SizeOrder {
        /// The claimed old tree size.
        old_size: u64,
        /// The claimed new tree size.
        new_size: u64,
    },
    /// The proof does not have the number of hashes that the index and
    /// size(s) determine.
    #[error("proof has {got} hashes where {expected} were expected")]
    WrongLength {
        /// How many the index and sizes call for.
        expected: usize,
        /// How many the proof holds.
        got: usize,
    },
    /// The inclusion proof leads to a root other than the expected one.
    #[error("inclusion proof leads to root {computed}, not the expected root {expected}")]
    RootMismatch {
        /// Hex of the root the proof leads to.
        computed: String,
        /// Hex of the root it was checked against.
        expected: String,
    },
    /// The consistency proof does not rebuild the old tree's root.
    #[error("consistency proof rebuilds old root {computed}, not the expected {expected}")]
    OldRootMismatch {
        /// Hex of the old root the proof rebuilds.
        computed: String,
        /// Hex of the old root it was checked against.
        expected: String,
    },
    /// The consistency proof does not rebuild the new tree's root.
    #[error("consistency proof rebuilds new root {computed}, not the expected {expected}")]
    NewRootMismatch {
        /// Hex of the new root the proof rebuilds.
        computed: String,
        /// Hex of the new root it was checked against.
        expected: String,
    },
    /// Equal tree sizes with different roots: two different trees.
    #[error("both trees have size {size} but different roots")]
    SameSizeDifferentRoots {
        /// The common tree size.
        size: u64,
    },
}

/// How many hashes the inclusion proof of leaf `index` in a tree of `size`
/// leaves holds (`index < size`).
///
/// The path leaves the right edge of the tree where `index` and `size - 1`
/// first differ: below that every level has a sibling (`inner` of them);
/// above it the path runs along the right edge, where a sibling exists only
/// for each set bit of the remaining index (a left subtree).
pub fn inclusion_proof_len(index: u64, size: u64) -> usize {
    debug_assert!(index < size);
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    // `inner` is 64 when the two differ in the top bit; shifting by 64 is
    // not defined, and the remaining index is then empty.
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner + border) as usize
}

/// How many hashes the consistency proof from `old_size` to `new_size`
/// holds (`old_size <= new_size`), by walking the same recursion as
/// [`consistency_proof`] without hashing.
pub fn consistency_proof_len(old_size: u64, new_size: u64) -> usize {
    debug_assert!(old_size <= new_size);
    if old_size == 0 || old_size == new_size {
        return 0;
    }
    let (mut n, mut m, mut whole, mut len) = (new_size, old_size, true, 0usize);
    loop {
        if m == n {
            return len + usize::from(!whole);
        }
        let k = split_point(n);
        len += 1;
        if m <= k {
            n = k;
        } else {
            n -= k;
            m -= k;
            whole = false;
        }
    }
}

/// The root that an inclusion proof leads to, by the algorithm of
/// RFC 9162 §2.1.3.2 (steps 1–4); [`verify_inclusion`] compares it.
///
/// Note that the tree size only shapes the walk: the proof binds a leaf to
/// a *root*, and it is the signed tree head that binds that root to a size.
pub fn root_from_inclusion_proof(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_proof_len(index, size);
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            got: proof.len(),
        });
    }
    // fn: the node's index on its level; sn: the index of the last node of
    // that level. Where fn == sn the node is on the right edge.
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf_hash;
    for p in proof {
        if s == 0 {
            // Unreachable after the length check; kept as the RFC's guard.
            return Err(ProofError::WrongLength {
                expected,
                got: proof.len(),
            });
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                // A right-edge node without a right sibling is promoted
                // unchanged: skip the levels where it has none.
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::WrongLength {
            expected,
            got: proof.len(),
        });
    }
    Ok(r)
}

/// Checks that `proof` shows the leaf with hash `leaf_hash` at position
/// `index` in the tree of `size` leaves whose root is `root`
/// (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let computed = root_from_inclusion_proof(leaf_hash, index, size, proof)?;
    if computed != *root {
        return Err(ProofError::RootMismatch {
            computed: hex::encode(computed),
            expected: hex::encode(root),
        });
    }
    Ok(())
}

/// Checks that the tree of `new_size` leaves with root `new_root` extends
/// the tree of `old_size` leaves with root `old_root`, by the algorithm of
/// RFC 9162 §2.1.4.2.
///
/// RFC 9162 specifies `0 < old_size < new_size`. The edge cases follow from
/// the definitions: equal sizes need an empty proof and equal roots; the
/// empty tree (whose root must be [`empty_root`]) is extended by every tree,
/// with an empty proof.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::SizeOrder { old_size, new_size });
    }
    let expected = consistency_proof_len(old_size, new_size);
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            got: proof.len(),
        });
    }
    if old_size == new_size {
        if old_root != new_root {
            return Err(ProofError::SameSizeDifferentRoots { size: old_size });
        }
        return Ok(());
    }
    if old_size == 0 {
        let empty = empty_root();
        if *old_root != empty {
            return Err(ProofError::OldRootMismatch {
                computed: hex::encode(empty),
                expected: hex::encode(old_root),
            });
        }
        return Ok(());
    }
    // Step 2: when the old tree is a complete subtree, its root is the
    // first node of the walk and the proof leaves it out.
    let mut hashes = proof.iter();
    let first = if old_size.is_power_of_two() {
        *old_root
    } else {
        match hashes.next() {
            Some(h) => *h,
            None => {
                return Err(ProofError::WrongLength {
                    expected,
                    got: proof.len(),
                })
            }
        }
    };
    // Steps 3–4.
    let (mut f, mut s) = (old_size - 1, new_size - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    // Step 5: fr rebuilds the old root, sr the new one.
    let (mut fr, mut sr) = (first, first);
    // Step 6.
    for c in hashes {
        if s == 0 {
            // Unreachable after the length check; kept as the RFC's guard.
            return Err(ProofError::WrongLength {
                expected,
                got: proof.len(),
            });
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    // Step 7.
    if s != 0 {
        return Err(ProofError::WrongLength {
            expected,
            got: proof.len(),
        });
    }
    if fr != *old_root {
        return Err(ProofError::OldRootMismatch {
            computed: hex::encode(fr),
            expected: hex::encode(old_root),
        });
    }
    if sr != *new_root {
        return Err(ProofError::NewRootMismatch {
            computed: hex::encode(sr),
            expected: hex::encode(new_root),
        });
    }
    Ok(())
}

/// A whole tree in memory: every level of complete subtree hashes, as the
/// on-disk log keeps them. For tests, bundles and other small trees.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryTree {
    /// `levels[k][i]` is the hash of the complete subtree at level `k`,
    /// index `i`; level `k` holds `len >> k` of them.
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> MemoryTree {
        MemoryTree::default()
    }

    /// A tree of the given leaf hashes, in order.
    pub fn from_leaf_hashes(hashes: &[Hash]) -> MemoryTree {
        let mut tree = MemoryTree::new();
        for h in hashes {
            tree.push(*h);
        }
        tree
    }

    /// Appends a leaf hash, adding the hash of every subtree it completes.
    pub fn push(&mut self, leaf_hash: Hash) {
        let mut level = 0;
        let mut hash = leaf_hash;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let row = &mut self.levels[level];
            row.push(hash);
            let n = row.len();
            if n % 2 == 1 {
                return;
            }
            // The pair (n-2, n-1) is complete: its parent goes one level up.
            hash = node_hash(&row[n - 2], &row[n - 1]);
            level += 1;
        }
    }

    /// The number of leaves.
    pub fn len(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Whether the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The root of the whole tree.
    pub fn root(&self) -> Hash {
        let mut acc: Option<Hash> = None;
        // The right-edge fold of `range_hash`, taken from the top level's
        // leftover down: level k contributes its last hash when the size has
        // bit k set (that hash is then the unpaired, rightmost one).
        for (k, row) in self.levels.iter().enumerate() {
            if row.len() % 2 == 1 {
                let piece = &row[row.len() - 1];
                acc = Some(match acc {
                    None => *piece,
                    Some(right) => node_hash(piece, &right),
                });
            }
            debug_assert_eq!(row.len() as u64, self.len() >> k);
        }
        acc.unwrap_or_else(empty_root)
    }
}

impl HashSource for MemoryTree {
    fn subtree_hash(&self, level: u32, index: u64) -> Result<Hash, MerkleError> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.levels.get(level as usize)?.get(i))
            .copied()
            .ok_or(MerkleError::MissingSubtree { level, index })
    }
}

/// The right edge of a tree: the roots of its complete subtrees, one per set
/// bit of its size, largest first. Enough to append leaves and compute the
/// root at every size, in `O(log n)` space: what a mirror of a log keeps to
/// check, batch by batch, that the entries it holds hash to the log's
/// checkpoints without reading them all again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// One hash per set bit of `size`, from the most significant bit down.
    peaks: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf_hash: Hash) {
        let mut hash = leaf_hash;
        // Each trailing one bit of the old size is a peak the new leaf
        // completes a pair with.
        let mut carry = self.size;
        while carry & 1 == 1 {
            // A set bit always has its peak; the guard keeps this total.
            let Some(left) = self.peaks.pop() else { break };
            hash = node_hash(&left, &hash);
            carry >>= 1;
        }
        self.peaks.push(hash);
        self.size += 1;
    }

    /// The RFC 9162 root of the tree.
    pub fn root(&self) -> Hash {
        let mut peaks = self.peaks.iter().rev();
        let Some(last) = peaks.next() else {
            return empty_root();
        };
        peaks.fold(*last, |right, left| node_hash(left, &right))
    }

    /// The frontier as bytes: the size (8 bytes, big-endian), then the peaks.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 32 * self.peaks.len());
        out.extend_from_slice(&self.size.to_be_bytes());
        for p in &self.peaks {
            out.extend_from_slice(p);
        }
        out
    }

    /// Reads [`Frontier::to_bytes`]; `None` unless the peaks are exactly
    /// one per set bit of the size.
    pub fn from_bytes(bytes: &[u8]) -> Option<Frontier> {
        let (size, rest) = bytes.split_first_chunk::<8>()?;
        let size = u64::from_be_bytes(*size);
        if rest.len() != 32 * size.count_ones() as usize {
            return None;
        }
        let peaks = rest
            .chunks_exact(32)
            .map(|c| <Hash>::try_from(c).ok())
            .collect::<Option<Vec<_>>>()?;
        Some(Frontier { size, peaks })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frontier_has_the_root_of_the_whole_tree_at_every_size_and_survives_bytes() {
        let mut tree = MemoryTree::new();
        let mut frontier = Frontier::new();
        assert_eq!(frontier.root(), empty_root());
        for i in 0..300u32 {
            let h = leaf_hash(&i.to_be_bytes());
            tree.push(h);
            frontier.push(h);
            assert_eq!(frontier.size(), tree.len());
            assert_eq!(frontier.root(), tree.root(), "size {}", tree.len());
            let again = Frontier::from_bytes(&frontier.to_bytes()).expect("round trip");
            assert_eq!(again, frontier);
        }
        let mut bytes = frontier.to_bytes();
        bytes.pop();
        assert!(Frontier::from_bytes(&bytes).is_none());
        assert!(Frontier::from_bytes(&[0; 7]).is_none());
        let mut wrong = 5u64.to_be_bytes().to_vec();
        wrong.extend_from_slice(&[0; 32]);
        assert!(
            Frontier::from_bytes(&wrong).is_none(),
            "size 5 has two peaks"
        );
    }

    #[test]
    fn split_point_is_largest_power_of_two_below() {
        for n in 2u64..2000 {
            let k = split_point(n);
            assert!(k.is_power_of_two() && k < n && 2 * k >= n, "n={n} k={k}");
        }
        assert_eq!(split_point(u64::MAX), 1 << 63);
    }

    #[test]
    fn memory_tree_root_matches_reference() {
        let mut leaves = Vec::new();
        let mut tree = MemoryTree::new();
        assert_eq!(tree.root(), empty_root());
        for i in 0u32..100 {
            let h = leaf_hash(&i.to_be_bytes());
            leaves.push(h);
            tree.push(h);
            assert_eq!(
                tree.root(),
                root_from_leaf_hashes(&leaves),
                "size {}",
                i + 1
            );
            for size in 0..=tree.len() {
                assert_eq!(
                    root(&tree, size).ok(),
                    Some(root_from_leaf_hashes(&leaves[..size as usize]))
                );
            }
        }
    }

    #[test]
    fn proof_lengths_match_generated_proofs() {
        let leaves: Vec<Hash> = (0u32..130).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let tree = MemoryTree::from_leaf_hashes(&leaves);
        for size in 1..=tree.len() {
            for index in 0..size {
                let p = inclusion_proof(&tree, index, size).ok().map(|p| p.len());
                assert_eq!(
                    p,
                    Some(inclusion_proof_len(index, size)),
                    "index {index} size {size}"
                );
            }
            for old in 0..=size {
                let p = consistency_proof(&tree, old, size).ok().map(|p| p.len());
                assert_eq!(p, Some(consistency_proof_len(old, size)), "{old} -> {size}");
            }
        }
    }

    /// Counts the `subtree_hash` calls made through it.
    struct Counting<'a>(&'a MemoryTree, std::cell::Cell<u64>);

    impl HashSource for Counting<'_> {
        fn subtree_hash(&self, level: u32, index: u64) -> Result<Hash, MerkleError> {
            self.1.set(self.1.get() + 1);
            self.0.subtree_hash(level, index)
        }
    }

    #[test]
    fn proofs_cost_logarithmically_many_subtree_reads() {
        let leaves: Vec<Hash> = (0u32..1100).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let tree = MemoryTree::from_leaf_hashes(&leaves);
        let src = Counting(&tree, std::cell::Cell::new(0));
        let calls = |f: &dyn Fn() -> bool| {
            src.1.set(0);
            assert!(f());
            src.1.get()
        };
        for size in (1..=1100u64).step_by(7).chain([1024, 1025, 1023]) {
            // ceil(log2(size)): the height of the tree.
            let height = u64::from(64 - (size - 1).leading_zeros());
            assert!(calls(&|| root(&src, size).is_ok()) <= u64::from(size.count_ones()));
            for index in (0..size).step_by(5) {
                // One read per sibling, plus the right-edge sibling's pieces.
                let n = calls(&|| inclusion_proof(&src, index, size).is_ok());
                assert!(n <= 2 * height + 1, "inclusion {index}/{size}: {n} reads");
            }
            for old in (0..=size).step_by(3) {
                let n = calls(&|| consistency_proof(&src, old, size).is_ok());
                let bound = consistency_proof_len(old, size) as u64 + height + 1;
                assert!(n <= bound, "consistency {old}->{size}: {n} reads");
            }
        }
    }

    #[test]
    fn sizes_beyond_the_source_are_errors() {
        let tree =
            MemoryTree::from_leaf_hashes(&[leaf_hash(b"a"), leaf_hash(b"b"), leaf_hash(b"c")]);
        assert!(matches!(
            root(&tree, 4),
            Err(MerkleError::MissingSubtree { .. })
        ));
        assert!(matches!(
            inclusion_proof(&tree, 3, 3),
            Err(MerkleError::IndexOutOfRange { index: 3, size: 3 })
        ));
        assert!(matches!(
            consistency_proof(&tree, 3, 2),
            Err(MerkleError::SizeOrder { .. })
        ));
        assert!(matches!(
            tree.subtree_hash(0, u64::MAX),
            Err(MerkleError::MissingSubtree { .. })
        ));
    }
}
