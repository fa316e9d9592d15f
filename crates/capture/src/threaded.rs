//! A capture source that lives on its own thread, so programs whose state
//! must be `Send` (the desktop app's) can use sources that are not (V4L2
//! handles stay on the thread that opened them).
//!
//! [`ThreadedSource::open`] runs the opener on a new thread; that thread
//! owns the source and answers frame requests over a channel until the
//! [`ThreadedSource`] is dropped, which closes the device. A device error
//! that means the device is gone ends the thread; every later request gets
//! the same typed error, so an unplugged camera keeps firing the
//! `device_unavailable` trigger instead of hanging.

use std::sync::mpsc;

use crate::{CaptureError, DeviceInfo, Frame, Source};

type Reply = mpsc::Sender<Result<Frame, CaptureError>>;

/// A [`Source`] whose device lives on a dedicated thread. `Send`.
#[derive(Debug)]
pub struct ThreadedSource {
    info: DeviceInfo,
    requests: Option<mpsc::Sender<Reply>>,
    worker: Option<std::thread::JoinHandle<()>>,
    /// The error that ended the device thread, repeated to later callers.
    gone: Option<(countersign_codes::Code, String)>,
}

impl ThreadedSource {
    /// Opens a source on a new thread named `name`. Returns the opener's
    /// error if it fails (the thread is gone by then).
    pub fn open<F>(name: &str, opener: F) -> Result<ThreadedSource, CaptureError>
    where
        F: FnOnce() -> Result<Box<dyn Source>, CaptureError> + Send + 'static,
    {
        let (init_tx, init_rx) = mpsc::channel::<Result<DeviceInfo, CaptureError>>();
        let (req_tx, req_rx) = mpsc::channel::<Reply>();
        let worker = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let mut src = match opener() {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = init_tx.send(Err(e));
                        return;
                    }
                };
                let _ = init_tx.send(Ok(src.info().clone()));
                for reply in req_rx {
                    let r = src.next_frame();
                    let fatal = matches!(&r, Err(e) if e.is_device_unavailable());
                    let _ = reply.send(r);
                    if fatal {
                        break; // drops (closes) the device
                    }
                }
            })
            .map_err(|e| CaptureError::Other {
                device: name.into(),
                detail: format!("cannot start the capture thread: {e}"),
            })?;
        match init_rx.recv() {
            Ok(Ok(info)) => Ok(ThreadedSource {
                info,
                requests: Some(req_tx),
                worker: Some(worker),
                gone: None,
            }),
            Ok(Err(e)) => {
                let _ = worker.join();
                Err(e)
            }
            Err(_) => {
                let _ = worker.join();
                Err(CaptureError::Other {
                    device: name.into(),
                    detail: "the capture thread died while opening the device".into(),
                })
            }
        }
    }

    fn ended(&self) -> CaptureError {
        let detail = self
            .gone
            .as_ref()
            .map(|(_, d)| d.clone())
            .unwrap_or_else(|| "the capture thread has ended".into());
        CaptureError::Unplugged {
            device: self.info.id.clone(),
            detail,
        }
    }
}

impl Source for ThreadedSource {
    fn info(&self) -> &DeviceInfo {
        &self.info
    }

    fn next_frame(&mut self) -> Result<Frame, CaptureError> {
        if self.gone.is_some() {
            return Err(self.ended());
        }
        let (tx, rx) = mpsc::channel();
        let sent = self.requests.as_ref().is_some_and(|r| r.send(tx).is_ok());
        let r = if sent {
            rx.recv().unwrap_or_else(|_| Err(self.ended()))
        } else {
            Err(self.ended())
        };
        if let Err(e) = &r {
            if e.is_device_unavailable() || !sent {
                self.gone = Some((e.code(), e.to_string()));
            }
        }
        r
    }
}

impl Drop for ThreadedSource {
    fn drop(&mut self) {
        self.requests = None; // ends the loop, closing the device
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    /// A source that is not `Send` (like a V4L2 handle) and is unplugged
    /// after `frames` frames.
    #[derive(Debug)]
    struct NotSend {
        info: DeviceInfo,
        left: u32,
        _not_send: Rc<()>,
    }

    impl Source for NotSend {
        fn info(&self) -> &DeviceInfo {
            &self.info
        }
        fn next_frame(&mut self) -> Result<Frame, CaptureError> {
            if self.left == 0 {
                return Err(CaptureError::Unplugged {
                    device: self.info.id.clone(),
                    detail: "No such device (os error 19)".into(),
                });
            }
            self.left -= 1;
            Ok(Frame {
                image: image::RgbImage::new(4, 3),
                seq: u64::from(2 - self.left),
                captured_ms: 0,
                origin: None,
            })
        }
    }

    fn device() -> DeviceInfo {
        DeviceInfo {
            id: "test:cam".into(),
            driver: "test".into(),
            name: "test camera".into(),
            resolution: crate::Resolution::new(4, 3),
            replay: false,
        }
    }

    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn a_non_send_source_serves_frames_from_its_thread_then_reports_the_unplug() {
        let mut s = ThreadedSource::open("cam-test", || {
            Ok(Box::new(NotSend {
                info: device(),
                left: 2,
                _not_send: Rc::new(()),
            }) as Box<dyn Source>)
        })
        .unwrap();
        assert_send(&s);
        assert_eq!(s.info().id, "test:cam");
        assert_eq!(s.next_frame().unwrap().seq, 1);
        assert_eq!(s.next_frame().unwrap().seq, 2);
        let e = s.next_frame().unwrap_err();
        assert_eq!(e.code(), countersign_codes::Code::CaptureUnplugged);
        // The thread has ended and closed the device; later calls say so
        // at once (no hang), still as the device-unavailable trigger.
        let again = s.next_frame().unwrap_err();
        assert!(again.is_device_unavailable(), "{again}");
        assert!(again.to_string().contains("os error 19"), "{again}");
    }

    #[test]
    fn an_opener_error_is_returned_as_is() {
        let e = ThreadedSource::open("cam-test", || {
            Err(CaptureError::Busy {
                device: "test:cam".into(),
                detail: "Device or resource busy".into(),
            })
        })
        .unwrap_err();
        assert_eq!(e.code(), countersign_codes::Code::CaptureBusy);
    }

    #[test]
    fn dropping_it_closes_the_device_thread() {
        let (tx, rx) = mpsc::channel::<()>();
        #[derive(Debug)]
        struct Tell(DeviceInfo, mpsc::Sender<()>);
        impl Source for Tell {
            fn info(&self) -> &DeviceInfo {
                &self.0
            }
            fn next_frame(&mut self) -> Result<Frame, CaptureError> {
                Err(CaptureError::EndOfStream {
                    device: self.0.id.clone(),
                })
            }
        }
        impl Drop for Tell {
            fn drop(&mut self) {
                let _ = self.1.send(());
            }
        }
        let s = ThreadedSource::open("cam-test", move || {
            Ok(Box::new(Tell(device(), tx)) as Box<dyn Source>)
        })
        .unwrap();
        drop(s);
        assert!(
            rx.try_recv().is_ok(),
            "the device was closed when the source was dropped"
        );
    }
}
