//! A libfprint reader in a helper process.
//!
//! libfprint's synchronous calls iterate GLib's *global* default main
//! context (`g_main_context_iteration (NULL, TRUE)` in `fp-device.c` and
//! `fp-context.c`), and its GTask callbacks go to the thread-default context
//! of the thread that started the operation. In a GTK program (the Tauri
//! window) the main loop owns the global default context for good, so a
//! reader thread can neither iterate it nor get its callbacks on a context
//! of its own: pushing a fresh thread-default context makes enumeration
//! wait forever even when nobody else holds the default (tried; see
//! ARCHITECTURE.md). So a GUI process runs its reader in a helper process
//! that has no GTK: the same [`Reader`](crate::Reader) on its own thread
//! there, driven over JSON lines on stdin/stdout.
//!
//! - [`serve`] is the helper's side: `countersign-app --fingerprint-helper`
//!   calls it before Tauri or GTK start (and the crate's
//!   `countersign-fp-helper` binary, for tests).
//! - [`HelperCommand`] says how to start it; [`Reader::open_in_helper`]
//!   (crate::Reader::open_in_helper) and [`list_readers_in_helper`] use it.
//!   The caller's `Reader` API, events, results and typed errors are the
//!   same as in process.
//!
//! One helper per open reader; it ends when its stdin closes (the
//! `Reader` is dropped) and is killed if it stops answering. Samples cross
//! the pipe (base64 grey pixels) and are never written anywhere else; the
//! helper logs nothing of them.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use countersign_capture::DeviceInfo;
use data_encoding::BASE64;

use crate::finger::Finger;
use crate::reader::{Enrolled, Impression, Reader, ReaderEvent, ReaderSpec, Verified};
use crate::{FingerprintError, Template};

/// The first line a helper writes: lets the caller skip anything a test
/// harness printed before and check it started the right program.
pub const HELLO: &str = "countersign-fingerprint-helper/1";

/// How long past its own operation timeout a helper may stay silent
/// before it is killed.
const GRACE: Duration = Duration::from_secs(15);

/// How to start a helper process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelperCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl HelperCommand {
    pub fn new(program: impl Into<PathBuf>, args: &[&str]) -> HelperCommand {
        HelperCommand {
            program: program.into(),
            args: args.iter().map(|a| a.to_string()).collect(),
        }
    }
}

mod wire;
use wire::*;

// --- the helper's side --------------------------------------------------------

fn send(out: &mut impl Write, r: &Reply) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(r).map_err(std::io::Error::other)?;
    line.push(b'\n');
    out.write_all(&line)?;
    out.flush()
}

/// Runs the helper on this process's stdin and stdout until stdin closes;
/// returns the exit code. Call it before anything starts GTK.
pub fn serve_stdio() -> i32 {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    match serve(stdin.lock(), stdout.lock()) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("countersign fingerprint helper: {e}");
            1
        }
    }
}

/// The helper loop over any line streams: `Hello`, then one reply per
/// request (an operation's events first).
pub fn serve(input: impl BufRead, mut out: impl Write) -> std::io::Result<()> {
    send(&mut out, &Reply::Hello(HELLO.into()))?;
    let mut reader: Option<Reader> = None;
    for line in input.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let req: Request = match serde_json::from_str(&line) {
            Ok(r) => r,
            Err(e) => {
                let err = FingerprintError::Invalid(format!("helper request: {e}"));
                send(&mut out, &Reply::Error(to_wire_error(&err)))?;
                continue;
            }
        };
        let reply = match req {
            Request::List { virtual_socket } => {
                if let Some(s) = &virtual_socket {
                    std::env::set_var(crate::VIRTUAL_IMAGE_ENV, s);
                }
                let r = crate::list_readers();
                if virtual_socket.is_some() {
                    std::env::remove_var(crate::VIRTUAL_IMAGE_ENV);
                }
                r.map(Reply::Listed)
            }
            Request::Open { spec, timeout_ms } => {
                reader = None;
                Reader::open(spec, Duration::from_millis(timeout_ms)).map(|r| {
                    let reply = Reply::Opened {
                        info: r.info().clone(),
                        stages: r.enroll_stages(),
                    };
                    reader = Some(r);
                    reply
                })
            }
            op => match reader.as_mut() {
                None => Err(FingerprintError::Invalid(
                    "helper: no reader is open".into(),
                )),
                Some(r) => {
                    // Events go out as they happen: the caller's feeder or
                    // prompt reacts to them while the operation waits.
                    let mut failed = None;
                    let mut on_event = |e: &ReaderEvent| {
                        if failed.is_none() {
                            if let Err(err) = send(&mut out, &Reply::Event(to_wire_event(e))) {
                                failed = Some(err);
                            }
                        }
                    };
                    let result = match op {
                        Request::Capture => r
                            .capture(&mut on_event)
                            .map(|i| Reply::Captured(to_wire_impression(&i))),
                        Request::Enroll { finger } => {
                            r.enroll(finger, &mut on_event).map(|e| Reply::Enrolled {
                                template: BASE64.encode(e.template.bytes()),
                                impressions: e.impressions.iter().map(to_wire_impression).collect(),
                                stages: e.stages,
                            })
                        }
                        Request::Verify { template } => match BASE64.decode(template.as_bytes()) {
                            Ok(bytes) => r.verify(&Template::new(bytes), &mut on_event).map(|v| {
                                Reply::Verified {
                                    matched: v.matched,
                                    probe: v.probe.as_ref().map(to_wire_impression),
                                }
                            }),
                            Err(e) => Err(FingerprintError::Template(format!("base64: {e}"))),
                        },
                        Request::List { .. } | Request::Open { .. } => {
                            unreachable!("handled above")
                        }
                    };
                    if let Some(e) = failed {
                        return Err(e);
                    }
                    result
                }
            },
        };
        let reply = match reply {
            Ok(r) => r,
            Err(e) => Reply::Error(to_wire_error(&e)),
        };
        send(&mut out, &reply)?;
    }
    drop(reader);
    Ok(())
}

// --- the caller's side --------------------------------------------------------

/// A running helper (one per open reader).
#[derive(Debug)]
pub(crate) struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    replies: mpsc::Receiver<Result<Reply, String>>,
    program: String,
}

impl Client {
    fn spawn(cmd: &HelperCommand) -> Result<Client, FingerprintError> {
        let program = cmd.program.display().to_string();
        let mut child = Command::new(&cmd.program)
            .args(&cmd.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| FingerprintError::Io {
                context: format!("starting the fingerprint helper {program}"),
                source: e,
            })?;
        let stdout = child.stdout.take().expect("piped");
        let stdin = child.stdin.take();
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("fp-helper-out".into())
            .spawn(move || {
                let mut hello = false;
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if !hello {
                        // Anything before the hello (a test harness's banner) is not ours.
                        if line.contains(HELLO) {
                            hello = true;
                        } else {
                            continue;
                        }
                    }
                    let parsed = serde_json::from_str::<Reply>(&line).map_err(|e| e.to_string());
                    if tx.send(parsed).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| FingerprintError::Io {
                context: "starting the fingerprint helper's reader thread".into(),
                source: e,
            })?;
        let mut c = Client {
            child,
            stdin,
            replies: rx,
            program,
        };
        match c.next(Duration::from_secs(30))? {
            Reply::Hello(h) if h == HELLO => Ok(c),
            other => Err(protocol(format!("expected hello, got {other:?}"))),
        }
    }

    fn next(&mut self, wait: Duration) -> Result<Reply, FingerprintError> {
        match self.replies.recv_timeout(wait) {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(protocol(format!("unreadable reply: {e}"))),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                Err(protocol(format!(
                    "{} gave no answer within {} s and was stopped",
                    self.program,
                    wait.as_secs()
                )))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = self.child.wait().ok();
                Err(protocol(format!(
                    "{} exited ({})",
                    self.program,
                    status.map_or("status unknown".into(), |s| s.to_string())
                )))
            }
        }
    }

    fn request(&mut self, r: &Request) -> Result<(), FingerprintError> {
        let mut line = serde_json::to_vec(r).map_err(|e| protocol(e.to_string()))?;
        line.push(b'\n');
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| protocol("the helper's input is closed".into()))?;
        stdin
            .write_all(&line)
            .and_then(|()| stdin.flush())
            .map_err(|e| protocol(format!("{} does not listen: {e}", self.program)))
    }

    /// Sends `r`, passes events to `on_event`, returns the final reply
    /// (a wire error becomes the typed error).
    fn call(
        &mut self,
        r: &Request,
        wait: Duration,
        on_event: &mut dyn FnMut(&ReaderEvent),
    ) -> Result<Reply, FingerprintError> {
        self.request(r)?;
        loop {
            match self.next(wait)? {
                Reply::Event(e) => on_event(&from_wire_event(e)),
                Reply::Error(e) => return Err(from_wire_error(e)),
                other => return Ok(other),
            }
        }
    }

    pub(crate) fn capture(
        &mut self,
        wait: Duration,
        on_event: &mut dyn FnMut(&ReaderEvent),
    ) -> Result<Impression, FingerprintError> {
        match self.call(&Request::Capture, wait, on_event)? {
            Reply::Captured(i) => from_wire_impression(i),
            other => Err(protocol(format!("unexpected reply {other:?}"))),
        }
    }

    pub(crate) fn enroll(
        &mut self,
        finger: Finger,
        wait: Duration,
        on_event: &mut dyn FnMut(&ReaderEvent),
    ) -> Result<Enrolled, FingerprintError> {
        match self.call(&Request::Enroll { finger }, wait, on_event)? {
            Reply::Enrolled {
                template,
                impressions,
                stages,
            } => Ok(Enrolled {
                template: Template::new(
                    BASE64
                        .decode(template.as_bytes())
                        .map_err(|e| protocol(format!("template: {e}")))?,
                ),
                impressions: impressions
                    .into_iter()
                    .map(from_wire_impression)
                    .collect::<Result<_, _>>()?,
                stages,
            }),
            other => Err(protocol(format!("unexpected reply {other:?}"))),
        }
    }

    pub(crate) fn verify(
        &mut self,
        template: &Template,
        wait: Duration,
        on_event: &mut dyn FnMut(&ReaderEvent),
    ) -> Result<Verified, FingerprintError> {
        let req = Request::Verify {
            template: BASE64.encode(template.bytes()),
        };
        match self.call(&req, wait, on_event)? {
            Reply::Verified { matched, probe } => Ok(Verified {
                matched,
                probe: probe.map(from_wire_impression).transpose()?,
            }),
            other => Err(protocol(format!("unexpected reply {other:?}"))),
        }
    }

    /// Closes the helper's input (it closes the device and exits), waits a
    /// little, then kills it.
    pub(crate) fn shutdown(&mut self) {
        self.stdin = None;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Opens a reader in a new helper process.
pub(crate) fn open(
    cmd: &HelperCommand,
    spec: ReaderSpec,
    timeout: Duration,
) -> Result<(Client, DeviceInfo, u32), FingerprintError> {
    let mut c = Client::spawn(cmd)?;
    let req = Request::Open {
        spec,
        timeout_ms: timeout.as_millis() as u64,
    };
    match c.call(&req, timeout + GRACE, &mut |_| {})? {
        Reply::Opened { info, stages } => Ok((c, info, stages)),
        other => Err(protocol(format!("unexpected reply {other:?}"))),
    }
}

/// Lists libfprint's readers from a helper process (with `virtual_socket`,
/// the `virtual_image` reader listening there too).
pub fn list_readers_in_helper(
    cmd: &HelperCommand,
    virtual_socket: Option<PathBuf>,
) -> Result<Vec<DeviceInfo>, FingerprintError> {
    let mut c = Client::spawn(cmd)?;
    match c.call(&Request::List { virtual_socket }, GRACE * 2, &mut |_| {})? {
        Reply::Listed(v) => Ok(v),
        other => Err(protocol(format!("unexpected reply {other:?}"))),
    }
}

/// The wait for one reply of an operation: the helper's own timeout
/// (between two events) plus a grace period.
pub(crate) fn reply_wait(timeout: Duration) -> Duration {
    timeout + GRACE
}

#[cfg(test)]
mod tests;
