//! The durable log against the in-memory tree: appends in batches, reopen,
//! crash recovery from every kind of torn tail, corruption reported with
//! its file and offset, and the writer lock beside read-only handles.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use custos_ledger::merkle::{
    self, empty_root, verify_consistency, verify_inclusion, Hash, MemoryTree,
};
use custos_ledger::storage::{LogStorage, StorageError};

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

/// Entry `i`: distinct bytes of varied length (including empty ones).
fn entry(i: u64) -> Vec<u8> {
    let len = (i * 7919 % 97) as usize;
    let mut v = format!("entry {i}:").into_bytes();
    v.extend((0..len).map(|j| (i as usize + j) as u8));
    if i % 50 == 7 {
        v.clear();
    }
    v
}

fn entries(range: std::ops::Range<u64>) -> Vec<Vec<u8>> {
    range.map(entry).collect()
}

fn tree_of(n: u64) -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..n {
        t.push(merkle::leaf_hash(&entry(i)));
    }
    t
}

fn log_dir() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("log");
    (tmp, dir)
}

fn file_len(dir: &Path, name: &str) -> u64 {
    fs::metadata(dir.join(name)).map(|m| m.len()).unwrap_or(0)
}

fn level_name(k: u32) -> String {
    format!("level-{k:02}.hash")
}

/// Every root, every entry, and a sample of proofs agree with the
/// in-memory tree of the same entries, and the files hold exactly the
/// records of `n` entries.
fn check_against_memory(log: &LogStorage, n: u64, rng: &mut XorShift) {
    assert_eq!(log.size(), n);
    let tree = tree_of(n);
    for size in 0..=n {
        assert_eq!(
            log.root(size).expect("root"),
            merkle::root(&tree, size).expect("memory root"),
            "root of {size}"
        );
    }
    for i in 0..n {
        assert_eq!(log.entry(i).expect("entry"), entry(i), "entry {i}");
        assert_eq!(
            log.leaf_hash(i).expect("leaf hash"),
            merkle::leaf_hash(&entry(i))
        );
    }
    for _ in 0..200.min(n * n) {
        let size = 1 + rng.below(n);
        let index = rng.below(size);
        let proof = log.inclusion_proof(index, size).expect("inclusion proof");
        assert_eq!(
            proof,
            merkle::inclusion_proof(&tree, index, size).expect("memory proof")
        );
        let root = log.root(size).expect("root");
        assert_eq!(
            verify_inclusion(
                &merkle::leaf_hash(&entry(index)),
                index,
                size,
                &proof,
                &root
            ),
            Ok(())
        );
        let old = rng.below(size + 1);
        let proof = log.consistency_proof(old, size).expect("consistency proof");
        assert_eq!(
            proof,
            merkle::consistency_proof(&tree, old, size).expect("memory proof")
        );
        assert_eq!(
            verify_consistency(old, size, &log.root(old).expect("root"), &root, &proof),
            Ok(())
        );
    }
    check_file_lengths(log.dir(), n);
}

fn check_file_lengths(dir: &Path, n: u64) {
    let data: u64 = (0..n).map(|i| 4 + entry(i).len() as u64).sum();
    assert_eq!(file_len(dir, "entries.dat"), data, "entries.dat");
    assert_eq!(file_len(dir, "entries.idx"), n * 8, "entries.idx");
    for k in 0..64 {
        assert_eq!(
            file_len(dir, &level_name(k)),
            (n >> k) * 32,
            "{}",
            level_name(k)
        );
    }
}

#[test]
fn empty_log() {
    let (_tmp, dir) = log_dir();
    let log = LogStorage::open(&dir).expect("open");
    assert_eq!(log.size(), 0);
    assert_eq!(log.root(0).expect("root"), empty_root());
    assert!(matches!(
        log.root(1),
        Err(StorageError::OutOfRange { index: 1, size: 0 })
    ));
    assert!(matches!(
        log.entry(0),
        Err(StorageError::OutOfRange { index: 0, size: 0 })
    ));
    assert!(matches!(
        log.leaf_hash(0),
        Err(StorageError::OutOfRange { .. })
    ));
    assert!(matches!(
        log.inclusion_proof(0, 0),
        Err(StorageError::OutOfRange { .. })
    ));
    assert_eq!(
        log.consistency_proof(0, 0).expect("proof"),
        Vec::<Hash>::new()
    );
    drop(log);
    let log = LogStorage::open(&dir).expect("reopen");
    assert_eq!(log.root(0).expect("root"), empty_root());
    check_file_lengths(&dir, 0);
}

#[test]
fn batches_of_varied_sizes_survive_reopen() {
    let (_tmp, dir) = log_dir();
    let mut rng = XorShift(0x1234_5678_9abc_def1);
    let mut log = LogStorage::open(&dir).expect("open");
    let mut n = 0;
    for batch in [1u64, 1, 2, 3, 5, 8, 13, 64, 0, 127, 256, 1, 300, 1000] {
        let range = log.append_batch(&entries(n..n + batch)).expect("append");
        assert_eq!(range, n..n + batch);
        n += batch;
        assert_eq!(log.size(), n);
        assert_eq!(log.root(n).expect("root"), tree_of(n).root());
    }
    check_against_memory(&log, n, &mut rng);
    drop(log);

    // Reopened, and appended to again (the right edge is rebuilt from disk).
    let mut log = LogStorage::open(&dir).expect("reopen");
    check_against_memory(&log, n, &mut rng);
    for batch in [3u64, 700, 1] {
        log.append_batch(&entries(n..n + batch)).expect("append");
        n += batch;
    }
    drop(log);
    let log = LogStorage::open(&dir).expect("reopen");
    check_against_memory(&log, n, &mut rng);
}

#[test]
fn one_entry_at_a_time_matches_memory_tree_at_every_size() {
    let (_tmp, dir) = log_dir();
    let mut log = LogStorage::open(&dir).expect("open");
    let mut tree = MemoryTree::new();
    for i in 0..300 {
        log.append_batch(&[entry(i)]).expect("append");
        tree.push(merkle::leaf_hash(&entry(i)));
        assert_eq!(
            log.root(i + 1).expect("root"),
            tree.root(),
            "size {}",
            i + 1
        );
    }
}

/// Builds a log of `n` entries and closes it.
fn build(dir: &Path, n: u64) {
    let mut log = LogStorage::open(dir).expect("open");
    let mut at = 0;
    while at < n {
        let batch = (n - at).min(97);
        log.append_batch(&entries(at..at + batch)).expect("append");
        at += batch;
    }
}

fn set_len(dir: &Path, name: &str, len: u64) {
    OpenOptions::new()
        .write(true)
        .open(dir.join(name))
        .expect("open for truncation")
        .set_len(len)
        .expect("set_len");
}

fn append_bytes(dir: &Path, name: &str, bytes: &[u8]) {
    let mut f = OpenOptions::new()
        .append(true)
        .create(true)
        .open(dir.join(name))
        .expect("open for append");
    f.write_all(bytes).expect("write");
}

/// Reopens after a simulated crash and checks the log is the first
/// `expected` entries, complete, consistent and appendable.
fn recovers_to(dir: &Path, expected: u64) {
    let mut rng = XorShift(expected | 1);
    let mut log = LogStorage::open(dir).expect("recovering open");
    check_against_memory(&log, expected, &mut rng);
    log.append_batch(&entries(expected..expected + 40))
        .expect("append after recovery");
    check_against_memory(&log, expected + 40, &mut rng);
}

fn data_end_of(n: u64) -> u64 {
    (0..n).map(|i| 4 + entry(i).len() as u64).sum()
}

#[test]
fn crash_inside_the_last_entry_of_entries_dat() {
    let (_tmp, dir) = log_dir();
    build(&dir, 200);
    // Cut the last entry after its length prefix and a few bytes.
    set_len(&dir, "entries.dat", data_end_of(199) + 6);
    recovers_to(&dir, 199);

    let (_tmp, dir) = log_dir();
    build(&dir, 200);
    // Cut inside a length prefix, well before the end: the index and levels
    // now run ahead of the data by many entries.
    set_len(&dir, "entries.dat", data_end_of(150) + 2);
    recovers_to(&dir, 150);
}

#[test]
fn crash_with_index_or_leaves_behind_or_ahead() {
    // The index lost its last records (written last, so the common case).
    let (_tmp, dir) = log_dir();
    build(&dir, 200);
    set_len(&dir, "entries.idx", 190 * 8 + 3);
    recovers_to(&dir, 190);

    // Level 0 lost records: the shortest of the three files decides.
    let (_tmp, dir) = log_dir();
    build(&dir, 200);
    set_len(&dir, level_name(0).as_str(), 123 * 32 + 31);
    recovers_to(&dir, 123);

    // The index runs ahead with records the crash left as zeros, and with
    // offsets past the data.
    let (_tmp, dir) = log_dir();
    build(&dir, 200);
    append_bytes(&dir, "entries.idx", &[0u8; 8 * 3]);
    append_bytes(&dir, "entries.idx", &u64::MAX.to_be_bytes());
    append_bytes(&dir, level_name(0).as_str(), &[7u8; 32 * 5]);
    recovers_to(&dir, 200);

    // Data written past the last indexed entry.
    let (_tmp, dir) = log_dir();
    build(&dir, 200);
    append_bytes(&dir, "entries.dat", &[0, 0, 0, 9, 1, 2]);
    recovers_to(&dir, 200);
}

#[test]
fn crash_with_upper_levels_too_long_or_too_short() {
    // Longer: stale records past the end, torn records, levels above the top.
    let (_tmp, dir) = log_dir();
    build(&dir, 200);
    append_bytes(&dir, level_name(1).as_str(), &[1u8; 32 * 4 + 17]);
    append_bytes(&dir, level_name(3).as_str(), &[3u8; 32]);
    append_bytes(&dir, level_name(9).as_str(), &[9u8; 32 * 2]);
    append_bytes(&dir, level_name(20).as_str(), &[5u8; 32]);
    recovers_to(&dir, 200);

    // Shorter: lost records, a lost file, a torn record.
    let (_tmp, dir) = log_dir();
    build(&dir, 200);
    set_len(&dir, level_name(1).as_str(), 90 * 32);
    set_len(&dir, level_name(2).as_str(), 10 * 32 + 5);
    fs::remove_file(dir.join(level_name(4))).expect("rm level 4");
    set_len(&dir, level_name(7).as_str(), 0);
    recovers_to(&dir, 200);

    // A wrong last record (the crash persisted the size but not the bytes).
    let (_tmp, dir) = log_dir();
    build(&dir, 200);
    let len = file_len(&dir, &level_name(2));
    set_len(&dir, level_name(2).as_str(), len - 32);
    append_bytes(&dir, level_name(2).as_str(), &[0u8; 32]);
    recovers_to(&dir, 200);

    // All of it at once, with a torn entry too.
    let (_tmp, dir) = log_dir();
    build(&dir, 1000);
    set_len(&dir, "entries.dat", data_end_of(977) + 1);
    set_len(&dir, level_name(0).as_str(), 990 * 32);
    fs::remove_file(dir.join(level_name(3))).expect("rm level 3");
    append_bytes(&dir, level_name(5).as_str(), &[0u8; 32 * 9]);
    recovers_to(&dir, 977);
}

#[test]
fn lost_levels_are_rebuilt_in_full() {
    let (_tmp, dir) = log_dir();
    build(&dir, 5000);
    for k in 1..13 {
        let _ = fs::remove_file(dir.join(level_name(k)));
    }
    recovers_to(&dir, 5000);
}

#[test]
fn corrupt_length_prefix_is_reported_with_file_and_offset() {
    let (_tmp, dir) = log_dir();
    build(&dir, 100);
    let mut log = LogStorage::open(&dir).expect("open");
    let offset = data_end_of(40);
    let data = dir.join("entries.dat");
    let f = OpenOptions::new()
        .write(true)
        .open(&data)
        .expect("open data");
    use std::os::unix::fs::FileExt;
    for prefix in [0u32, 3, u32::MAX] {
        f.write_all_at(&prefix.to_be_bytes(), offset)
            .expect("write");
        match log.entry(40) {
            Err(StorageError::Corrupt {
                path,
                offset: at,
                reason,
            }) => {
                assert_eq!(path, data);
                assert_eq!(at, offset);
                assert!(reason.contains("length prefix"), "{reason}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }
    // Neighbours still read, proofs still verify (they do not read entries).
    assert_eq!(log.entry(39).expect("entry 39"), entry(39));
    assert_eq!(log.entry(41).expect("entry 41"), entry(41));
    let root = log.root(100).expect("root");
    let proof = log.inclusion_proof(40, 100).expect("proof");
    assert_eq!(
        verify_inclusion(&merkle::leaf_hash(&entry(40)), 40, 100, &proof, &root),
        Ok(())
    );

    // A reopen judges structure only at the tail, so the damage stays and
    // stays reported.
    drop(log);
    log = LogStorage::open(&dir).expect("reopen");
    assert_eq!(log.size(), 100);
    assert!(matches!(log.entry(40), Err(StorageError::Corrupt { .. })));

    // An index offset pointing outside the data.
    let idx = dir.join("entries.idx");
    let f = OpenOptions::new().write(true).open(&idx).expect("open idx");
    f.write_all_at(&(1u64 << 40).to_be_bytes(), 60 * 8)
        .expect("write");
    match log.entry(60) {
        Err(StorageError::Corrupt { path, offset, .. }) => {
            assert_eq!(path, idx);
            assert_eq!(offset, 60 * 8);
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // The entry before it ends where entry 60 claims to start: also corrupt.
    assert!(matches!(log.entry(59), Err(StorageError::Corrupt { .. })));
}

#[test]
fn truncated_files_under_an_open_reader_are_corrupt_not_panics() {
    let (_tmp, dir) = log_dir();
    build(&dir, 100);
    let log = LogStorage::open_read_only(&dir).expect("open");
    set_len(&dir, "entries.dat", 10);
    set_len(&dir, level_name(0).as_str(), 0);
    set_len(&dir, "entries.idx", 0);
    for i in [0, 50, 99] {
        assert!(
            matches!(log.entry(i), Err(StorageError::Corrupt { .. })),
            "entry {i}"
        );
        assert!(
            matches!(log.leaf_hash(i), Err(StorageError::Corrupt { .. })),
            "leaf {i}"
        );
    }
    assert!(log.root(99).is_err(), "needs leaf hash 98");
    assert!(log.inclusion_proof(3, 100).is_err());
    assert_eq!(log.refresh_size().expect("refresh"), 0);
}

#[test]
fn one_writer_and_many_readers() {
    let (_tmp, dir) = log_dir();
    let mut writer = LogStorage::open(&dir).expect("open");
    assert!(matches!(
        LogStorage::open(&dir),
        Err(StorageError::Locked { .. })
    ));
    writer.append_batch(&entries(0..10)).expect("append");

    let mut reader = LogStorage::open_read_only(&dir).expect("reader");
    assert!(!reader.is_writable());
    assert_eq!(reader.size(), 10);
    assert!(matches!(
        reader.append_batch(&entries(10..11)),
        Err(StorageError::ReadOnly)
    ));
    writer.append_batch(&entries(10..300)).expect("append");
    assert_eq!(reader.size(), 10, "a reader's size moves only on refresh");
    assert_eq!(reader.refresh_size().expect("refresh"), 300);
    let mut rng = XorShift(99);
    check_against_memory(&reader, 300, &mut rng);

    // The lock goes with the writer.
    drop(writer);
    let writer = LogStorage::open(&dir).expect("reopen after the writer closed");
    assert_eq!(writer.size(), 300);
}

#[test]
fn a_reader_never_changes_the_files() {
    let (_tmp, dir) = log_dir();
    build(&dir, 150);
    // A crash's leftovers: a torn entry, a lost upper level.
    append_bytes(&dir, "entries.dat", &[0, 0, 1, 0, 42]);
    fs::remove_file(dir.join(level_name(3))).expect("rm");
    let before: Vec<u64> = ["entries.dat", "entries.idx", &level_name(0), &level_name(1)]
        .iter()
        .map(|n| file_len(&dir, n))
        .collect();

    let reader = LogStorage::open_read_only(&dir).expect("reader");
    assert_eq!(reader.size(), 150);
    // Level 3 is computed from level 2 where its file is missing.
    assert_eq!(reader.root(150).expect("root"), tree_of(150).root());
    let proof = reader.inclusion_proof(17, 150).expect("proof");
    assert_eq!(
        verify_inclusion(
            &merkle::leaf_hash(&entry(17)),
            17,
            150,
            &proof,
            &tree_of(150).root()
        ),
        Ok(())
    );

    let after: Vec<u64> = ["entries.dat", "entries.idx", &level_name(0), &level_name(1)]
        .iter()
        .map(|n| file_len(&dir, n))
        .collect();
    assert_eq!(before, after);
    assert!(!dir.join(level_name(3)).exists());
    assert!(LogStorage::open_read_only(&dir.join("missing")).is_err());
}

#[test]
fn errors_name_their_cause() {
    let e = StorageError::Corrupt {
        path: PathBuf::from("/x/entries.dat"),
        offset: 17,
        reason: "bad".into(),
    };
    assert_eq!(e.to_string(), "/x/entries.dat is corrupt at byte 17: bad");
    let e = StorageError::OutOfRange { index: 5, size: 3 };
    assert_eq!(e.to_string(), "5 is out of range for a log of size 3");
}
