//! Generational handles for every OpenXR object.
//!
//! A handle is `kind (8 bits) | generation (24 bits) | slot index (32 bits)`:
//! a stale handle (its slot reused), a destroyed one, or one of the wrong
//! type is detected by comparison and never dereferenced. Objects record
//! their parent, so destroying a parent destroys its children.

use crate::error::{Error, Result};
use parking_lot::Mutex;
use std::any::Any;
use std::sync::{Arc, OnceLock};

/// The type of object a handle names.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    Instance = 1,
    Session = 2,
    Space = 3,
    ActionSet = 4,
    Action = 5,
    Messenger = 6,
    Swapchain = 7,
    HandTracker = 8,
    FaceTracker2 = 9,
    FacialTrackerHtc = 10,
    BodyTracker = 11,
}

/// A raw handle value as apps see it.
pub type Raw = u64;

struct Slot {
    generation: u32,
    entry: Option<Entry>,
}

struct Entry {
    kind: Kind,
    parent: Raw,
    object: Arc<dyn Any + Send + Sync>,
}

/// The table of live objects.
#[derive(Default)]
pub struct Registry {
    slots: Vec<Slot>,
    free: Vec<u32>,
}

fn encode(kind: Kind, generation: u32, index: u32) -> Raw {
    ((kind as u64) << 56) | (((generation & 0xFF_FFFF) as u64) << 32) | index as u64
}

fn decode(raw: Raw) -> (u8, u32, u32) {
    (
        (raw >> 56) as u8,
        ((raw >> 32) & 0xFF_FFFF) as u32,
        raw as u32,
    )
}

static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();

fn registry() -> &'static Mutex<Registry> {
    REGISTRY.get_or_init(|| Mutex::new(Registry::default()))
}

/// Stores an object and returns its new handle.
pub fn insert<T: Any + Send + Sync>(kind: Kind, parent: Raw, object: Arc<T>) -> Raw {
    let mut r = registry().lock();
    let entry = Entry {
        kind,
        parent,
        object,
    };
    let index = match r.free.pop() {
        Some(i) => {
            let slot = &mut r.slots[i as usize];
            slot.generation = (slot.generation + 1) & 0xFF_FFFF;
            slot.entry = Some(entry);
            i
        }
        None => {
            r.slots.push(Slot {
                generation: 1,
                entry: Some(entry),
            });
            (r.slots.len() - 1) as u32
        }
    };
    let generation = r.slots[index as usize].generation;
    encode(kind, generation, index)
}

/// Looks a handle up; `XR_ERROR_HANDLE_INVALID` when it is null, destroyed,
/// stale or of another type.
pub fn get<T: Any + Send + Sync>(kind: Kind, raw: Raw) -> Result<Arc<T>> {
    let (k, generation, index) = decode(raw);
    if raw == 0 || k != kind as u8 {
        return Err(Error::handle_invalid(format!(
            "{raw:#x} is not a valid {kind:?} handle"
        )));
    }
    let r = registry().lock();
    let slot = r
        .slots
        .get(index as usize)
        .filter(|s| s.generation == generation)
        .and_then(|s| s.entry.as_ref())
        .filter(|e| e.kind == kind)
        .ok_or_else(|| {
            Error::handle_invalid(format!(
                "{kind:?} handle {raw:#x} was destroyed or never existed"
            ))
        })?;
    slot.object
        .clone()
        .downcast::<T>()
        .map_err(|_| Error::runtime_failure("handle table holds an object of the wrong type"))
}

/// The parent a live handle was created from.
pub fn parent_of(raw: Raw) -> Option<Raw> {
    let (_, generation, index) = decode(raw);
    let r = registry().lock();
    r.slots
        .get(index as usize)
        .filter(|s| s.generation == generation)
        .and_then(|s| s.entry.as_ref())
        .map(|e| e.parent)
}

/// An object taken out of the table by [`remove`].
pub type Removed = (Kind, Raw, Arc<dyn Any + Send + Sync>);

/// Destroys a handle and, recursively, every object created from it.
/// Returns the destroyed objects (the handle's first) so their owners can
/// release what they hold outside the lock.
pub fn remove(kind: Kind, raw: Raw) -> Result<Vec<Removed>> {
    let (k, generation, index) = decode(raw);
    if raw == 0 || k != kind as u8 {
        return Err(Error::handle_invalid(format!(
            "{raw:#x} is not a valid {kind:?} handle"
        )));
    }
    let mut r = registry().lock();
    let live = r.slots.get(index as usize).is_some_and(|s| {
        s.generation == generation && s.entry.as_ref().is_some_and(|e| e.kind == kind)
    });
    if !live {
        return Err(Error::handle_invalid(format!(
            "{kind:?} handle {raw:#x} was destroyed or never existed"
        )));
    }
    let mut removed = Vec::new();
    let mut stack = vec![raw];
    while let Some(h) = stack.pop() {
        let (_, g, i) = decode(h);
        let slot = &mut r.slots[i as usize];
        if slot.generation != g {
            continue;
        }
        if let Some(e) = slot.entry.take() {
            removed.push((e.kind, h, e.object));
            r.free.push(i);
        }
        for (j, s) in r.slots.iter().enumerate() {
            if let Some(e) = &s.entry {
                if e.parent == h {
                    stack.push(encode(e.kind, s.generation, j as u32));
                }
            }
        }
    }
    Ok(removed)
}

/// Every live handle of a kind whose parent is `parent`.
pub fn children(parent: Raw, kind: Kind) -> Vec<Raw> {
    let r = registry().lock();
    r.slots
        .iter()
        .enumerate()
        .filter_map(|(j, s)| {
            s.entry
                .as_ref()
                .filter(|e| e.parent == parent && e.kind == kind)
                .map(|e| encode(e.kind, s.generation, j as u32))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_wrong_type_and_children() {
        let parent = insert(Kind::Instance, 0, Arc::new(1u32));
        let child = insert(Kind::Session, parent, Arc::new(2u32));
        let grandchild = insert(Kind::Space, child, Arc::new(3u32));
        assert_eq!(*get::<u32>(Kind::Session, child).unwrap(), 2);
        assert!(get::<u32>(Kind::Space, child).is_err());
        assert!(get::<u32>(Kind::Session, 0).is_err());
        let removed = remove(Kind::Instance, parent).unwrap();
        assert_eq!(removed.len(), 3);
        assert!(get::<u32>(Kind::Space, grandchild).is_err());
        // The slot is reused with a new generation; the old handle stays dead.
        let again = insert(Kind::Instance, 0, Arc::new(4u32));
        assert_ne!(again, parent);
        assert!(get::<u32>(Kind::Instance, parent).is_err());
        assert!(remove(Kind::Instance, parent).is_err());
        remove(Kind::Instance, again).unwrap();
    }
}
