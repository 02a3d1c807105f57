//! Segment files from disk are outside input: a damaged or hostile file must
//! give an error or a shorter valid prefix, never a panic, and recovery of any
//! prefix must keep exactly the complete fragments in it.

use custos_media::layout::parse_segment;
use custos_media::segment::SegmentWriter;
use custos_media::synthetic;

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn sample_file() -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.mp4");
    let params = synthetic::params(640, 360);
    let frame = |n: i64| synthetic::frame(n, 10);
    let mut w = SegmentWriter::create(&path, &params, frame(0), 1_764_340_000_000, 90_000, 9000)
        .expect("create");
    for n in 1..50 {
        w.push(frame(n)).expect("push");
    }
    w.finish(None).expect("finish");
    std::fs::read(&path).expect("read")
}

#[test]
fn every_prefix_parses_to_its_complete_fragments() {
    let file = sample_file();
    let full = parse_segment(file.as_slice()).expect("full");
    let ends: Vec<u64> = full.fragments.iter().map(|f| f.offset + f.len).collect();
    for len in 0..=file.len() {
        match parse_segment(&file[..len]) {
            Err(_) => assert!(
                (len as u64) < full.init_len,
                "prefix of {len} bytes holds the init segment"
            ),
            Ok(l) => {
                let complete = ends.iter().filter(|&&e| e <= len as u64).count();
                assert_eq!(l.fragments.len(), complete, "prefix {len}");
                assert_eq!(
                    l.valid_len,
                    ends.get(complete.wrapping_sub(1))
                        .copied()
                        .unwrap_or(full.init_len)
                );
            }
        }
    }
}

#[test]
fn random_corruption_never_panics_and_never_grows_the_valid_part() {
    let file = sample_file();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..20_000 {
        let mut bytes = file.clone();
        for _ in 0..1 + rng.below(8) {
            match rng.below(4) {
                1 if bytes.len() >= 8 => {
                    // Box sizes are where a parser is most easily fooled.
                    let i = rng.below(bytes.len().saturating_sub(4)) & !3;
                    let v = [0u32, 1, 7, 8, u32::MAX, rng.next() as u32][rng.below(6)];
                    bytes[i..i + 4].copy_from_slice(&v.to_be_bytes());
                }
                0 | 1 => {
                    let i = rng.below(bytes.len());
                    bytes[i] = rng.next() as u8;
                }
                2 => {
                    let cut = rng.below(bytes.len());
                    bytes.truncate(cut.max(1));
                }
                _ => {
                    let at = rng.below(bytes.len());
                    let junk: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
                    bytes.splice(at..at, junk);
                }
            }
        }
        if let Ok(layout) = parse_segment(bytes.as_slice()) {
            assert!(layout.valid_len <= bytes.len() as u64);
            for f in &layout.fragments {
                assert!(f.offset + f.len <= layout.valid_len);
            }
            let _ = layout.video_params();
        }
    }
}
