//! The `pop3-dialogue` world: one instance per POP3 session.
//!
//! The host lends the plugin a [`Connection`] and drives the session
//! (open → list → retrieve → delete → quit); the plugin decides what goes on
//! the wire. Message bytes stay in the host's resource table.

use std::sync::Arc;
use std::time::Instant;

use popline_core::text::{MAX_PLUGIN_TEXT, truncate_marked};
use wasmtime::Store;
use wasmtime::component::{HasSelf, Linker, Resource};

use super::error::PluginError;
use super::state::PluginState;
use super::{Engine, Limits, PluginSource, inspect};
use popline_core::spool::Spooled;
use popline_core::timing::{self, Stage};
use popline_pop3::{AuthOutcome, ConnError, Connection, Mechanism};

pub(crate) mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "pop3-dialogue",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "popline:plugin/log": crate::mapper::log,
            "popline:plugin/connection.connection": super::ConnectionRes,
            "popline:plugin/connection.message": super::HeldMessage,
        },
    });
}

use bindings::exports::popline::plugin::dialogue as wit;
use bindings::popline::plugin::connection as conn_wit;

pub use wit::{ErrorKind, Listing, ServerInfo, SessionParams, TlsMode};

/// The guest's handle to the lent connection; the connection itself lives in
/// the store data, since a session has exactly one.
pub struct ConnectionRes;

/// A multi-line response held by the host (in memory or spooled to disk),
/// with the command it answered, as the host saw it on the wire.
pub struct HeldMessage {
    bytes: Spooled,
    answers: String,
}

pub(crate) struct DialogueExt {
    conn: Option<Connection>,
    /// Messages the host holds for this session now, and their bytes.
    held: usize,
    held_bytes: u64,
    /// The bound on `held_bytes` (`limits.held_mib`).
    held_max_bytes: u64,
}

/// Messages one session may hold at once, whatever their size.
const MAX_HELD: usize = 4096;

impl DialogueExt {
    /// A held message left the table (dropped by the guest, or taken by
    /// the host).
    fn release(&mut self, m: &HeldMessage) {
        self.held -= 1;
        self.held_bytes -= m.bytes.len() as u64;
    }
}

type State = PluginState<DialogueExt>;

/// A loaded, type-checked dialogue plugin.
pub struct DialoguePlugin {
    engine: Engine,
    pre: bindings::Pop3DialoguePre<State>,
    name: Arc<str>,
    limits: Limits,
}

/// A POP3 error the plugin reported (with RFC 2449 class).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Pop3Error {
    pub kind: ErrorKind,
    pub message: String,
}

/// Why a session operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Plugin(#[from] PluginError),
    #[error("{}: {}", kind_label(.0.kind), .0.message)]
    Pop3(Pop3Error),
}

fn kind_label(k: ErrorKind) -> &'static str {
    match k {
        ErrorKind::InUse => "mailbox in use [IN-USE]",
        ErrorKind::Auth => "login failed [AUTH]",
        ErrorKind::SysTemp => "temporary server failure [SYS/TEMP]",
        ErrorKind::SysPerm => "permanent server failure [SYS/PERM]",
        ErrorKind::Protocol => "protocol error",
        ErrorKind::Io => "connection failed",
        ErrorKind::Unsupported => "server lacks a needed feature",
        ErrorKind::Other => "server error",
    }
}

impl From<wit::Pop3Error> for Pop3Error {
    fn from(e: wit::Pop3Error) -> Self {
        Pop3Error {
            kind: e.kind,
            // Bounded: the text goes into logs and poll records.
            message: truncate_marked(e.message, MAX_PLUGIN_TEXT),
        }
    }
}

impl DialoguePlugin {
    /// Load a dialogue plugin: compile or take from cache, check its world and
    /// version, link it to the host's connection.
    pub fn load(
        engine: &Engine,
        source: impl Into<PluginSource>,
        limits: Limits,
    ) -> Result<DialoguePlugin, PluginError> {
        let (component, name, _) = engine.load_component(&source.into())?;
        inspect::check_world(engine, &component, &name, inspect::WorldKind::Dialogue)?;
        let incompatible = |e: wasmtime::Error| PluginError::Incompatible {
            plugin: name.clone(),
            reason: format!("{e:#}"),
        };
        let mut linker = Linker::<State>::new(engine.wasmtime());
        super::sandbox::link_wasi(engine.wasmtime(), &mut linker, &component)
            .map_err(incompatible)?;
        bindings::Pop3Dialogue::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(incompatible)?;
        let pre = linker.instantiate_pre(&component).map_err(incompatible)?;
        let pre = bindings::Pop3DialoguePre::new(pre).map_err(incompatible)?;
        Ok(DialoguePlugin {
            engine: engine.clone(),
            pre,
            name: name.into(),
            limits,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Start a session: a fresh instance greets and logs in over `conn`.
    pub async fn open(
        &self,
        conn: Connection,
        params: &SessionParams,
    ) -> Result<Session, SessionError> {
        let ext = DialogueExt {
            conn: Some(conn),
            held: 0,
            held_bytes: 0,
            held_max_bytes: self.limits.held_mib.saturating_mul(1024 * 1024),
        };
        let mut store = State::new_store(
            self.engine.wasmtime(),
            self.name.clone(),
            &self.limits,
            inspect::WorldKind::Dialogue,
            ext,
        );
        store.data_mut().start_call();
        let plugin = self.name.clone();
        let bindings = match self.pre.instantiate_async(&mut store).await {
            Ok(b) => b,
            Err(e) => return Err(trap(e, &store).into()),
        };
        let mut session = Session {
            store,
            bindings,
            plugin,
            info: None,
        };
        let handle = match session.store.data_mut().table.push(ConnectionRes) {
            Ok(h) => h,
            Err(e) => {
                return Err(trap(wasmtime::Error::new(e), &session.store).into());
            }
        };
        let info = session
            .call(async |d, store| d.call_open(store, handle, params).await)
            .await?
            .map_err(|e| SessionError::Pop3(e.into()))?;
        session.info = Some(info);
        Ok(session)
    }
}

fn trap(e: wasmtime::Error, store: &Store<State>) -> PluginError {
    store.data().error(e)
}

/// An open POP3 session driven by the host.
pub struct Session {
    store: Store<State>,
    bindings: bindings::Pop3Dialogue,
    plugin: Arc<str>,
    info: Option<ServerInfo>,
}

impl Session {
    /// What the server advertised at login.
    pub fn info(&self) -> &ServerInfo {
        self.info.as_ref().expect("set by open")
    }

    /// Bytes read from the server so far.
    pub fn bytes_read(&self) -> u64 {
        self.store
            .data()
            .ext
            .conn
            .as_ref()
            .map_or(0, |c| c.stats.bytes_read)
    }

    /// Turn a call's wasmtime error (trap, limit) into a plugin error.
    fn checked<T>(&self, res: wasmtime::Result<T>) -> Result<T, PluginError> {
        res.map_err(|e| trap(e, &self.store))
    }

    /// One call of the plugin: `call` is given its exports and the store.
    /// Its limits start afresh, and `--timings` counts it as the dialogue.
    async fn call<T>(
        &mut self,
        call: impl AsyncFnOnce(&wit::Guest, &mut Store<State>) -> wasmtime::Result<T>,
    ) -> Result<T, PluginError> {
        self.store.data_mut().start_call();
        let exports = self.bindings.popline_plugin_dialogue();
        let res = timing::measure(Stage::Dialogue, call(exports, &mut self.store)).await;
        self.checked(res)
    }

    /// Every message with number, unique id and size.
    pub async fn list(&mut self) -> Result<Vec<Listing>, SessionError> {
        let listing = self
            .call(async |d, store| d.call_list(store).await)
            .await?
            .map_err(|e| SessionError::Pop3(e.into()))?;
        self.check_listing(&listing)?;
        Ok(listing)
    }

    /// Every listed unique id must be the one the server's own UIDL answer
    /// in this session gave that number: the host deletes by number, so a
    /// plugin pairing them wrongly would get unread messages deleted.
    fn check_listing(&mut self, listing: &[Listing]) -> Result<(), PluginError> {
        let conn = self.conn_mut();
        let wrong = listing.iter().find_map(|l| match conn.server_uid(l.number) {
            Some(uid) if uid == l.uid => None,
            Some(uid) => Some(format!(
                "listed message {} as unique id {:?}, but the server's UIDL answer says {uid:?}",
                l.number, l.uid
            )),
            None => Some(format!(
                "listed message {} as unique id {:?}, but the server gave no UIDL answer for it in this session",
                l.number, l.uid
            )),
        });
        match wrong {
            Some(reason) => Err(PluginError::InvalidOutput {
                plugin: self.plugin.to_string(),
                reason,
            }),
            None => Ok(()),
        }
    }

    /// Fetch a batch; one result per number, in order.
    pub async fn retrieve(
        &mut self,
        numbers: &[u32],
    ) -> Result<Vec<Result<Spooled, Pop3Error>>, SessionError> {
        let results = self
            .call(async |d, store| d.call_retrieve(store, numbers).await)
            .await?;
        if results.len() != numbers.len() {
            return Err(SessionError::Plugin(PluginError::InvalidOutput {
                plugin: self.plugin.to_string(),
                reason: format!(
                    "retrieve returned {} results for {} messages",
                    results.len(),
                    numbers.len()
                ),
            }));
        }
        let mut out = Vec::with_capacity(results.len());
        for (r, n) in results.into_iter().zip(numbers) {
            out.push(match r {
                Ok(handle) => Ok(self.take_message(handle, &format!("RETR {n}"))?),
                Err(e) => Err(e.into()),
            });
        }
        Ok(out)
    }

    /// The message whose `RETR` answer outgrew the size bound in this
    /// session, if one did, with the bound and its header section (the
    /// connection is unusable after it); taken once.
    pub fn take_too_large(&mut self) -> Option<popline_pop3::TooLarge> {
        self.conn_mut().take_too_large()
    }

    /// Headers and `lines` body lines of one message.
    pub async fn top(&mut self, number: u32, lines: u32) -> Result<Spooled, SessionError> {
        let r = self
            .call(async |d, store| d.call_top(store, number, lines).await)
            .await?;
        match r {
            Ok(handle) => Ok(self.take_message(handle, &format!("TOP {number} {lines}"))?),
            Err(e) => Err(SessionError::Pop3(e.into())),
        }
    }

    /// Take a message the plugin returned as the answer to `command`; the
    /// host checks that it is (it saw which command each body answered).
    fn take_message(
        &mut self,
        handle: Resource<HeldMessage>,
        command: &str,
    ) -> Result<Spooled, PluginError> {
        let invalid = |reason: String| PluginError::InvalidOutput {
            plugin: self.plugin.to_string(),
            reason,
        };
        let state = self.store.data_mut();
        let held = state
            .table
            .delete(handle)
            .map_err(|e| invalid(format!("returned an invalid message handle: {e}")))?;
        state.ext.release(&held);
        if held.answers != command {
            return Err(invalid(format!(
                "returned the answer to `{}` as the answer to `{command}`",
                held.answers
            )));
        }
        Ok(held.bytes)
    }

    /// Mark messages for deletion. Only these numbers may be sent as `DELE`
    /// during this call; the host refuses any other.
    pub async fn delete(
        &mut self,
        numbers: &[u32],
    ) -> Result<Vec<Result<(), Pop3Error>>, SessionError> {
        self.conn_mut().allow_deletes(numbers);
        let res = self
            .call(async |d, store| d.call_delete(store, numbers).await)
            .await;
        self.conn_mut().forbid_deletes();
        Ok(res?
            .into_iter()
            .map(|r| r.map_err(Pop3Error::from))
            .collect())
    }

    /// Change the largest message the connection accepts from now on.
    pub fn set_max_message(&mut self, bytes: u64) {
        self.conn_mut().set_max_message(bytes);
    }

    fn conn_mut(&mut self) -> &mut Connection {
        self.store
            .data_mut()
            .ext
            .conn
            .as_mut()
            .expect("the connection stays in the store for the whole session")
    }

    /// End the session with QUIT, committing deletions.
    pub async fn quit(mut self) -> Result<(), SessionError> {
        self.call(async |d, store| d.call_quit(store).await)
            .await?
            .map_err(|e| SessionError::Pop3(e.into()))
    }

    /// Drop the connection without QUIT: the server keeps every message.
    pub async fn abandon(mut self) {
        if let Some(conn) = self.store.data_mut().ext.conn.take() {
            conn.abandon().await;
        }
    }
}

impl From<ConnError> for conn_wit::IoError {
    fn from(e: ConnError) -> Self {
        match e {
            ConnError::Timeout => conn_wit::IoError::Timeout,
            ConnError::Closed => conn_wit::IoError::Closed,
            ConnError::LineTooLong(n) => conn_wit::IoError::LineTooLong(n),
            ConnError::TooLarge(n) => conn_wit::IoError::TooLarge(n),
            ConnError::Tls(m) => conn_wit::IoError::Tls(m),
            ConnError::Refused(m) => conn_wit::IoError::Refused(m),
            ConnError::Other(m) => conn_wit::IoError::Other(m),
        }
    }
}

impl State {
    fn conn(&mut self) -> Result<&mut Connection, conn_wit::IoError> {
        self.ext
            .conn
            .as_mut()
            .ok_or_else(|| conn_wit::IoError::Other("the session is closed".into()))
    }

    /// Run a connection operation, excluding its wait from the CPU budget;
    /// a trap once the call's wall-clock time is spent.
    async fn io<T>(
        &mut self,
        f: impl AsyncFnOnce(&mut Connection) -> Result<T, ConnError>,
    ) -> wasmtime::Result<Result<T, conn_wit::IoError>> {
        self.check_wall()?;
        let started = Instant::now();
        let res = match self.conn() {
            Ok(c) => f(c).await.map_err(conn_wit::IoError::from),
            Err(e) => Err(e),
        };
        self.add_host_time(started.elapsed());
        if let Err(conn_wit::IoError::Refused(why)) = &res {
            self.host_warning(&format!("refused a plugin request: {why}"));
        }
        Ok(res)
    }
}

impl conn_wit::Host for State {}

impl conn_wit::HostConnection for State {
    async fn read_line(
        &mut self,
        _: Resource<ConnectionRes>,
        max_len: u32,
    ) -> wasmtime::Result<Result<String, conn_wit::IoError>> {
        self.io(async |c| c.read_line(max_len.min(64 * 1024)).await)
            .await
    }

    async fn write_line(
        &mut self,
        _: Resource<ConnectionRes>,
        line: String,
    ) -> wasmtime::Result<Result<(), conn_wit::IoError>> {
        self.io(async |c| c.write_line(&line)).await
    }

    async fn read_multiline(
        &mut self,
        _: Resource<ConnectionRes>,
    ) -> wasmtime::Result<Result<Resource<HeldMessage>, conn_wit::IoError>> {
        match self.io(async |c| c.read_multiline().await).await? {
            Ok(body) => {
                let size = body.bytes.len() as u64;
                if self.ext.held >= MAX_HELD
                    || self.ext.held_bytes.saturating_add(size) > self.ext.held_max_bytes
                {
                    let why = format!(
                        "holding more than {MAX_HELD} messages or {} MiB of server answers for this session; drop or return the messages already read",
                        self.ext.held_max_bytes / (1024 * 1024)
                    );
                    self.host_warning(&format!("refused a plugin request: {why}"));
                    return Ok(Err(conn_wit::IoError::Refused(why)));
                }
                self.ext.held += 1;
                self.ext.held_bytes += size;
                Ok(Ok(self.table.push(HeldMessage {
                    bytes: body.bytes,
                    answers: body.answers,
                })?))
            }
            Err(e) => Ok(Err(e)),
        }
    }

    async fn start_tls(
        &mut self,
        _: Resource<ConnectionRes>,
    ) -> wasmtime::Result<Result<String, conn_wit::IoError>> {
        self.io(async |c| c.start_tls().await).await
    }

    async fn is_secure(&mut self, _: Resource<ConnectionRes>) -> wasmtime::Result<bool> {
        Ok(self.ext.conn.as_ref().is_some_and(|c| c.is_secure()))
    }

    async fn credential(
        &mut self,
        _: Resource<ConnectionRes>,
    ) -> wasmtime::Result<conn_wit::CredentialKind> {
        let bearer = self
            .ext
            .conn
            .as_ref()
            .is_some_and(|c| c.credential_is_bearer());
        Ok(if bearer {
            conn_wit::CredentialKind::BearerToken
        } else {
            conn_wit::CredentialKind::Password
        })
    }

    async fn authenticate(
        &mut self,
        _: Resource<ConnectionRes>,
        request: conn_wit::AuthRequest,
    ) -> wasmtime::Result<Result<conn_wit::AuthOutcome, conn_wit::IoError>> {
        let mechanism = match request.mechanism {
            conn_wit::Mechanism::UserPass => Mechanism::UserPass,
            conn_wit::Mechanism::Plain => Mechanism::Plain,
            conn_wit::Mechanism::Xoauth2 => Mechanism::Xoauth2,
            conn_wit::Mechanism::Oauthbearer => Mechanism::OauthBearer,
        };
        let res = self
            .io(async |c| c.authenticate(mechanism, request.initial_response).await)
            .await?;
        Ok(res.map(|o| match o {
            AuthOutcome::Accepted(text) => conn_wit::AuthOutcome::Accepted(text),
            AuthOutcome::Rejected {
                response,
                challenge,
            } => conn_wit::AuthOutcome::Rejected(conn_wit::AuthRejection {
                response,
                challenge,
            }),
        }))
    }

    async fn drop(&mut self, rep: Resource<ConnectionRes>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

/// Largest slice a guest may copy out of a held message in one call.
const MAX_SLICE: u32 = 1 << 20;

impl conn_wit::HostMessage for State {
    async fn size(&mut self, m: Resource<HeldMessage>) -> wasmtime::Result<u64> {
        Ok(self.table.get(&m)?.bytes.len() as u64)
    }

    async fn read(
        &mut self,
        m: Resource<HeldMessage>,
        offset: u64,
        len: u32,
    ) -> wasmtime::Result<Vec<u8>> {
        let bytes = &self.table.get(&m)?.bytes;
        let start = (offset as usize).min(bytes.len());
        let end = start
            .saturating_add(len.min(MAX_SLICE) as usize)
            .min(bytes.len());
        Ok(bytes[start..end].to_vec())
    }

    async fn drop(&mut self, m: Resource<HeldMessage>) -> wasmtime::Result<()> {
        let held = self.table.delete(m)?;
        self.ext.release(&held);
        Ok(())
    }
}
