//! Feeding libfprint's `virtual_image` driver.
//!
//! Wire format (libfprint's `drivers/virtual-image.c`): one Unix stream
//! connection per presentation; `int32 width, int32 height` in native byte
//! order, then `width * height` 8-bit grey pixels. A negative width is a
//! command: -1 retry (code), -2 error (code), -3 automatic finger
//! detection, -4 finger present, -5 remove the device. The socket exists
//! only once the reader is open.

use std::collections::VecDeque;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use crate::reader::ReaderEvent;
use crate::synth::GreyImage;

/// What is put on the virtual sensor.
#[derive(Debug, Clone)]
pub enum Presentation {
    /// A finger, as a grey image.
    Image(GreyImage),
    /// libfprint's retry (e.g. 0 = poor quality, 2 = centre the finger).
    Retry(i32),
    /// The device disappears (unplugged).
    Remove,
}

impl Presentation {
    /// The bytes of one presentation on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let head = |a: i32, b: i32| {
            let mut v = a.to_ne_bytes().to_vec();
            v.extend_from_slice(&b.to_ne_bytes());
            v
        };
        match self {
            Presentation::Image(img) => {
                let mut v = head(img.width as i32, img.height as i32);
                v.extend_from_slice(&img.pixels);
                v
            }
            Presentation::Retry(code) => head(-1, *code),
            Presentation::Remove => head(-5, 0),
        }
    }

    /// Sends it to the driver on `socket`.
    pub fn send(&self, socket: &Path) -> std::io::Result<()> {
        let mut s = UnixStream::connect(socket)?;
        s.write_all(&self.encode())?;
        s.flush()?;
        s.shutdown(std::net::Shutdown::Write)
    }
}

/// Presents a queue of images/commands, one each time the reader asks for
/// a finger ([`ReaderEvent::AwaitingFinger`]). When the queue is empty
/// nothing is presented and the operation times out, as with a real reader
/// nobody touches.
#[derive(Debug)]
pub struct VirtualFeeder {
    socket: PathBuf,
    queue: VecDeque<Presentation>,
    sent: usize,
    /// The first send error (the reader then times out and says so).
    pub error: Option<String>,
}

impl VirtualFeeder {
    pub fn new(socket: impl Into<PathBuf>) -> VirtualFeeder {
        VirtualFeeder {
            socket: socket.into(),
            queue: VecDeque::new(),
            sent: 0,
            error: None,
        }
    }

    pub fn push(&mut self, p: Presentation) -> &mut Self {
        self.queue.push_back(p);
        self
    }

    pub fn push_image(&mut self, img: GreyImage) -> &mut Self {
        self.push(Presentation::Image(img))
    }

    /// Presentations left.
    pub fn remaining(&self) -> usize {
        self.queue.len()
    }

    /// Presentations sent so far.
    pub fn sent(&self) -> usize {
        self.sent
    }

    /// The reader's event hook: presents the next item when a finger is needed.
    pub fn on_event(&mut self, e: &ReaderEvent) {
        if let ReaderEvent::AwaitingFinger { .. } = e {
            if let Some(p) = self.queue.pop_front() {
                match p.send(&self.socket) {
                    Ok(()) => self.sent += 1,
                    Err(err) => {
                        self.error.get_or_insert_with(|| {
                            format!("virtual_image socket {}: {err}", self.socket.display())
                        });
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format() {
        let img = GreyImage {
            width: 3,
            height: 2,
            pixels: vec![1, 2, 3, 4, 5, 6],
        };
        let b = Presentation::Image(img).encode();
        assert_eq!(&b[0..4], &3i32.to_ne_bytes());
        assert_eq!(&b[4..8], &2i32.to_ne_bytes());
        assert_eq!(&b[8..], &[1, 2, 3, 4, 5, 6]);
        let r = Presentation::Remove.encode();
        assert_eq!(&r[0..4], &(-5i32).to_ne_bytes());
        assert_eq!(r.len(), 8);
    }
}
