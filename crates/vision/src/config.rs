//! What an [`Analyzer`](crate::Analyzer) is told about its camera: work size,
//! sensitivity, zones and masks, and how motion is merged into events.

use std::fmt;

/// A named region of the picture, in normalised coordinates: `(0, 0)` is the
/// top-left corner of the picture and `(1, 1)` the bottom-right one, so one
/// polygon fits every resolution of the same camera.
///
/// The polygon is closed implicitly (the last point joins the first) and is
/// filled with the even-odd rule, so a self-intersecting outline still means
/// something predictable.
#[derive(Debug, Clone, PartialEq)]
pub struct Polygon {
    /// The name events report (for a zone) or a label for messages (for a mask).
    pub name: String,
    /// The corners, each `(x, y)` within `0..=1`; at least three.
    pub points: Vec<(f32, f32)>,
}

/// Settings of one camera's analysis. [`Default`] gives the documented
/// defaults; [`Analyzer::new`](crate::Analyzer::new) validates every field.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyzerConfig {
    /// Width in pixels of the picture analysed: each frame is box-downscaled
    /// to this width (keeping its aspect ratio) before anything else. Frames
    /// narrower than this are analysed at their own width. Default 160;
    /// 16..=4096.
    pub work_width: usize,
    /// 0..=1, default 0.5: higher means smaller pixel differences count as
    /// motion. The threshold also never falls below what the camera's own
    /// learnt sensor noise needs.
    pub sensitivity: f32,
    /// Fraction of the unmasked picture a moving blob must cover to count as
    /// motion; 0..=1, default 0.002.
    pub min_area: f32,
    /// Named regions: each motion event lists the zones its blobs touched.
    /// At most 64.
    pub zones: Vec<Polygon>,
    /// Regions where motion is never counted (a clock, a window on a street).
    /// Tamper detection still looks at the whole picture.
    pub masks: Vec<Polygon>,
    /// Motion separated by less than this many milliseconds is one event.
    /// Default 3000; at least 0.
    pub motion_merge_gap_ms: i64,
    /// Whether to detect camera tampering (covered, defocused, moved,
    /// frozen). Default true.
    pub tamper: bool,
}

impl Default for AnalyzerConfig {
    fn default() -> Self {
        AnalyzerConfig {
            work_width: 160,
            sensitivity: 0.5,
            min_area: 0.002,
            zones: Vec::new(),
            masks: Vec::new(),
            motion_merge_gap_ms: 3000,
            tamper: true,
        }
    }
}

/// The smallest work width: the tamper grid needs at least two pixels per
/// cell across.
pub(crate) const MIN_WORK_WIDTH: usize = 16;
/// The largest work width: past this the analysis stops being cheap and
/// gains nothing.
pub(crate) const MAX_WORK_WIDTH: usize = 4096;
/// Zones are tracked per pixel as bits of a `u64`.
pub(crate) const MAX_ZONES: usize = 64;

/// Which list a polygon came from, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolygonList {
    /// `zones`
    Zones,
    /// `masks`
    Masks,
}

impl fmt::Display for PolygonList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PolygonList::Zones => "zones",
            PolygonList::Masks => "masks",
        })
    }
}

/// A field of [`AnalyzerConfig`] that cannot be used, named in the message.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigError {
    /// `work_width` outside 16..=4096.
    WorkWidth {
        /// The value given.
        value: usize,
    },
    /// `sensitivity` not a number within 0..=1.
    Sensitivity {
        /// The value given.
        value: f32,
    },
    /// `min_area` not a number within 0..=1.
    MinArea {
        /// The value given.
        value: f32,
    },
    /// `motion_merge_gap_ms` negative.
    MotionMergeGap {
        /// The value given.
        value: i64,
    },
    /// More than 64 zones.
    TooManyZones {
        /// How many were given.
        count: usize,
    },
    /// A polygon without a name.
    PolygonName {
        /// Which list it is in.
        list: PolygonList,
        /// Its position in that list.
        index: usize,
    },
    /// A polygon with fewer than three points.
    PolygonPoints {
        /// Which list it is in.
        list: PolygonList,
        /// Its position in that list.
        index: usize,
        /// Its name.
        name: String,
        /// How many points it has.
        points: usize,
    },
    /// A polygon point outside `0..=1` (or not a number).
    PolygonCoordinate {
        /// Which list it is in.
        list: PolygonList,
        /// Its position in that list.
        index: usize,
        /// Its name.
        name: String,
        /// The position of the bad point in `points`.
        point: usize,
        /// The point.
        x: f32,
        /// The point.
        y: f32,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::WorkWidth { value } => write!(
                f,
                "work_width: {value} is outside {MIN_WORK_WIDTH}..={MAX_WORK_WIDTH}"
            ),
            ConfigError::Sensitivity { value } => {
                write!(f, "sensitivity: {value} is outside 0..=1")
            }
            ConfigError::MinArea { value } => write!(f, "min_area: {value} is outside 0..=1"),
            ConfigError::MotionMergeGap { value } => {
                write!(f, "motion_merge_gap_ms: {value} is negative")
            }
            ConfigError::TooManyZones { count } => {
                write!(f, "zones: {count} zones, at most {MAX_ZONES} are supported")
            }
            ConfigError::PolygonName { list, index } => {
                write!(f, "{list}[{index}]: the polygon has an empty name")
            }
            ConfigError::PolygonPoints {
                list,
                index,
                name,
                points,
            } => write!(
                f,
                "{list}[{index}] \"{name}\": the polygon has {points} points, at least 3 are needed"
            ),
            ConfigError::PolygonCoordinate {
                list,
                index,
                name,
                point,
                x,
                y,
            } => write!(
                f,
                "{list}[{index}] \"{name}\": point {point} ({x}, {y}) is outside 0..=1 \
                 (coordinates are fractions of the picture's width and height)"
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

impl AnalyzerConfig {
    /// Checks every field; the first bad one is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(MIN_WORK_WIDTH..=MAX_WORK_WIDTH).contains(&self.work_width) {
            return Err(ConfigError::WorkWidth {
                value: self.work_width,
            });
        }
        if !(0.0..=1.0).contains(&self.sensitivity) {
            return Err(ConfigError::Sensitivity {
                value: self.sensitivity,
            });
        }
        if !(0.0..=1.0).contains(&self.min_area) {
            return Err(ConfigError::MinArea {
                value: self.min_area,
            });
        }
        if self.motion_merge_gap_ms < 0 {
            return Err(ConfigError::MotionMergeGap {
                value: self.motion_merge_gap_ms,
            });
        }
        if self.zones.len() > MAX_ZONES {
            return Err(ConfigError::TooManyZones {
                count: self.zones.len(),
            });
        }
        for (list, polygons) in [
            (PolygonList::Zones, &self.zones),
            (PolygonList::Masks, &self.masks),
        ] {
            for (index, polygon) in polygons.iter().enumerate() {
                validate_polygon(list, index, polygon)?;
            }
        }
        Ok(())
    }
}

fn validate_polygon(list: PolygonList, index: usize, polygon: &Polygon) -> Result<(), ConfigError> {
    if polygon.name.is_empty() {
        return Err(ConfigError::PolygonName { list, index });
    }
    if polygon.points.len() < 3 {
        return Err(ConfigError::PolygonPoints {
            list,
            index,
            name: polygon.name.clone(),
            points: polygon.points.len(),
        });
    }
    // `contains` is false for NaN, so this also rejects non-numbers.
    let inside = |v: f32| (0.0..=1.0).contains(&v);
    if let Some((point, &(x, y))) = polygon
        .points
        .iter()
        .enumerate()
        .find(|(_, (x, y))| !inside(*x) || !inside(*y))
    {
        return Err(ConfigError::PolygonCoordinate {
            list,
            index,
            name: polygon.name.clone(),
            point,
            x,
            y,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn triangle(name: &str) -> Polygon {
        Polygon {
            name: name.to_string(),
            points: vec![(0.0, 0.0), (1.0, 0.0), (0.5, 1.0)],
        }
    }

    #[test]
    fn defaults_are_valid() {
        assert_eq!(AnalyzerConfig::default().validate(), Ok(()));
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: Vec<(AnalyzerConfig, &str)> = vec![
            (
                AnalyzerConfig {
                    work_width: 0,
                    ..Default::default()
                },
                "work_width: 0",
            ),
            (
                AnalyzerConfig {
                    sensitivity: f32::NAN,
                    ..Default::default()
                },
                "sensitivity",
            ),
            (
                AnalyzerConfig {
                    min_area: 1.5,
                    ..Default::default()
                },
                "min_area: 1.5",
            ),
            (
                AnalyzerConfig {
                    motion_merge_gap_ms: -1,
                    ..Default::default()
                },
                "motion_merge_gap_ms: -1",
            ),
            (
                AnalyzerConfig {
                    zones: vec![Polygon {
                        name: "door".into(),
                        points: vec![(0.0, 0.0), (1.0, 1.0)],
                    }],
                    ..Default::default()
                },
                "zones[0] \"door\": the polygon has 2 points",
            ),
            (
                AnalyzerConfig {
                    masks: vec![
                        triangle("clock"),
                        Polygon {
                            name: "window".into(),
                            points: vec![(0.0, 0.0), (1.2, 0.0), (0.5, 1.0)],
                        },
                    ],
                    ..Default::default()
                },
                "masks[1] \"window\": point 1 (1.2, 0)",
            ),
            (
                AnalyzerConfig {
                    zones: vec![triangle("")],
                    ..Default::default()
                },
                "zones[0]: the polygon has an empty name",
            ),
            (
                AnalyzerConfig {
                    zones: (0..65).map(|i| triangle(&format!("z{i}"))).collect(),
                    ..Default::default()
                },
                "zones: 65 zones",
            ),
        ];
        for (config, expected) in cases {
            let message = config.validate().unwrap_err().to_string();
            assert!(
                message.contains(expected),
                "{message:?} should contain {expected:?}"
            );
        }
    }
}
