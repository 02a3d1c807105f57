//! `custos-av`: the helper that does custos' decoding, snapshots, file
//! demuxing and demo clips with libav, in a process of its own. custos
//! starts it and talks to it over stdin and stdout (`custos_media::av_wire`).

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("serve") => std::process::exit(custos_av::serve::run()),
        Some("--version") => println!("custos-av {}", env!("CARGO_PKG_VERSION")),
        // For `custos bench analysis`: libav's decoding on its own.
        Some("decode-cpu") => {
            let Some(path) = std::env::args_os().nth(2) else {
                eprintln!("custos-av decode-cpu FILE");
                std::process::exit(2);
            };
            match custos_av::codec::decode_cpu(std::path::Path::new(&path)) {
                Ok((pictures, cpu)) => println!("{pictures} {cpu}"),
                Err(e) => {
                    eprintln!("custos-av: {e}");
                    std::process::exit(1);
                }
            }
        }
        _ => {
            eprintln!(
                "custos-av decodes video for custos, which starts it as `custos-av serve` \
                 and talks to it over stdin and stdout; it is not run by hand"
            );
            std::process::exit(2);
        }
    }
}
