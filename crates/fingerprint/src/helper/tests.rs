use countersign_capture::CaptureError;

use super::*;

#[test]
fn errors_cross_the_pipe_with_their_code_and_trigger() {
    let cases: Vec<FingerprintError> = vec![
        CaptureError::Unplugged {
            device: "d".into(),
            detail: "gone".into(),
        }
        .into(),
        CaptureError::Busy {
            device: "d".into(),
            detail: "hot".into(),
        }
        .into(),
        CaptureError::NotFound {
            device: "d".into(),
            detail: "none".into(),
        }
        .into(),
        FingerprintError::Retry {
            device: "d".into(),
            reason: "poor scan quality".into(),
        },
        FingerprintError::TimedOut {
            device: "d".into(),
            secs: 30,
        },
        FingerprintError::NoImage { device: "d".into() },
        FingerprintError::Template("bad".into()),
    ];
    for e in cases {
        let line = serde_json::to_string(&Reply::Error(to_wire_error(&e))).unwrap();
        let Reply::Error(w) = serde_json::from_str(&line).unwrap() else {
            panic!("{line}")
        };
        let back = from_wire_error(w);
        assert_eq!(back.code(), e.code(), "{line}");
        assert_eq!(back.is_device_unavailable(), e.is_device_unavailable());
        assert_eq!(back.to_string(), e.to_string());
    }
}

#[test]
fn a_bad_request_is_answered_not_fatal() {
    let input = b"{\"op\":\"nonsense\"}\n{\"op\":\"capture\"}\n".to_vec();
    let mut out = vec![];
    serve(&input[..], &mut out).unwrap();
    let lines: Vec<Reply> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(matches!(&lines[0], Reply::Hello(h) if h == HELLO));
    assert!(
        matches!(&lines[1], Reply::Error(WireError::Invalid { .. })),
        "{lines:?}"
    );
    assert!(
        matches!(&lines[2], Reply::Error(WireError::Invalid { message }) if message.contains("no reader")),
        "{lines:?}"
    );
}
