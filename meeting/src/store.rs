//! The server's persistent state: one SQLite file in its state folder with
//! the rooms that were used and the names barred from each (a kick bars
//! the name). It survives restarts; the participants of a running room do
//! not (they reconnect).

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
                 at INTEGER NOT NULL, PRIMARY KEY(room, name));",
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
}
