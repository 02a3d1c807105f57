//! Segment files (fragmented MP4), as found on disk after a crash or in a
//! bundle: any bytes give a layout or an error, never a panic, and a layout
//! only points inside the file.
#![no_main]

use custos_media::layout::parse_segment;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(layout) = parse_segment(data) else {
        return;
    };
    let len = data.len() as u64;
    assert!(layout.init_len <= layout.valid_len && layout.valid_len <= len);
    for f in &layout.fragments {
        let end = f.offset.checked_add(f.len).expect("fragment end overflows");
        assert!(f.offset >= layout.init_len && end <= layout.valid_len);
        for at in [f.moof_offset, f.sequence_offset, f.tfdt_offset] {
            assert!(
                at >= f.offset && at < end,
                "{at} outside {}..{end}",
                f.offset
            );
        }
    }
});
