//! Tools the creator lets the agent use (`[tools]` in the agent file):
//!
//! ```toml
//! [tools]
//! products = "products.toml"   # a catalogue: look up a product
//! links = [                    # panels the agent may open
//!   { title = "Book a trip", url = "https://example.com/book", about = ["book a trip", "reserve a guided tour"] },
//! ]
//! # Start a meeting with the creator's people: a room on this meeting
//! # server (its state folder signs the invitation).
//! meeting = { state = "meeting-state", server = "shop.example:4433", room = "nova-help" }
//! ```
//!
//! The catalogue is TOML: `[[product]]` tables with `name`, `price`, and
//! optionally `aliases`, `stock`, `url` and `about`.
//!
//! Which tool a question calls is decided here, not by the model: a model
//! of 135 M parameters does not write reliable tool calls, and a creator's
//! tool must not be called on a whim. A product is looked up when its name
//! (or an alias), word for word, is in the question; a link opens when the
//! question says one of its `about` phrases, by word or by meaning
//! (MiniLM similarity at least [`LINK_SIMILARITY`]); a meeting starts when
//! the question asks for a person (built-in phrases, by word or meaning).
//! The results go into the prompt as facts the answer can use, and to the
//! caller as [`Action`]s (the headset shows a link as a panel and a
//! meeting as an invitation to join; the HTTP API returns them).

use crate::embed::{similarity, Embedder};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A question at least this alike a link's `about` phrase opens it.
pub const LINK_SIMILARITY: f32 = 0.6;
/// ... and this alike a phrase asking for a person starts a meeting.
pub const MEETING_SIMILARITY: f32 = 0.6;

/// What asking for a person sounds like.
const PERSON_PHRASES: &[&str] = &[
    "talk to a person",
    "speak to a human",
    "talk to someone from the staff",
    "start a meeting",
    "video call with the shop",
];

/// A link the agent may open.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    pub title: String,
    pub url: String,
    /// What the link is for, in a few words each.
    pub about: Vec<String>,
}

/// Where the agent starts meetings.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeetingSpec {
    /// The meeting server's state folder (relative to the agent file).
    pub state: PathBuf,
    /// The address participants reach the server at.
    pub server: String,
    /// The rooms' name prefix.
    #[serde(default = "default_room")]
    pub room: String,
}

fn default_room() -> String {
    "help".into()
}

/// The `[tools]` table.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolsSpec {
    #[serde(default)]
    pub products: Option<PathBuf>,
    #[serde(default)]
    pub links: Vec<LinkSpec>,
    #[serde(default)]
    pub meeting: Option<MeetingSpec>,
}

/// One product of the catalogue.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub name: String,
    pub price: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub stock: Option<u32>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub about: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Catalogue {
    #[serde(default)]
    product: Vec<Product>,
}

/// What a tool did, for the caller to show.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "tool", rename_all = "snake_case")]
pub enum Action {
    /// A product looked up.
    Product(Product),
    /// A link to open as a panel.
    Link { title: String, url: String },
    /// A meeting room made for the user, and the invitation to it.
    Meeting { room: String, invite: String },
}

impl Action {
    /// The fact the answer may use.
    fn fact(&self) -> String {
        match self {
            Action::Product(p) => {
                let mut s = format!("{} costs {}", p.name, p.price);
                match p.stock {
                    Some(0) => s.push_str("; it is sold out"),
                    Some(n) => s.push_str(&format!("; {n} in stock")),
                    None => {}
                }
                if !p.about.is_empty() {
                    s.push_str(&format!(". {}", p.about));
                }
                s
            }
            Action::Link { title, .. } => format!("A panel with \"{title}\" opens for the user."),
            Action::Meeting { room, .. } => format!(
                "A meeting room \"{room}\" is ready and the user has the invitation to join it."
            ),
        }
    }

    /// One line for a chat or a terminal.
    pub fn line(&self) -> String {
        match self {
            Action::Product(p) => format!(
                "product: {}, {}{}{}",
                p.name,
                p.price,
                p.stock.map_or(String::new(), |n| format!(", {n} in stock")),
                p.url.as_ref().map_or(String::new(), |u| format!(", {u}"))
            ),
            Action::Link { title, url } => format!("link: {title} <{url}>"),
            Action::Meeting { room, invite } => format!("meeting {room}: {invite}"),
        }
    }
}

/// A phrase by word and by meaning.
struct Phrase {
    lower: String,
    embedding: Vec<f32>,
}

fn phrases(list: &[&str], embedder: &Embedder) -> Result<Vec<Phrase>> {
    if list.is_empty() {
        return Ok(Vec::new());
    }
    Ok(list
        .iter()
        .zip(embedder.embed(list)?)
        .map(|(p, e)| Phrase {
            lower: p.to_lowercase(),
            embedding: e,
        })
        .collect())
}

fn says(phrases: &[Phrase], lower: &str, q: &[f32], min: f32) -> bool {
    phrases
        .iter()
        .any(|p| lower.contains(&p.lower) || similarity(q, &p.embedding) >= min)
}

fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The agent's tools, ready to route questions.
pub struct Tools {
    products: Vec<Product>,
    links: Vec<(LinkSpec, Vec<Phrase>)>,
    meeting: Option<(MeetingSpec, Vec<Phrase>)>,
}

impl std::fmt::Debug for Tools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tools")
            .field("products", &self.products.len())
            .field("links", &self.links.len())
            .field("meeting", &self.meeting.is_some())
            .finish()
    }
}

/// Reads a product catalogue, checked.
pub fn read_catalogue(path: &Path) -> Result<Vec<Product>> {
    let err = |msg: String| Error::Agent {
        path: path.display().to_string(),
        msg,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let c: Catalogue = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
    for (i, p) in c.product.iter().enumerate() {
        if p.name.trim().is_empty() || p.price.trim().is_empty() {
            return Err(err(format!("product[{i}] needs a name and a price")));
        }
    }
    Ok(c.product)
}

impl Tools {
    /// Prepares the tools of `spec` (paths relative to `dir`, the agent
    /// file's folder).
    pub fn new(spec: &ToolsSpec, dir: &Path, embedder: &Embedder) -> Result<Tools> {
        let products = match &spec.products {
            Some(p) => read_catalogue(&dir.join(p))?,
            None => Vec::new(),
        };
        let mut links = Vec::new();
        for l in &spec.links {
            let about: Vec<&str> = l.about.iter().map(String::as_str).collect();
            links.push((l.clone(), phrases(&about, embedder)?));
        }
        let meeting = match &spec.meeting {
            Some(m) => Some((
                MeetingSpec {
                    state: dir.join(&m.state),
                    ..m.clone()
                },
                phrases(PERSON_PHRASES, embedder)?,
            )),
            None => None,
        };
        Ok(Tools {
            products,
            links,
            meeting,
        })
    }

    /// Whether any tool is there.
    pub fn is_empty(&self) -> bool {
        self.products.is_empty() && self.links.is_empty() && self.meeting.is_none()
    }

    /// The tools `question` (embedded: `q`) calls for `user`, run.
    pub fn route(&self, user: &str, question: &str, q: &[f32]) -> Result<Vec<Action>> {
        let mut actions = Vec::new();
        let asked = words(question);
        let lower = question.to_lowercase();
        // Products named word for word; the longest name first.
        let mut named: Vec<(usize, &Product)> = self
            .products
            .iter()
            .filter_map(|p| {
                std::iter::once(&p.name)
                    .chain(&p.aliases)
                    .map(|n| words(n))
                    .filter(|w| !w.is_empty() && w.iter().all(|w| asked.contains(w)))
                    .map(|w| w.len())
                    .max()
                    .map(|n| (n, p))
            })
            .collect();
        named.sort_by_key(|n| std::cmp::Reverse(n.0));
        actions.extend(
            named
                .into_iter()
                .take(2)
                .map(|(_, p)| Action::Product(p.clone())),
        );
        for (l, about) in &self.links {
            if says(about, &lower, q, LINK_SIMILARITY) {
                actions.push(Action::Link {
                    title: l.title.clone(),
                    url: l.url.clone(),
                });
            }
        }
        if let Some((m, asks)) = &self.meeting {
            if says(asks, &lower, q, MEETING_SIMILARITY) {
                actions.push(start_meeting(m, user)?);
            }
        }
        Ok(actions)
    }

    /// The facts of `actions` for the prompt.
    pub fn facts(actions: &[Action]) -> Vec<String> {
        actions.iter().map(Action::fact).collect()
    }
}

/// A room for `user` and the creator's people, and its invitation.
fn start_meeting(m: &MeetingSpec, user: &str) -> Result<Action> {
    let identity = parallax_meeting::server::identity(&m.state).map_err(|e| Error::Agent {
        path: m.state.display().to_string(),
        msg: format!("the meeting tool's server state: {e}"),
    })?;
    let who: String = user
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(24)
        .collect();
    let tag: u32 = rand_tag();
    let room = format!("{}-{who}-{tag:04x}", m.room);
    let token = parallax_meeting::token::issue(
        &identity.secret,
        &room,
        user,
        parallax_meeting::token::Role::Member,
        3600,
    );
    let invite =
        parallax_meeting::invite::Invite::to_server(&room, &token, &m.server, &identity.cert)
            .encode();
    tracing::info!(user, room, "the meeting tool made a room");
    Ok(Action::Meeting { room, invite })
}

/// A few random bits for a room's name (from the clock and the process:
/// names need not be secret, the token is what admits).
fn rand_tag() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    (t ^ std::process::id().rotate_left(16)) & 0xffff
}
