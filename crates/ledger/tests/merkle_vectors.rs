//! Known-answer tests against the RFC 6962 reference test data (the eight
//! leaves used by certificate-transparency and transparency-dev), a check
//! against a second, literal transcription of RFC 9162 §2.1, and seeded
//! property tests: every proof verifies, and every alteration of a proof or
//! of what it is checked against is rejected.

use custos_ledger::merkle::{
    consistency_proof, empty_root, inclusion_proof, leaf_hash, node_hash, root,
    root_from_leaf_hashes, verify_consistency, verify_inclusion, Hash, MemoryTree, ProofError,
};

/// The reference leaves, hex-encoded.
const LEAVES: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// Published roots of the trees of the first 1..=8 reference leaves.
const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// Published leaf hashes of the reference leaves.
const LEAF_HASHES: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
];

/// Published inclusion paths: (0-based leaf index, tree size, path).
const INCLUSION: [(u64, u64, &[&str]); 5] = [
    (0, 1, &[]),
    (
        0,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        1,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

/// Published consistency proofs: (old size, new size, proof).
const CONSISTENCY: [(u64, u64, &[&str]); 4] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

fn h(s: &str) -> Hash {
    let bytes = hex::decode(s).expect("test vector is hex");
    bytes.try_into().expect("test vector is 32 bytes")
}

fn hs(list: &[&str]) -> Vec<Hash> {
    list.iter().map(|s| h(s)).collect()
}

fn reference_leaf_hashes() -> Vec<Hash> {
    LEAVES
        .iter()
        .map(|l| leaf_hash(&hex::decode(l).expect("leaf is hex")))
        .collect()
}

#[test]
fn empty_tree_root() {
    assert_eq!(
        empty_root(),
        h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    );
    assert_eq!(root_from_leaf_hashes(&[]), empty_root());
    assert_eq!(MemoryTree::new().root(), empty_root());
    assert_eq!(
        root(&MemoryTree::new(), 0).expect("root of empty"),
        empty_root()
    );
}

#[test]
fn leaf_and_node_hashes() {
    assert_eq!(reference_leaf_hashes(), hs(&LEAF_HASHES));
    // Level 1 of the 8-leaf tree, as published.
    let l = hs(&LEAF_HASHES);
    assert_eq!(
        node_hash(&l[0], &l[1]),
        h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")
    );
    assert_eq!(
        node_hash(&l[2], &l[3]),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e")
    );
    assert_eq!(
        node_hash(&l[4], &l[5]),
        h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a")
    );
    assert_eq!(
        node_hash(&l[6], &l[7]),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0")
    );
}

#[test]
fn roots_of_sizes_one_to_eight() {
    let leaves = reference_leaf_hashes();
    let tree = MemoryTree::from_leaf_hashes(&leaves);
    for (i, expected) in ROOTS.iter().enumerate() {
        let size = i + 1;
        assert_eq!(
            root_from_leaf_hashes(&leaves[..size]),
            h(expected),
            "reference MTH, size {size}"
        );
        assert_eq!(
            root(&tree, size as u64).expect("root"),
            h(expected),
            "HashSource root, size {size}"
        );
        assert_eq!(
            MemoryTree::from_leaf_hashes(&leaves[..size]).root(),
            h(expected),
            "MemoryTree::root, size {size}"
        );
    }
}

#[test]
fn published_inclusion_paths() {
    let leaves = reference_leaf_hashes();
    let tree = MemoryTree::from_leaf_hashes(&leaves);
    for (index, size, path) in INCLUSION {
        let expected = hs(path);
        assert_eq!(
            inclusion_proof(&tree, index, size).expect("proof"),
            expected,
            "leaf {index} of {size}"
        );
        let root = h(ROOTS[size as usize - 1]);
        assert_eq!(
            verify_inclusion(&leaves[index as usize], index, size, &expected, &root),
            Ok(())
        );
    }
}

#[test]
fn published_consistency_proofs() {
    let leaves = reference_leaf_hashes();
    let tree = MemoryTree::from_leaf_hashes(&leaves);
    for (old, new, proof) in CONSISTENCY {
        let expected = hs(proof);
        assert_eq!(
            consistency_proof(&tree, old, new).expect("proof"),
            expected,
            "{old} -> {new}"
        );
        let (old_root, new_root) = (h(ROOTS[old as usize - 1]), h(ROOTS[new as usize - 1]));
        assert_eq!(
            verify_consistency(old, new, &old_root, &new_root, &expected),
            Ok(())
        );
    }
}

#[test]
fn published_proofs_rejected_when_altered() {
    let leaves = reference_leaf_hashes();
    let (old_root, new_root) = (h(ROOTS[5]), h(ROOTS[7]));
    let good = hs(CONSISTENCY[2].2);
    let mut bad = good.clone();
    bad[1][0] ^= 1;
    assert!(matches!(
        verify_consistency(6, 8, &old_root, &new_root, &bad),
        Err(ProofError::NewRootMismatch { .. })
    ));
    bad = good.clone();
    bad[0][31] ^= 0x80;
    assert!(matches!(
        verify_consistency(6, 8, &old_root, &new_root, &bad),
        Err(ProofError::OldRootMismatch { .. })
    ));
    assert!(matches!(
        verify_consistency(6, 8, &old_root, &new_root, &good[..2]),
        Err(ProofError::WrongLength {
            expected: 3,
            got: 2
        })
    ));
    assert!(matches!(
        verify_consistency(8, 6, &new_root, &old_root, &good),
        Err(ProofError::SizeOrder { .. })
    ));

    let path = hs(INCLUSION[2].2);
    let root8 = h(ROOTS[7]);
    assert!(matches!(
        verify_inclusion(&leaves[5], 8, 8, &path, &root8),
        Err(ProofError::IndexOutOfRange { .. })
    ));
    assert!(matches!(
        verify_inclusion(&leaves[4], 5, 8, &path, &root8),
        Err(ProofError::RootMismatch { .. })
    ));
    assert!(matches!(
        verify_inclusion(&leaves[5], 4, 8, &path, &root8),
        Err(ProofError::RootMismatch { .. })
    ));
}

// ---------------------------------------------------------------------------
// A second implementation: RFC 9162 §2.1.3.1 and §2.1.4.1 transcribed
// literally, recursing on slices of leaf hashes.

fn k_of(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn ref_path(m: usize, d: &[Hash]) -> Vec<Hash> {
    let n = d.len();
    if n == 1 {
        return Vec::new();
    }
    let k = k_of(n);
    let mut out;
    if m < k {
        out = ref_path(m, &d[..k]);
        out.push(root_from_leaf_hashes(&d[k..]));
    } else {
        out = ref_path(m - k, &d[k..]);
        out.push(root_from_leaf_hashes(&d[..k]));
    }
    out
}

fn ref_subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b {
            Vec::new()
        } else {
            vec![root_from_leaf_hashes(d)]
        };
    }
    let k = k_of(n);
    let mut out;
    if m <= k {
        out = ref_subproof(m, &d[..k], b);
        out.push(root_from_leaf_hashes(&d[k..]));
    } else {
        out = ref_subproof(m - k, &d[k..], false);
        out.push(root_from_leaf_hashes(&d[..k]));
    }
    out
}

fn numbered_leaves(n: usize, salt: u64) -> Vec<Hash> {
    (0..n as u64)
        .map(|i| leaf_hash(&(i ^ salt.rotate_left(17)).to_be_bytes()))
        .collect()
}

#[test]
fn proofs_match_literal_rfc_transcription() {
    let leaves = numbered_leaves(70, 1);
    let tree = MemoryTree::from_leaf_hashes(&leaves);
    for n in 1..=leaves.len() {
        for m in 0..n {
            let got = inclusion_proof(&tree, m as u64, n as u64).expect("inclusion proof");
            assert_eq!(got, ref_path(m, &leaves[..n]), "PATH({m}, D[{n}])");
        }
        for m in 1..=n {
            let got = consistency_proof(&tree, m as u64, n as u64).expect("consistency proof");
            assert_eq!(
                got,
                ref_subproof(m, &leaves[..n], true),
                "PROOF({m}, D[{n}])"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Property tests with a seeded xorshift generator: reproducible failures.

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        // xorshift64 (Marsaglia 2003).
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Sizes around every power of two up to 256 (where the tree's shape
/// changes), plus random ones up to 300.
fn test_sizes(rng: &mut XorShift) -> Vec<u64> {
    let mut sizes = vec![1, 2, 3];
    for p in 2..=8 {
        let b = 1u64 << p;
        sizes.extend([b - 1, b, b + 1]);
    }
    for _ in 0..8 {
        sizes.push(1 + rng.below(300));
    }
    sizes.push(300);
    sizes
}

fn flip_bit(proof: &[Hash], i: usize, bit: usize) -> Vec<Hash> {
    let mut p = proof.to_vec();
    p[i][bit / 8] ^= 1 << (bit % 8);
    p
}

#[test]
fn every_inclusion_proof_verifies_and_no_alteration_does() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let leaves = numbered_leaves(302, 2);
    let tree = MemoryTree::from_leaf_hashes(&leaves);
    let roots: Vec<Hash> = (0..=leaves.len())
        .map(|n| root_from_leaf_hashes(&leaves[..n]))
        .collect();
    let mut exhaustive_bits = 0;
    for size in test_sizes(&mut rng) {
        let root = roots[size as usize];
        for index in 0..size {
            let leaf = leaves[index as usize];
            let proof = inclusion_proof(&tree, index, size).expect("proof");
            assert_eq!(
                verify_inclusion(&leaf, index, size, &proof, &root),
                Ok(()),
                "leaf {index} of {size}"
            );

            // Every bit of every hash for the small trees and a few proofs
            // of the largest; one random bit of every hash for the rest
            // (keeps the debug-build run short).
            let all_bits = size <= 9 || (size == 300 && [0, 150, 299].contains(&index));
            for i in 0..proof.len() {
                let bits: Vec<usize> = if all_bits {
                    (0..256).collect()
                } else {
                    vec![rng.below(256) as usize]
                };
                exhaustive_bits += usize::from(all_bits);
                for bit in bits {
                    let bad = flip_bit(&proof, i, bit);
                    assert!(
                        verify_inclusion(&leaf, index, size, &bad, &root).is_err(),
                        "bit {bit} of hash {i}"
                    );
                }
            }
            // Dropping or adding a hash, anywhere.
            if !proof.is_empty() {
                let at = rng.below(proof.len() as u64) as usize;
                let mut shorter = proof.clone();
                shorter.remove(at);
                assert!(matches!(
                    verify_inclusion(&leaf, index, size, &shorter, &root),
                    Err(ProofError::WrongLength { .. })
                ));
            }
            let mut longer = proof.clone();
            longer.insert(
                rng.below(proof.len() as u64 + 1) as usize,
                leaves[rng.below(size) as usize],
            );
            assert!(matches!(
                verify_inclusion(&leaf, index, size, &longer, &root),
                Err(ProofError::WrongLength { .. })
            ));

            // Another leaf, or the same leaf claimed at another index.
            let other = (index + 1 + rng.below(size.max(2) - 1)) % size;
            if other != index {
                assert!(
                    verify_inclusion(&leaves[other as usize], index, size, &proof, &root).is_err()
                );
                assert!(
                    verify_inclusion(&leaf, other, size, &proof, &root).is_err(),
                    "index {index}->{other} of {size}"
                );
            }
            assert!(matches!(
                verify_inclusion(&leaf, size, size, &proof, &root),
                Err(ProofError::IndexOutOfRange { .. })
            ));
            // Another tree size, checked against that tree's root. (With the
            // same root a different size can pass when it gives the path the
            // same shape: a proof binds a leaf to a root, and the signed tree
            // head binds the root to its size.)
            for other_size in [size - 1, size + 1, size + 2] {
                if other_size > index && other_size != size {
                    let other_root = roots[other_size as usize];
                    assert!(
                        verify_inclusion(&leaf, index, other_size, &proof, &other_root).is_err(),
                        "leaf {index}: proof for {size} accepted for {other_size}"
                    );
                }
            }
            // Another root.
            let mut bad_root = root;
            bad_root[rng.below(32) as usize] ^= 1 << rng.below(8);
            assert!(matches!(
                verify_inclusion(&leaf, index, size, &proof, &bad_root),
                Err(ProofError::RootMismatch { .. })
            ));
        }
    }
    assert!(
        exhaustive_bits > 0,
        "the seed exercised no exhaustive bit flips"
    );
}

#[test]
fn every_consistency_proof_verifies_and_no_alteration_does() {
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let leaves = numbered_leaves(302, 3);
    let tree = MemoryTree::from_leaf_hashes(&leaves);
    let roots: Vec<Hash> = (0..=leaves.len())
        .map(|n| root_from_leaf_hashes(&leaves[..n]))
        .collect();
    for new in test_sizes(&mut rng) {
        let new_root = roots[new as usize];
        for old in 0..=new {
            let old_root = roots[old as usize];
            let proof = consistency_proof(&tree, old, new).expect("proof");
            assert_eq!(
                verify_consistency(old, new, &old_root, &new_root, &proof),
                Ok(()),
                "{old} -> {new}"
            );
            if old == 0 || old == new {
                assert!(proof.is_empty());
            }

            let all_bits = new <= 9 || (new == 300 && [1, 150, 299].contains(&old));
            for i in 0..proof.len() {
                let bits: Vec<usize> = if all_bits {
                    (0..256).collect()
                } else {
                    vec![rng.below(256) as usize]
                };
                for bit in bits {
                    let bad = flip_bit(&proof, i, bit);
                    assert!(
                        verify_consistency(old, new, &old_root, &new_root, &bad).is_err(),
                        "{old} -> {new}: bit {bit} of hash {i}"
                    );
                }
            }
            if !proof.is_empty() {
                let mut shorter = proof.clone();
                shorter.remove(rng.below(proof.len() as u64) as usize);
                assert!(matches!(
                    verify_consistency(old, new, &old_root, &new_root, &shorter),
                    Err(ProofError::WrongLength { .. })
                ));
            }
            let mut longer = proof.clone();
            longer.insert(
                rng.below(proof.len() as u64 + 1) as usize,
                leaves[rng.below(new) as usize],
            );
            assert!(matches!(
                verify_consistency(old, new, &old_root, &new_root, &longer),
                Err(ProofError::WrongLength { .. })
            ));

            // Other sizes, each with its own true root. (Both trivial
            // statements, from the empty tree and to the same size, are
            // proven by the empty proof: skip the pair of them.)
            for other_old in [old.wrapping_sub(1), old + 1] {
                let both_trivial = proof.is_empty() && (other_old == 0 || other_old == new);
                if other_old <= new && other_old != old && !both_trivial {
                    assert!(
                        verify_consistency(
                            other_old,
                            new,
                            &roots[other_old as usize],
                            &new_root,
                            &proof
                        )
                        .is_err(),
                        "proof {old} -> {new} accepted as {other_old} -> {new}"
                    );
                }
            }
            for other_new in [new - 1, new + 1] {
                let both_trivial = proof.is_empty() && (old == 0 || old == other_new);
                if other_new >= old && other_new != new && !both_trivial {
                    assert!(
                        verify_consistency(
                            old,
                            other_new,
                            &old_root,
                            &roots[other_new as usize],
                            &proof
                        )
                        .is_err(),
                        "proof {old} -> {new} accepted as {old} -> {other_new}"
                    );
                }
            }
            // Other roots: a different old tree, or a different new tree.
            let mut bad = old_root;
            bad[rng.below(32) as usize] ^= 1 << rng.below(8);
            assert!(
                verify_consistency(old, new, &bad, &new_root, &proof).is_err(),
                "{old} -> {new}, bad old root"
            );
            // (Every tree extends the empty one, whatever its root.)
            let mut bad = new_root;
            bad[rng.below(32) as usize] ^= 1 << rng.below(8);
            let verdict = verify_consistency(old, new, &old_root, &bad, &proof);
            assert_eq!(verdict.is_err(), old > 0, "{old} -> {new}, bad new root");
            // A tree that is not an extension: same sizes, other leaves.
            // (Sampled: each fork rebuilds a whole tree.)
            if old > 0 && old < new && rng.below(8) == 0 {
                let mut forked = leaves[..new as usize].to_vec();
                forked[rng.below(old) as usize][0] ^= 1;
                let forked_root = root_from_leaf_hashes(&forked);
                assert!(verify_consistency(old, new, &old_root, &forked_root, &proof).is_err());
                let forked_proof =
                    consistency_proof(&MemoryTree::from_leaf_hashes(&forked), old, new)
                        .expect("proof");
                assert!(
                    verify_consistency(old, new, &old_root, &forked_root, &forked_proof).is_err()
                );
            }
        }
    }
}

#[test]
fn consistency_edge_cases() {
    let leaves = numbered_leaves(5, 4);
    let r5 = root_from_leaf_hashes(&leaves);
    let r3 = root_from_leaf_hashes(&leaves[..3]);
    // Equal sizes: empty proof, equal roots.
    assert_eq!(verify_consistency(5, 5, &r5, &r5, &[]), Ok(()));
    assert_eq!(
        verify_consistency(5, 5, &r3, &r5, &[]),
        Err(ProofError::SameSizeDifferentRoots { size: 5 })
    );
    assert!(matches!(
        verify_consistency(5, 5, &r5, &r5, &[r3]),
        Err(ProofError::WrongLength {
            expected: 0,
            got: 1
        })
    ));
    // The empty tree is extended by every tree, with an empty proof, but its
    // root must be the empty root.
    assert_eq!(verify_consistency(0, 5, &empty_root(), &r5, &[]), Ok(()));
    assert_eq!(
        verify_consistency(0, 0, &empty_root(), &empty_root(), &[]),
        Ok(())
    );
    assert!(matches!(
        verify_consistency(0, 5, &r3, &r5, &[]),
        Err(ProofError::OldRootMismatch { .. })
    ));
    assert!(matches!(
        verify_consistency(0, 5, &empty_root(), &r5, &[r3]),
        Err(ProofError::WrongLength { .. })
    ));
    // An empty proof between different sizes (RFC 9162 §2.1.4.2 step 1).
    assert!(matches!(
        verify_consistency(3, 5, &r3, &r5, &[]),
        Err(ProofError::WrongLength { got: 0, .. })
    ));
    // Inclusion in the empty tree.
    assert!(matches!(
        verify_inclusion(&leaves[0], 0, 0, &[], &empty_root()),
        Err(ProofError::IndexOutOfRange { .. })
    ));
    // Sizes near the top of u64 do not overflow.
    assert!(verify_inclusion(&leaves[0], u64::MAX - 1, u64::MAX, &[], &r5).is_err());
    assert!(verify_inclusion(&leaves[0], 0, (1 << 63) | 1, &[], &r5).is_err());
    assert!(verify_consistency(1 << 62, u64::MAX, &r3, &r5, &[]).is_err());
}
