//! The reader in a helper process, in the desktop app's situation: another
//! thread of this process runs a GLib main loop on the default main context
//! (as GTK does in the Tauri window) for the whole test. A test binary of
//! its own, because that loop makes every in-process reader of the process
//! refuse to open. The helper is this crate's `countersign-fp-helper`
//! (the app re-executes itself with `--fingerprint-helper` for the same loop),
//! libfprint's real `virtual_image` driver, real NBIS.

use std::sync::mpsc;
use std::time::Duration;

use countersign_fingerprint::synth::MasterPrint;
use countersign_fingerprint::{
    list_readers_in_helper, virtual_socket_in, Finger, FingerprintError, HelperCommand,
    Presentation, Reader, ReaderSpec, VirtualFeeder,
};

fn helper() -> HelperCommand {
    HelperCommand::new(env!("CARGO_BIN_EXE_countersign-fp-helper"), &[])
}

/// Starts a thread that owns GLib's default main context for good, like
/// GTK's main loop, and returns once the loop runs.
fn gtk_like_main_loop() {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let ctx = glib::MainContext::default();
        let main_loop = glib::MainLoop::new(Some(&ctx), false);
        ctx.invoke(move || tx.send(()).unwrap());
        main_loop.run();
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the main loop runs");
}

#[test]
fn helper_reader_works_while_another_thread_owns_the_default_main_context() {
    gtk_like_main_loop();
    let dir = tempfile::tempdir().unwrap();
    let socket = virtual_socket_in(dir.path());
    let spec = ReaderSpec::Virtual {
        socket: socket.clone(),
    };

    // The situation is real: in this process the reader cannot open.
    let err = Reader::open(spec.clone(), Duration::from_secs(5)).unwrap_err();
    assert!(err.to_string().contains("owned by another thread"), "{err}");

    let listed = list_readers_in_helper(&helper(), Some(socket.clone())).unwrap();
    assert!(
        listed
            .iter()
            .any(|d| d.driver == "virtual_image" && d.replay),
        "{listed:?}"
    );

    let mut r = Reader::open_in_helper(&helper(), spec, Duration::from_secs(20))
        .expect("the helper opens libfprint's virtual_image reader");
    assert!(r.in_helper());
    assert_eq!(r.info().driver, "virtual_image");
    assert!(r.info().replay, "injected images are labelled as such");
    let mut f = VirtualFeeder::new(socket);
    let alice = MasterPrint::generate(11);
    let bob = MasterPrint::generate(12);
    for n in 0..r.enroll_stages() {
        f.push_image(alice.impression(n));
    }
    let mut events = vec![];
    let e = r
        .enroll(Finger::RightIndexFinger, &mut |ev| {
            events.push(ev.clone());
            f.on_event(ev)
        })
        .expect("enrollment completes through the helper");
    assert_eq!(e.impressions.len(), r.enroll_stages() as usize);
    assert_eq!(e.impressions[0].image, alice.impression(0));
    assert!(events.len() >= r.enroll_stages() as usize, "{events:?}");

    f.push_image(alice.impression(9));
    let v = r.verify(&e.template, &mut |ev| f.on_event(ev)).unwrap();
    assert!(v.matched, "another impression of the same finger matches");
    assert_eq!(v.probe.expect("probe image").image, alice.impression(9));

    f.push_image(bob.impression(1));
    let v = r.verify(&e.template, &mut |ev| f.on_event(ev)).unwrap();
    assert!(!v.matched, "another finger does not match");

    // libfprint's "scan again" is a quality failure, typed as in process.
    f.push(Presentation::Retry(0));
    let err = r.verify(&e.template, &mut |ev| f.on_event(ev)).unwrap_err();
    assert!(matches!(err, FingerprintError::Retry { .. }), "{err:?}");
    assert!(!err.is_device_unavailable());

    // A reader pulled out is the device_unavailable trigger.
    f.push(Presentation::Remove);
    let err = r.verify(&e.template, &mut |ev| f.on_event(ev)).unwrap_err();
    assert_eq!(
        err.code(),
        countersign_codes::Code::CaptureUnplugged,
        "{err}"
    );
    assert!(err.is_device_unavailable());
    assert!(f.error.is_none(), "{:?}", f.error);
    r.close();
}

#[test]
fn a_helper_that_is_not_there_is_a_clear_error() {
    let err = Reader::open_in_helper(
        &HelperCommand::new("/nonexistent/countersign-fp-helper", &[]),
        ReaderSpec::First,
        Duration::from_secs(5),
    )
    .unwrap_err();
    assert_eq!(err.code(), countersign_codes::Code::FingerIo);
    assert!(
        err.to_string().contains("starting the fingerprint helper"),
        "{err}"
    );
}
