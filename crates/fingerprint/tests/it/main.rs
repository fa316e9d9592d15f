//! The fingerprint path on the real libfprint: its `virtual_image` driver
//! (a libfprint driver like any other, fed over a Unix socket instead of
//! USB), real NBIS extraction and matching. Nothing is mocked. Without
//! libfprint installed this binary does not build (scripts/setup.sh
//! installs libfprint-2-dev): a loud failure, never a skip.

use std::time::Duration;

use countersign_fingerprint::synth::MasterPrint;
use countersign_fingerprint::{
    eval, virtual_socket_in, Finger, FingerprintError, Presentation, Reader, ReaderEvent,
    ReaderSpec, VirtualFeeder,
};

fn open(dir: &tempfile::TempDir) -> (Reader, VirtualFeeder) {
    let socket = virtual_socket_in(dir.path());
    let r = Reader::open(
        ReaderSpec::Virtual {
            socket: socket.clone(),
        },
        Duration::from_secs(20),
    )
    .expect("libfprint opens its virtual_image reader");
    (r, VirtualFeeder::new(socket))
}

fn enroll_master(
    r: &mut Reader,
    f: &mut VirtualFeeder,
    m: &MasterPrint,
) -> countersign_fingerprint::Enrolled {
    for n in 0..r.enroll_stages() {
        f.push_image(m.impression(n));
    }
    r.enroll(Finger::RightIndexFinger, &mut |e| f.on_event(e))
        .expect("enrollment completes")
}

#[test]
fn virtual_reader_enrolls_and_verifies_synthetic_fingers() {
    let dir = tempfile::tempdir().unwrap();
    let (mut r, mut f) = open(&dir);
    assert_eq!(r.info().driver, "virtual_image");
    assert!(
        r.info().id.starts_with("libfprint:virtual_image:"),
        "{}",
        r.info().id
    );
    assert!(r.info().replay, "injected images are labelled as such");
    let stages = r.enroll_stages();
    assert!(stages >= 1);
    let alice = MasterPrint::generate(11);
    let bob = MasterPrint::generate(12);
    let e = enroll_master(&mut r, &mut f, &alice);
    assert_eq!(e.stages, stages);
    assert_eq!(e.impressions.len(), stages as usize, "one sample per stage");
    assert_eq!(
        e.impressions[0].image,
        alice.impression(0),
        "the sample is the image presented"
    );
    assert!(format!("{:?}", e.template).ends_with("bytes)"));
    assert!(!e.template.bytes().is_empty());

    f.push_image(alice.impression(9));
    let v = r.verify(&e.template, &mut |ev| f.on_event(ev)).unwrap();
    assert!(v.matched, "another impression of the same finger matches");
    let probe = v.probe.expect("the probe image is returned as evidence");
    assert_eq!(probe.image, alice.impression(9));

    f.push_image(bob.impression(1));
    let v = r.verify(&e.template, &mut |ev| f.on_event(ev)).unwrap();
    assert!(!v.matched, "another finger does not match");
    assert_eq!(f.remaining(), 0);
}

#[test]
fn capture_returns_the_presented_image() {
    let dir = tempfile::tempdir().unwrap();
    let (mut r, mut f) = open(&dir);
    let img = MasterPrint::generate(21).impression(2);
    f.push_image(img.clone());
    let mut events = vec![];
    let got = r
        .capture(&mut |e| {
            events.push(e.clone());
            f.on_event(e)
        })
        .unwrap();
    assert_eq!(got.image, img);
    assert_eq!(
        events,
        vec![ReaderEvent::AwaitingFinger {
            op: "capture",
            stage: 0,
            stages: 1
        }]
    );
}

#[test]
fn removed_device_is_device_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let (mut r, mut f) = open(&dir);
    let m = MasterPrint::generate(31);
    let e = enroll_master(&mut r, &mut f, &m);
    f.push(Presentation::Remove);
    let err = r.verify(&e.template, &mut |ev| f.on_event(ev)).unwrap_err();
    assert!(err.is_device_unavailable(), "{err:?}");
    assert_eq!(err.code(), countersign_codes::Code::CaptureUnplugged);
    // and it stays gone
    let err = r.verify(&e.template, &mut |ev| f.on_event(ev)).unwrap_err();
    assert!(err.is_device_unavailable(), "{err:?}");
}

#[test]
fn retry_is_a_quality_failure_not_a_device_error() {
    let dir = tempfile::tempdir().unwrap();
    let (mut r, mut f) = open(&dir);
    let m = MasterPrint::generate(41);
    let e = enroll_master(&mut r, &mut f, &m);
    f.push(Presentation::Retry(2));
    let err = r.verify(&e.template, &mut |ev| f.on_event(ev)).unwrap_err();
    assert!(matches!(err, FingerprintError::Retry { .. }), "{err:?}");
    assert!(!err.is_device_unavailable());
    // the reader still works afterwards
    f.push_image(m.impression(8));
    assert!(
        r.verify(&e.template, &mut |ev| f.on_event(ev))
            .unwrap()
            .matched
    );
}

#[test]
fn nothing_presented_is_a_timeout_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let socket = virtual_socket_in(dir.path());
    let mut r = Reader::open(ReaderSpec::Virtual { socket }, Duration::from_secs(1)).unwrap();
    let err = r.capture(&mut |_| {}).unwrap_err();
    assert_eq!(
        err.code(),
        countersign_codes::Code::FingerTimedOut,
        "{err:?}"
    );
}

#[test]
fn unknown_reader_is_not_found() {
    let err = Reader::open(
        ReaderSpec::Id("libfprint:nope:0".into()),
        Duration::from_secs(1),
    )
    .unwrap_err();
    assert!(err.is_device_unavailable(), "{err:?}");
    assert_eq!(err.code(), countersign_codes::Code::CaptureNotFound);
}

#[test]
fn eval_separates_genuine_from_impostor_on_synthetic_prints() {
    let data = tempfile::tempdir().unwrap();
    countersign_fingerprint::synth::write_set(data.path(), 100, 4, 7).unwrap();
    let (ids, unreadable) = eval::load_dir(data.path()).unwrap();
    assert!(unreadable.is_empty());
    assert_eq!(ids.len(), 4);
    let sock = tempfile::tempdir().unwrap();
    let rep = eval::evaluate(&ids, sock.path(), &mut |_| {}).unwrap();
    assert_eq!(rep.enrolled, 4, "{rep:?}");
    // every impression of every other finger (issue 16), not only the last
    assert_eq!(
        rep.impostor.compared + rep.impostor.failed_to_capture,
        4 * 3 * 7
    );
    assert_eq!(rep.impostor.matched, 0, "{rep:?}");
    assert!(rep.genuine.compared >= 6, "{rep:?}");
    assert!(
        rep.genuine.matched * 4 >= rep.genuine.compared * 3,
        "at least 3 in 4 genuine probes match: {rep:?}"
    );
    assert_eq!(rep.fmr, Some(0.0));
}
