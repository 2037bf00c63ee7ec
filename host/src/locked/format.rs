//! The shapes of Spin's locked-app JSON (`spin_lock_version` 1) that spinfer reads: only
//! the fields it runs; everything else in the document is ignored by serde.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Deserialize)]
pub(super) struct LockedApp {
    pub(super) spin_lock_version: u64,
    #[serde(default)]
    pub(super) must_understand: Vec<String>,
    #[serde(default)]
    pub(super) metadata: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub(super) variables: BTreeMap<String, LockedVariable>,
    #[serde(default)]
    pub(super) triggers: Vec<LockedTrigger>,
    #[serde(default)]
    pub(super) components: Vec<LockedComponent>,
}

#[derive(Debug, Deserialize)]
pub(super) struct LockedVariable {
    #[serde(default)]
    pub(super) default: Option<String>,
    #[serde(default)]
    pub(super) secret: bool,
}

#[derive(Debug, Deserialize)]
pub(super) struct LockedTrigger {
    pub(super) id: String,
    pub(super) trigger_type: String,
    #[serde(default)]
    pub(super) trigger_config: serde_json::Value,
}

#[derive(Debug, Deserialize)]
pub(super) struct LockedComponent {
    pub(super) id: String,
    #[serde(default)]
    pub(super) metadata: BTreeMap<String, serde_json::Value>,
    pub(super) source: LockedSource,
    #[serde(default)]
    pub(super) env: BTreeMap<String, String>,
    #[serde(default)]
    pub(super) files: Vec<ContentPath>,
    #[serde(default)]
    pub(super) config: BTreeMap<String, String>,
    /// An artifact whose components still carry dependencies is refused by name rather
    /// than failing later on a missing import.
    #[serde(default)]
    pub(super) dependencies: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Deserialize)]
pub(super) struct LockedSource {
    pub(super) content: ContentRef,
}

#[derive(Debug, Deserialize)]
pub(super) struct ContentPath {
    pub(super) content: ContentRef,
    pub(super) path: PathBuf,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct ContentRef {
    #[serde(default)]
    pub(super) source: Option<String>,
    #[serde(default)]
    pub(super) inline: Option<String>,
    #[serde(default)]
    pub(super) digest: Option<String>,
}
