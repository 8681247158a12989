//! The server's persistent state: one SQLite file in its state folder with
//! the rooms that were used, the names barred from each (a kick bars the
//! name) and where each room's shared objects lie. It survives restarts;
//! the participants of a running room do not (they reconnect).

use crate::objects::SavedPose;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;

pub struct Store {
    conn: Connection,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Store {
    pub fn open(path: &Path) -> rusqlite::Result<Store> {
        let conn = Connection::open(path)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS rooms(name TEXT PRIMARY KEY, created INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS bans(room TEXT NOT NULL, name TEXT NOT NULL,
                 at INTEGER NOT NULL, PRIMARY KEY(room, name));
             CREATE TABLE IF NOT EXISTS objects(room TEXT NOT NULL, id INTEGER NOT NULL,
                 px REAL NOT NULL, py REAL NOT NULL, pz REAL NOT NULL,
                 qx REAL NOT NULL, qy REAL NOT NULL, qz REAL NOT NULL, qw REAL NOT NULL,
                 PRIMARY KEY(room, id));",
        )?;
        Ok(Store { conn })
    }

    /// Records that `room` is in use.
    pub fn touch_room(&self, room: &str) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT OR IGNORE INTO rooms(name, created) VALUES (?1, ?2)",
            params![room, now()],
        )?;
        Ok(())
    }

    pub fn rooms(&self) -> rusqlite::Result<Vec<String>> {
        let mut q = self.conn.prepare("SELECT name FROM rooms ORDER BY name")?;
        let r = q.query_map([], |r| r.get(0))?;
        r.collect()
    }

    pub fn ban(&self, room: &str, name: &str) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO bans(room, name, at) VALUES (?1, ?2, ?3)",
            params![room, name, now()],
        )?;
        Ok(())
    }

    pub fn banned(&self, room: &str, name: &str) -> rusqlite::Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM bans WHERE room = ?1 AND name = ?2",
                params![room, name],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Where the room's objects lie (id, position, orientation), all in
    /// one transaction.
    pub fn save_objects(&mut self, room: &str, objects: &[SavedPose]) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        for (id, p, q) in objects {
            tx.execute(
                "INSERT OR REPLACE INTO objects(room, id, px, py, pz, qx, qy, qz, qw)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![room, id, p[0], p[1], p[2], q[0], q[1], q[2], q[3]],
            )?;
        }
        tx.commit()
    }

    /// The room's saved objects (none for a new room).
    pub fn objects(&self, room: &str) -> rusqlite::Result<Vec<SavedPose>> {
        let mut q = self.conn.prepare(
            "SELECT id, px, py, pz, qx, qy, qz, qw FROM objects WHERE room = ?1 ORDER BY id",
        )?;
        let r = q.query_map(params![room], |r| {
            let f = |i: usize| r.get::<_, f64>(i).map(|x| x as f32);
            Ok((
                r.get(0)?,
                [f(1)?, f(2)?, f(3)?],
                [f(4)?, f(5)?, f(6)?, f(7)?],
            ))
        })?;
        r.collect()
    }
}
