//! Countersign's fingerprint path through libfprint (image sensors only).
//!
//! - [`reader`]: a libfprint reader on a dedicated thread (`FpDevice` is
//!   not `Send`): list, open (a real reader or the `virtual_image` driver),
//!   capture, enroll, verify. Every operation returns the
//!   impression (the grey image) so it can be sealed as evidence.
//! - [`helper`]: the same reader in a helper process, for programs whose
//!   GLib default main context belongs to GTK (the desktop app).
//! - [`virt`]: the `virtual_image` wire format and a feeder that presents
//!   images (or the device-removed command) when the reader asks.
//! - [`synth`]: synthetic fingerprints (Gabor-grown master prints, distorted
//!   impressions), deterministic by seed.
//! - [`eval`]: genuine / impostor decisions through libfprint, FMR / FNMR at
//!   libfprint's fixed threshold, failures to capture or extract.
//!
//! libfprint decides with NBIS (mindtct + bozorth3) at the driver's fixed
//! bozorth3 threshold and exposes **no score**: a verification is match or
//! no match, and that is all this crate reports.

pub mod error;
pub mod eval;
pub mod finger;
pub mod helper;
pub mod reader;
pub mod synth;
pub mod virt;

pub use error::FingerprintError;
pub use finger::Finger;
pub use helper::{list_readers_in_helper, HelperCommand};
pub use reader::{
    list_readers, Enrolled, Impression, Reader, ReaderEvent, ReaderSpec, Verified,
    VIRTUAL_IMAGE_ENV,
};
pub use synth::{GreyImage, MasterPrint};
pub use virt::{Presentation, VirtualFeeder};

use sha2::{Digest, Sha256};

/// Media type of a sealed fingerprint template (libfprint's serialised print).
pub const TEMPLATE_MEDIA_TYPE: &str = "application/vnd.countersign.libfprint-print";

/// A libfprint print, serialised (`fp_print_serialize`: the NBIS minutiae,
/// no image). Biometric data: sealed at rest, never logged; `Debug` shows
/// only its size.
#[derive(Clone, PartialEq, Eq)]
pub struct Template(Vec<u8>);

impl Template {
    pub fn new(bytes: Vec<u8>) -> Template {
        Template(bytes)
    }
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
    pub fn sha256_hex(&self) -> String {
        hex::encode(Sha256::digest(&self.0))
    }
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Template({} bytes)", self.0.len())
    }
}

/// A fresh socket path for a virtual reader in `dir`.
pub fn virtual_socket_in(dir: &std::path::Path) -> std::path::PathBuf {
    dir.join("virtual_image.sock")
}
