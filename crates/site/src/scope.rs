//! Whose footage a user may see. Admins, auditors and viewers see every
//! camera; an archivist sees the cameras of the rooms assigned to them
//! (`user_rooms`): the cameras covering each assigned location and every
//! place inside it (a shelf's own camera, a table's), found the same way a
//! custody event finds its footage ([`custos_custody::footage::covering`]).
//! An archivist with no rooms sees no footage.
//!
//! Every way of handing out pictures (recorded video, live video, live
//! thumbnails, event snapshots) asks [`footage_scope`] after the role.

use std::collections::{BTreeSet, HashMap};

use custos_custody::footage::covering;
use custos_custody::model::Location;
use custos_store::{Role, Store, StoreError, User};

/// The footage one user may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FootageScope {
    /// Every camera (admins, auditors, viewers).
    Everything,
    /// An archivist's: the cameras of their rooms.
    Rooms {
        /// The location codes assigned to the archivist.
        rooms: Vec<String>,
        /// The cameras that see them.
        cameras: BTreeSet<String>,
    },
}

impl FootageScope {
    /// `Ok` when footage of `camera` is in scope, else why not, in words
    /// the user can act on.
    pub fn allows(&self, camera: &str) -> Result<(), String> {
        match self {
            FootageScope::Everything => Ok(()),
            FootageScope::Rooms { cameras, .. } if cameras.contains(camera) => Ok(()),
            FootageScope::Rooms { rooms, .. } if rooms.is_empty() => Err(
                "you have no rooms assigned, so no footage to see; an admin assigns rooms"
                    .to_owned(),
            ),
            FootageScope::Rooms { rooms, .. } => Err(format!(
                "camera {camera:?} does not cover your rooms ({})",
                rooms.join(", ")
            )),
        }
    }
}

/// The footage `user` may see when their role alone decides it; `None` for
/// an archivist, whose scope the index holds ([`footage_scope`]).
pub fn scope_by_role(user: &User) -> Option<FootageScope> {
    (user.role != Role::Archivist).then_some(FootageScope::Everything)
}

/// The footage `user` may see.
pub fn footage_scope(store: &Store, user: &User) -> Result<FootageScope, StoreError> {
    if let Some(scope) = scope_by_role(user) {
        return Ok(scope);
    }
    let rooms = store.user_rooms(user.id)?;
    let cameras = cameras_of_rooms(&rooms, &store.locations()?);
    Ok(FootageScope::Rooms { rooms, cameras })
}

/// The cameras that see `rooms` or any place inside them.
pub fn cameras_of_rooms(rooms: &[String], locations: &[Location]) -> BTreeSet<String> {
    let by_code: HashMap<&str, &Location> =
        locations.iter().map(|l| (l.code.as_str(), l)).collect();
    let lookup = |code: &str| by_code.get(code).map(|l| (*l).clone());
    let inside = |location: &Location| {
        // The location itself or one of the rooms around it (bounded, as
        // the register may hold a cycle it was never meant to).
        let mut code = Some(location.code.as_str());
        for _ in 0..16 {
            let Some(c) = code else { return false };
            if rooms.iter().any(|r| r == c) {
                return true;
            }
            code = by_code.get(c).and_then(|l| l.room.as_deref());
        }
        false
    };
    locations
        .iter()
        .filter(|l| inside(l))
        .flat_map(|l| covering(l, &lookup))
        .map(|c| c.camera)
        .collect()
}

#[cfg(test)]
mod tests {
    use custos_custody::model::{Coverage, LocationKind};

    use super::*;

    fn place(code: &str, room: Option<&str>, cameras: &[&str]) -> Location {
        Location {
            code: code.into(),
            name: code.into(),
            kind: if room.is_some() {
                LocationKind::Shelf
            } else {
                LocationKind::Room
            },
            room: room.map(Into::into),
            coverage: cameras
                .iter()
                .map(|c| Coverage {
                    camera: (*c).into(),
                    zone: None,
                })
                .collect(),
            retired: false,
        }
    }

    #[test]
    fn a_room_brings_its_cameras_and_those_of_the_places_inside_it() {
        let register = [
            place("R1", None, &["door"]),
            place("R1-S1", Some("R1"), &["shelf-cam"]),
            place("R1-S2", Some("R1"), &[]),
            place("R2", None, &["hall"]),
            place("R2-T1", Some("R2"), &["table-cam"]),
        ];
        let r1 = cameras_of_rooms(&["R1".into()], &register);
        assert_eq!(r1.into_iter().collect::<Vec<_>>(), ["door", "shelf-cam"]);
        let both = cameras_of_rooms(&["R1".into(), "R2".into()], &register);
        assert_eq!(both.len(), 4);
        // A shelf alone sees through its own camera and its room's.
        let shelf = cameras_of_rooms(&["R1-S1".into()], &register);
        assert_eq!(shelf.into_iter().collect::<Vec<_>>(), ["door", "shelf-cam"]);
        assert!(cameras_of_rooms(&[], &register).is_empty());
    }

    #[test]
    fn a_cycle_in_the_register_does_not_hang() {
        let register = [place("A", Some("B"), &["a"]), place("B", Some("A"), &["b"])];
        let cams = cameras_of_rooms(&["C".into()], &register);
        assert!(cams.is_empty());
        let cams = cameras_of_rooms(&["A".into()], &register);
        assert_eq!(cams.into_iter().collect::<Vec<_>>(), ["a", "b"]);
    }
}
