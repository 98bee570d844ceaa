//! The servers you are connected to: `servers.json` in `$XDG_CONFIG_HOME/xif` (or
//! `~/.config/xif`), written with mode 0600 because it holds bearer tokens.
//!
//! Which server a command talks to: `--server NAME|URL` first, then `XIF_SERVER` (with
//! `XIF_TOKEN`, or the token saved for that address), then the current server of the file.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The environment variable naming the server (CI).
pub const SERVER_VAR: &str = "XIF_SERVER";
/// The environment variable holding a bearer token (CI).
pub const TOKEN_VAR: &str = "XIF_TOKEN";
/// The environment variable naming a PEM file of CA certificates to trust (as `--ca-cert`).
pub const CA_CERT_VAR: &str = "XIF_CA_CERT";

/// Why the configuration could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Neither `XDG_CONFIG_HOME` nor `HOME` is set.
    #[error("no config directory: set HOME (or XDG_CONFIG_HOME)")]
    NoConfigDir,
    /// A file operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not what this version writes.
    #[error("{path} is not a valid servers file: {why}\n  help: fix it, or delete it and log in again")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        why: String,
    },
    /// No known server has this name or address.
    #[error("no server named {0:?} is known\n  help: `xif servers` lists them; `xif login URL` adds one")]
    Unknown(String),
}

/// One server.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Server {
    /// A short name to pick it by (defaults to its host:port).
    pub name: String,
    /// Its address, `http://host:port`.
    pub url: String,
    /// The user logged in, when logged in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The bearer token, when logged in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// A PEM file of CA certificates trusted for this server beside the system's (saved by
    /// `xif login URL --ca-cert FILE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
}

/// The servers file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Config {
    /// The name of the server commands use by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    /// The known servers, in the order added.
    #[serde(default)]
    pub servers: Vec<Server>,
    /// Where it was read from (not stored).
    #[serde(skip)]
    pub path: PathBuf,
}

/// A server to talk to, and the token to talk with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// `http://host:port`.
    pub url: String,
    /// The bearer token.
    pub token: String,
    /// Who the token belongs to, when known.
    pub user: Option<String>,
    /// The CA certificate file saved for the server, if any.
    pub ca_cert: Option<PathBuf>,
}

/// Why no connection could be made from the configuration and the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotConnected {
    /// No server at all.
    NoServer,
    /// `--server` named one the file does not know.
    UnknownServer(String),
    /// A known server without a token (logged out).
    NotLoggedIn(String),
}

impl std::fmt::Display for NotConnected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let how = format!(
            "log in with `xif login URL` (it asks for the password; `--password-stdin` reads it from stdin), \
             or set {SERVER_VAR}=URL and {TOKEN_VAR}=TOKEN (a token from `xif token create`)"
        );
        match self {
            NotConnected::NoServer => write!(f, "not connected to any server: {how}"),
            NotConnected::UnknownServer(s) => write!(f, "no server named {s:?} is known: {how}"),
            NotConnected::NotLoggedIn(s) => write!(f, "not logged in to {s}: {how}"),
        }
    }
}

/// `http://host:port` from what a person typed: adds `http://` when no scheme is given and
/// drops trailing slashes.
pub fn normalize_url(text: &str) -> String {
    let t = text.trim().trim_end_matches('/');
    if t.contains("://") { t.to_string() } else { format!("http://{t}") }
}

/// The default short name of a server: its host:port.
pub fn default_name(url: &str) -> String {
    url.split_once("://").map(|(_, rest)| rest).unwrap_or(url).to_string()
}

/// `$XDG_CONFIG_HOME/xif/servers.json`, or `$HOME/.config/xif/servers.json`.
pub fn default_path() -> Result<PathBuf, ConfigError> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").filter(|v| !v.is_empty()).ok_or(ConfigError::NoConfigDir)?)
            .join(".config"),
    };
    Ok(base.join("xif").join("servers.json"))
}

impl Config {
    /// Reads the default file (an empty configuration when there is none).
    pub fn load() -> Result<Config, ConfigError> {
        Config::load_from(&default_path()?)
    }

    /// Reads `path` (an empty configuration when it does not exist).
    pub fn load_from(path: &Path) -> Result<Config, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Config { path: path.to_path_buf(), ..Config::default() });
            }
            Err(source) => return Err(ConfigError::Io { action: "reading", path: path.to_path_buf(), source }),
        };
        let mut c: Config = serde_json::from_str(&text)
            .map_err(|e| ConfigError::Invalid { path: path.to_path_buf(), why: e.to_string() })?;
        c.path = path.to_path_buf();
        Ok(c)
    }

    /// Writes the file (mode 0600, replaced atomically).
    pub fn save(&self) -> Result<(), ConfigError> {
        let io = |action, source| ConfigError::Io { action, path: self.path.clone(), source };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io("creating the folder of", e))?;
        }
        let text = serde_json::to_string_pretty(self).unwrap_or_default() + "\n";
        let tmp = self.path.with_extension("json.tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp).map_err(|e| io("writing", e))?;
        #[cfg(unix)]
        std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .map_err(|e| io("protecting", e))?;
        std::io::Write::write_all(&mut f, text.as_bytes()).map_err(|e| io("writing", e))?;
        f.sync_all().map_err(|e| io("writing", e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| io("writing", e))
    }

    /// The server with this name or address.
    pub fn find(&self, name_or_url: &str) -> Option<&Server> {
        let url = normalize_url(name_or_url);
        self.servers.iter().find(|s| s.name == name_or_url || s.url == url)
    }

    /// Adds a server, or updates the one with the same address; returns its name.
    pub fn upsert(&mut self, url: &str, name: Option<&str>) -> String {
        let url = normalize_url(url);
        if let Some(s) = self.servers.iter_mut().find(|s| s.url == url) {
            if let Some(n) = name {
                s.name = n.to_string();
            }
            return s.name.clone();
        }
        let name = name.map(str::to_string).unwrap_or_else(|| default_name(&url));
        self.servers.push(Server { name: name.clone(), url, user: None, token: None, ca_cert: None });
        name
    }

    /// Stores a login for `url` (adding the server) and makes it the current one.
    pub fn set_login(&mut self, url: &str, user: &str, token: &str) -> String {
        let name = self.upsert(url, None);
        if let Some(s) = self.servers.iter_mut().find(|s| s.name == name) {
            s.user = Some(user.to_string());
            s.token = Some(token.to_string());
        }
        self.current = Some(name.clone());
        name
    }

    /// Saves the CA certificate file to trust for `url` (adding the server).
    pub fn set_ca_cert(&mut self, url: &str, ca_cert: PathBuf) {
        let name = self.upsert(url, None);
        if let Some(s) = self.servers.iter_mut().find(|s| s.name == name) {
            s.ca_cert = Some(ca_cert);
        }
    }

    /// The CA certificate file saved for the server with this name or address.
    pub fn ca_cert_for(&self, name_or_url: &str) -> Option<PathBuf> {
        self.find(name_or_url).and_then(|s| s.ca_cert.clone())
    }

    /// Makes a known server the current one.
    pub fn use_server(&mut self, name_or_url: &str) -> Result<String, ConfigError> {
        let name = self.find(name_or_url).ok_or_else(|| ConfigError::Unknown(name_or_url.to_string()))?.name.clone();
        self.current = Some(name.clone());
        Ok(name)
    }

    /// Forgets a server and its token.
    pub fn remove(&mut self, name_or_url: &str) -> Result<Server, ConfigError> {
        let name = self.find(name_or_url).ok_or_else(|| ConfigError::Unknown(name_or_url.to_string()))?.name.clone();
        let i = self.servers.iter().position(|s| s.name == name).ok_or(ConfigError::Unknown(name.clone()))?;
        if self.current.as_deref() == Some(name.as_str()) {
            self.current = None;
        }
        Ok(self.servers.remove(i))
    }

    /// The current server.
    pub fn current(&self) -> Option<&Server> {
        self.current.as_deref().and_then(|n| self.servers.iter().find(|s| s.name == n))
    }

    /// The connection a command uses: `--server`, then `XIF_SERVER`/`XIF_TOKEN`, then the current
    /// server. `env` reads a variable (the process environment in the binary).
    pub fn connection(
        &self,
        server: Option<&str>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Connection, NotConnected> {
        let env_token = env(TOKEN_VAR).filter(|t| !t.is_empty());
        let from_entry = |s: &Server| {
            let ca_cert = s.ca_cert.clone();
            match (&s.token, &env_token) {
                (_, Some(t)) => Ok(Connection { url: s.url.clone(), token: t.clone(), user: None, ca_cert }),
                (Some(t), None) => {
                    Ok(Connection { url: s.url.clone(), token: t.clone(), user: s.user.clone(), ca_cert })
                }
                (None, None) => Err(NotConnected::NotLoggedIn(s.url.clone())),
            }
        };
        let by_address = |text: &str| {
            let url = normalize_url(text);
            match (self.find(text), &env_token) {
                (Some(s), _) => from_entry(s),
                (None, Some(t)) => Ok(Connection { url, token: t.clone(), user: None, ca_cert: None }),
                (None, None) => Err(NotConnected::UnknownServer(text.to_string())),
            }
        };
        if let Some(s) = server {
            return by_address(s);
        }
        if let Some(s) = env(SERVER_VAR).filter(|s| !s.is_empty()) {
            return by_address(&s);
        }
        match self.current() {
            Some(s) => from_entry(s),
            None => Err(NotConnected::NoServer),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_with_mode_0600_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("xif/servers.json");
        let mut c = Config::load_from(&path).unwrap();
        assert!(c.servers.is_empty());
        c.set_login("127.0.0.1:9/", "ada", "tok");
        c.save().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let c = Config::load_from(&path).unwrap();
        assert_eq!(c.current().unwrap().url, "http://127.0.0.1:9");
        let none = |_: &str| None;
        let conn = c.connection(None, &none).unwrap();
        assert_eq!((conn.url.as_str(), conn.token.as_str()), ("http://127.0.0.1:9", "tok"));
    }

    #[test]
    fn flag_then_environment_then_current() {
        let mut c = Config::default();
        c.set_login("http://a:1", "u", "ta");
        c.set_login("http://b:2", "u", "tb");
        let none = |_: &str| None;
        assert_eq!(c.connection(None, &none).unwrap().token, "tb");
        assert_eq!(c.connection(Some("a:1"), &none).unwrap().token, "ta");
        assert_eq!(c.connection(Some("http://c:3"), &none), Err(NotConnected::UnknownServer("http://c:3".into())));
        let env = |k: &str| match k {
            SERVER_VAR => Some("http://c:3".to_string()),
            TOKEN_VAR => Some("tc".to_string()),
            _ => None,
        };
        let conn = c.connection(None, &env).unwrap();
        assert_eq!((conn.url.as_str(), conn.token.as_str()), ("http://c:3", "tc"));
        assert_eq!(Config::default().connection(None, &none), Err(NotConnected::NoServer));
    }
}
