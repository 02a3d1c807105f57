//! `custos demo`: a complete site from nothing — synthetic scenes encoded to
//! H.264 (libx264, in the `custos-av` helper), played as live cameras
//! (one of them covered for a while), and a register of locations, people
//! and a few hundred items on which custody actions happen during the first
//! minutes.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Context};
use custos_custody::actions::Action;
use custos_site::register::{self, ImportKind};
use custos_store::Store;

/// A synthetic camera scene.
pub struct Scene {
    pub id: &'static str,
    pub name: &'static str,
    /// Luma of the background and of the moving figure.
    pub background: u8,
    pub figure: u8,
    /// Seconds the figure takes to cross the picture.
    pub crossing_seconds: f64,
    /// Length of the clip, which plays in a loop.
    pub seconds: i32,
    /// When in the clip something covers the lens (start, end in seconds).
    pub covered: Option<(f64, f64)>,
}

pub const SCENES: [Scene; 2] = [
    Scene {
        id: "reading-room",
        name: "Reading room",
        background: 70,
        figure: 200,
        crossing_seconds: 6.0,
        seconds: 20,
        covered: None,
    },
    // Someone covers this camera for 15 s, 20 s after the demo starts and
    // again every time the clip comes round (5 min), so the tamper alert
    // opens and closes while a newcomer looks.
    Scene {
        id: "stacks",
        name: "Stacks",
        background: 110,
        figure: 30,
        crossing_seconds: 9.0,
        seconds: 300,
        covered: Some((COVERED_FROM_S, COVERED_FROM_S + 15.0)),
    },
];

/// When the stacks camera is first covered, seconds after the demo starts.
pub const COVERED_FROM_S: f64 = 20.0;

/// Clips are named after this, so a demo directory made by an older
/// version, whose clips show other scenes, gets the new ones.
const CLIP_VERSION: u32 = 2;

/// Encodes `scene` to an MP4 file at `path` (written to a temporary name
/// first, so an interrupted run never leaves a half file behind).
pub fn write_scene_clip(scene: &Scene, path: &Path) -> anyhow::Result<()> {
    let drawn = custos_media::av_wire::DemoScene {
        background: scene.background,
        figure: scene.figure,
        crossing_seconds: scene.crossing_seconds,
        seconds: scene.seconds,
        covered: scene.covered,
    };
    Ok(custos_media::decode::write_demo_clip(&drawn, path)?)
}

/// Creates the demo directory: clips and a config. Returns the config path.
/// Everything the demo makes stays inside `dir`.
pub fn prepare(
    dir: &Path,
    listen: &str,
    site: &str,
    central: Option<&(String, String)>,
) -> anyhow::Result<PathBuf> {
    let clips = dir.join("clips");
    std::fs::create_dir_all(&clips).with_context(|| format!("creating {}", clips.display()))?;
    let dir = std::fs::canonicalize(dir).with_context(|| format!("resolving {}", dir.display()))?;
    let mut cameras = String::new();
    for scene in &SCENES {
        let clip = dir
            .join("clips")
            .join(format!("{}-v{CLIP_VERSION}.mp4", scene.id));
        if !clip.exists() {
            eprintln!(
                "encoding the synthetic scene {:?} ({} s) …",
                scene.name, scene.seconds
            );
            write_scene_clip(scene, &clip)
                .with_context(|| format!("encoding {}", clip.display()))?;
        }
        let url = url::Url::from_file_path(&clip)
            .map_err(|_| anyhow!("clip path {} is not absolute", clip.display()))?;
        cameras.push_str(&format!(
            "\n[[camera]]\nid = \"{}\"\nname = \"{}\"\nurl = \"{url}\"\nsegment_seconds = 10\nretain_days = 7\nretain_bytes = \"2GB\"\n",
            scene.id, scene.name
        ));
    }
    let config = dir.join("custos.toml");
    // The rules run every 5 s, so the covered camera's alert opens and
    // closes while it lasts (15 s).
    // A report every 10 s, so the centre follows the demo closely.
    let central = central
        .map(|(url, code)| {
            format!(
                "\n[central]\nurl = {}\nenrol_code = {}\nreport_seconds = 10\n",
                toml_string(url),
                toml_string(code)
            )
        })
        .unwrap_or_default();
    let text = format!(
        "# Written by `custos demo`: two synthetic cameras played as live streams.\n\
         data_dir = \"data\"\nsite = {}\n\n[server]\nlisten = \"{listen}\"\n\n\
         [alerts]\ncheck_seconds = 5\n{central}{cameras}",
        toml_string(site)
    );
    std::fs::write(&config, text).with_context(|| format!("writing {}", config.display()))?;
    Ok(config)
}

/// `text` as a TOML basic string.
fn toml_string(text: &str) -> String {
    toml_edit::Value::from(text).to_string().trim().to_owned()
}

// ------------------------------------------------------------ the register

/// Who the demo's register changes are recorded by.
pub const DEMO_USER: &str = "admin";

/// Items in the demo's register.
const ITEMS: usize = 300;

/// The location no camera sees.
pub const BLIND_SPOT: &str = "BASEMENT";

/// Locations: the reading room and the stacks, each seen by its camera,
/// with tables and shelves inside; and a basement store no camera sees.
fn locations_csv() -> String {
    let mut csv = String::from("code,name,kind,room,coverage\n");
    csv.push_str("READ,Reading room,room,,reading-room\n");
    csv.push_str("T1,Reading table 1,reading_table,READ,\n");
    csv.push_str("T2,Reading table 2,reading_table,READ,\n");
    csv.push_str("STACKS,Stacks,room,,stacks\n");
    for shelf in 1..=6 {
        csv.push_str(&format!("S-{shelf:02},Shelf {shelf},shelf,STACKS,\n"));
    }
    csv.push_str(&format!("{BLIND_SPOT},Basement store,room,,\n"));
    csv.push_str(&format!("B-01,Basement shelf 1,shelf,{BLIND_SPOT},\n"));
    csv
}

const PEOPLE_CSV: &str = "staff_id,name,role,badge\n\
    m.weber,Maria Weber,staff,B-0117\n\
    j.okafor,John Okafor,staff,B-0121\n\
    r.dubois,René Dubois,researcher,\n\
    a.lindqvist,Anna Lindqvist,researcher,\n\
    k.sato,Kenji Sato,contractor,C-0042\n";

/// The archive's series: a title and its reference prefix.
const SERIES: [(&str, &str); 10] = [
    ("Minutes of the town council", "TC"),
    ("Letters to the harbour master", "HM"),
    ("Parish register of St Olaf", "PR"),
    ("Building permits", "BP"),
    ("Photographs of the quay", "PH"),
    ("Ledger of the grain store", "GS"),
    ("Maps of the estate", "ME"),
    ("School reports", "SR"),
    ("Court rolls", "CR"),
    ("Shipping manifests", "SM"),
];

/// The barcode of demo item `n` (1-based).
pub fn barcode(n: usize) -> String {
    format!("D-{n:04}")
}

/// Items: a few hundred boxes and volumes of ten series, over the six
/// shelves of the stacks; the last twenty kept in the basement.
fn items_csv() -> String {
    let mut csv = String::from("barcode,title,reference,classification,home_location\n");
    for n in 1..=ITEMS {
        let (title, prefix) = SERIES[(n - 1) % SERIES.len()];
        let volume = (n - 1) / SERIES.len() + 1;
        let year = 1850 + (n * 7) % 110;
        let classification = if n % 9 == 0 { "restricted" } else { "public" };
        let home = if n > ITEMS - 20 {
            "B-01".to_owned()
        } else {
            format!("S-{:02}", (n - 1) % 6 + 1)
        };
        csv.push_str(&format!(
            "{},\"{title}, {year}\",{prefix}/{volume},{classification},{home}\n",
            barcode(n)
        ));
    }
    csv
}

/// Fills an empty register: locations, people and items, each imported as
/// a site would import its spreadsheets (logged). Returns false, doing
/// nothing, when the register already has locations (a later run).
pub fn seed_register(store: &Store, camera_exists: &dyn Fn(&str) -> bool) -> anyhow::Result<bool> {
    if !store.locations()?.is_empty() {
        return Ok(false);
    }
    let files = [
        (ImportKind::Locations, locations_csv()),
        (ImportKind::People, PEOPLE_CSV.to_owned()),
        (ImportKind::Items, items_csv()),
    ];
    for (kind, csv) in files {
        register::import(
            store,
            DEMO_USER,
            kind,
            csv.as_bytes(),
            camera_exists,
            custos_site::clock::now_ms(),
            &mut |_, _| {},
        )
        .map_err(|e| anyhow!("seeding the demo's {}: {e}", kind.as_str()))?;
    }
    Ok(true)
}

/// One custody action of the demo's script.
struct Step {
    /// Seconds after the demo starts.
    at_s: u64,
    barcode: String,
    action: Action,
}

/// Seconds after the start by which a camera has recorded enough of an
/// action's footage window (30 s before it, 90 % of it) for it to count.
const FOOTAGE_SETTLED_S: u64 = 35;

/// What happens at the desk during the demo's first minutes. The first
/// action is in the basement, which no camera sees (a `custody.no_footage`
/// alert about 40 s later); a loan of 20 s falls overdue (`item.overdue`);
/// the others happen where cameras record them.
fn script(started_ms: i64) -> Vec<Step> {
    let at = |s: u64| started_ms + i64::try_from(s * 1000).unwrap_or(i64::MAX);
    let basement_item = barcode(ITEMS);
    let step = |at_s: u64, n: usize, action: Action| Step {
        at_s,
        barcode: barcode(n),
        action,
    };
    let settled = FOOTAGE_SETTLED_S;
    vec![
        Step {
            at_s: 8,
            barcode: basement_item,
            action: Action::CheckOut {
                to: "j.okafor".into(),
                due_ms: at(4 * 3600),
            },
        },
        step(
            settled,
            2,
            Action::CheckOut {
                to: "a.lindqvist".into(),
                due_ms: at(settled + 20),
            },
        ),
        step(
            settled + 5,
            1,
            Action::CheckOut {
                to: "r.dubois".into(),
                due_ms: at(3 * 3600),
            },
        ),
        step(
            settled + 15,
            3,
            Action::View {
                by: "r.dubois".into(),
                location: "T1".into(),
            },
        ),
        step(
            settled + 30,
            4,
            Action::Copy {
                by: "k.sato".into(),
            },
        ),
        step(
            settled + 45,
            5,
            Action::Move {
                to_location: "S-02".into(),
            },
        ),
        step(
            settled + 60,
            1,
            Action::Transfer {
                to: "a.lindqvist".into(),
            },
        ),
        step(
            settled + 90,
            1,
            Action::CheckIn {
                location: Some("READ".into()),
            },
        ),
    ]
}

/// Plays the script on its own thread, with its own connection to the
/// index (as `custos custody` would beside `serve`). A refused or failed
/// action is reported and the script goes on.
pub fn start_custody_script(data_dir: PathBuf) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let started_ms = custos_site::clock::now_ms();
    std::thread::Builder::new()
        .name("demo-custody".into())
        .spawn(move || {
            let store = match custos_site::open::index(&data_dir) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("the demo's custody script cannot open the index: {e:#}");
                    return;
                }
            };
            for step in script(started_ms) {
                let due = started + Duration::from_secs(step.at_s);
                if let Some(wait) = due.checked_duration_since(std::time::Instant::now()) {
                    std::thread::sleep(wait);
                }
                let now = custos_site::clock::now_ms();
                match register::record_custody(
                    &store,
                    DEMO_USER,
                    &step.barcode,
                    &step.action,
                    now,
                    now,
                ) {
                    Ok(r) => tracing::info!(
                        barcode = %step.barcode,
                        action = step.action.name(),
                        location = r.event.location.as_deref().unwrap_or(""),
                        "demo: custody event"
                    ),
                    Err(e) => tracing::warn!(
                        barcode = %step.barcode,
                        action = step.action.name(),
                        "demo: custody event refused: {e}"
                    ),
                }
            }
        })
        .context("starting the demo's custody script")?;
    Ok(())
}
