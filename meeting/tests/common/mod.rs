//! A room server on a free loopback port, for the loopback tests.

use parallax_meeting::Server;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// An empty state folder for the test `tag` of this process.
pub fn state(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("px-meeting-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// A server on `dir`, listening on a free loopback port (not yet running):
/// the server, its address, its certificate and its token secret.
pub fn start(dir: &Path) -> (Server, SocketAddr, Vec<u8>, Vec<u8>) {
    let s = Server::open(dir, "127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = s.local_addr().unwrap();
    let cert = s.cert_der().to_vec();
    let secret = std::fs::read(dir.join("secret")).unwrap();
    (s, addr, cert, secret)
}
