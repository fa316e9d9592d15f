//! The fingerprint path's errors, and how libfprint's are classified.

use countersign_capture::CaptureError;

/// Errors of the fingerprint path. Device errors are the capture crate's
/// [`CaptureError`], so `is_device_unavailable` (the `device_unavailable`
/// fallback trigger) means the same thing for a camera and a reader.
#[derive(Debug, thiserror::Error)]
pub enum FingerprintError {
    /// Not found / removed / busy / no permission (the fallback trigger), or
    /// another device failure (`CaptureError::Other`).
    #[error(transparent)]
    Device(#[from] CaptureError),
    /// libfprint asked for the finger again: poor scan, too short, not
    /// centred, remove and retry. A quality failure, never a match failure.
    #[error("scan on {device} must be repeated: {reason}")]
    Retry { device: String, reason: String },
    /// The reader is a match-on-chip sensor: it never gives an image, so no
    /// sample could be kept as evidence.
    #[error("reader {device} gives no image (match-on-chip sensor); Countersign keeps every sample as evidence and needs an image sensor")]
    NoImage { device: String },
    /// The presented finger is already enrolled (libfprint's duplicate
    /// error, from readers that check it themselves).
    #[error("this finger is already enrolled{}", .owner.as_deref().map(|o| format!(" for {o}")).unwrap_or_default())]
    Duplicate { owner: Option<String> },
    /// A stored template that libfprint cannot read (never its bytes).
    #[error("fingerprint template unusable: {0}")]
    Template(String),
    /// Nothing was presented within the reader's operation timeout; the
    /// operation was cancelled.
    #[error("no finger was presented on {device} within {secs} s")]
    TimedOut { device: String, secs: u64 },
    /// libfprint is not installed or cannot start (the worker thread died).
    #[error("libfprint: {0}")]
    Libfprint(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid input: {0}")]
    Invalid(String),
}

impl FingerprintError {
    /// True for the errors that fire the `device_unavailable` trigger.
    pub fn is_device_unavailable(&self) -> bool {
        matches!(self, FingerprintError::Device(e) if e.is_device_unavailable())
    }

    /// A stable code for the evidence and the UI.
    pub fn code(&self) -> countersign_codes::Code {
        match self {
            FingerprintError::Device(e) => e.code(),
            FingerprintError::Retry { .. } => countersign_codes::Code::FingerRetry,
            FingerprintError::NoImage { .. } => countersign_codes::Code::FingerNoImage,
            FingerprintError::Duplicate { .. } => countersign_codes::Code::FingerEnrollDuplicate,
            FingerprintError::Template(_) => countersign_codes::Code::FingerTemplate,
            FingerprintError::TimedOut { .. } => countersign_codes::Code::FingerTimedOut,
            FingerprintError::Libfprint(_) => countersign_codes::Code::FingerLibfprint,
            FingerprintError::Io { .. } => countersign_codes::Code::FingerIo,
            FingerprintError::Invalid(_) => countersign_codes::Code::InputInvalid,
        }
    }
}

// libfprint's error domains and codes (fp-device.h, libfprint 1.94).
const RETRY_REASONS: [&str; 4] = [
    "poor scan quality",
    "swipe too short",
    "finger not centred on the sensor",
    "remove the finger and try again",
];
const E_NOT_SUPPORTED: i32 = 1;
const E_NOT_OPEN: i32 = 2;
const E_BUSY: i32 = 4;
const E_DATA_INVALID: i32 = 6;
const E_DATA_DUPLICATE: i32 = 9;
const E_REMOVED: i32 = 0x100;
const E_TOO_HOT: i32 = 0x101;

/// Which libfprint error domain a GError is from.
fn domain_of(e: &glib::Error) -> &'static str {
    let d = e.domain();
    let d = d.as_str();
    if d.contains("retry") {
        "retry"
    } else if d.contains("fp") && d.contains("device") && d.contains("error") {
        "device"
    } else if d.contains("io-error") {
        "io"
    } else {
        "other"
    }
}

/// Classifies a libfprint error from an operation on `device`.
pub(crate) fn classify(device: &str, e: &glib::Error) -> FingerprintError {
    let (dev, detail) = (device.to_string(), e.message().to_string());
    match (domain_of(e), e.code()) {
        ("retry", c) => FingerprintError::Retry {
            device: dev,
            reason: RETRY_REASONS
                .get(c as usize)
                .map_or_else(|| detail.clone(), |r| (*r).to_string()),
        },
        ("device", E_REMOVED) => CaptureError::Unplugged {
            device: dev,
            detail,
        }
        .into(),
        // libfprint's overheating model: the reader refuses work for minutes.
        ("device", E_BUSY) | ("device", E_TOO_HOT) => CaptureError::Busy {
            device: dev,
            detail,
        }
        .into(),
        ("device", E_NOT_OPEN) => CaptureError::NotFound {
            device: dev,
            detail,
        }
        .into(),
        ("device", E_DATA_DUPLICATE) => FingerprintError::Duplicate { owner: None },
        ("device", E_DATA_INVALID) => FingerprintError::Template(detail),
        ("device", E_NOT_SUPPORTED) => FingerprintError::NoImage { device: dev },
        _ => CaptureError::Other {
            device: dev,
            detail: format!("{detail} ({}:{})", e.domain().as_str(), e.code()),
        }
        .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy)]
    struct Dev(i32);
    impl glib::error::ErrorDomain for Dev {
        fn domain() -> glib::Quark {
            glib::Quark::from_str("fp - device - error - quark")
        }
        fn code(self) -> i32 {
            self.0
        }
        fn from(code: i32) -> Option<Self> {
            Some(Dev(code))
        }
    }
    #[derive(Debug, Clone, Copy)]
    struct Retry(i32);
    impl glib::error::ErrorDomain for Retry {
        fn domain() -> glib::Quark {
            glib::Quark::from_str("fp - device - retry - quark")
        }
        fn code(self) -> i32 {
            self.0
        }
        fn from(code: i32) -> Option<Self> {
            Some(Retry(code))
        }
    }

    #[test]
    fn libfprint_errors_map_to_typed_errors() {
        let c = |e: glib::Error| classify("libfprint:virtual_image:0", &e);
        let removed = c(glib::Error::new(
            Dev(E_REMOVED),
            "This device has been removed",
        ));
        assert_eq!(removed.code(), countersign_codes::Code::CaptureUnplugged);
        assert!(removed.is_device_unavailable());
        assert!(c(glib::Error::new(Dev(E_TOO_HOT), "hot")).is_device_unavailable());
        assert!(c(glib::Error::new(Dev(E_BUSY), "busy")).is_device_unavailable());
        let proto = c(glib::Error::new(Dev(5), "proto"));
        assert_eq!(proto.code(), countersign_codes::Code::CaptureError);
        assert!(!proto.is_device_unavailable());
        let retry = c(glib::Error::new(Retry(2), "center"));
        assert_eq!(retry.code(), countersign_codes::Code::FingerRetry);
        assert!(retry.to_string().contains("not centred"), "{retry}");
        assert!(!retry.is_device_unavailable());
        assert_eq!(
            c(glib::Error::new(Dev(E_DATA_DUPLICATE), "dup")).code(),
            countersign_codes::Code::FingerEnrollDuplicate
        );
    }
}
