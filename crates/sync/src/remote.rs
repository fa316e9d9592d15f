//! The bucket, through object_store: a store for create-only PUTs (with a
//! SHA-256 content checksum, which Object Lock buckets require) and a plain
//! one for GET and LIST (SeaweedFS refuses LISTs carrying the extra signed
//! checksum header).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as OPath;
use object_store::Certificate;
use object_store::{
    BackoffConfig, ClientOptions, GetOptions, ObjectMeta, ObjectStore, PutMode, PutOptions,
    RetryConfig,
};

use crate::layout::sha256_hex;
use crate::{SyncConfig, SyncError};

/// The bucket. `Debug` shows the bucket only (object_store's clients hold
/// the credentials).
#[derive(Clone)]
pub struct Remote {
    put: Arc<AmazonS3>,
    get: Arc<AmazonS3>,
    bucket: String,
    redactor: Redactor,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Remote")
            .field("bucket", &self.bucket)
            .finish_non_exhaustive()
    }
}

/// The strings no message may contain: the credentials and any userinfo of
/// the endpoint URL. `Debug` shows only how many there are.
#[derive(Clone, Default)]
pub(crate) struct Redactor(Arc<Vec<String>>);

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor(<{} secrets>)", self.0.len())
    }
}

impl Redactor {
    pub(crate) fn new(cfg: &SyncConfig) -> Redactor {
        let mut v = vec![cfg.secret_access_key.clone(), cfg.access_key_id.clone()];
        if let Some((_, rest)) = cfg.endpoint.as_deref().and_then(|e| e.split_once("://")) {
            if let Some((userinfo, _)) = rest.split('/').next().unwrap_or("").rsplit_once('@') {
                v.push(userinfo.to_string());
                v.extend(userinfo.split(':').map(str::to_string));
            }
        }
        v.retain(|s| s.len() >= 4);
        // Longest first, so a secret containing another is removed whole.
        v.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Redactor(Arc::new(v))
    }

    pub(crate) fn apply(&self, msg: &str) -> String {
        let mut m = msg.to_string();
        for s in self.0.iter() {
            m = m.replace(s.as_str(), "<redacted>");
        }
        m
    }
}

/// What a create-only PUT found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Server version id.
    pub version: Option<String>,
    /// ETag.
    pub e_tag: Option<String>,
    /// `true` if this call created it, `false` if an identical object was
    /// already there (an earlier attempt whose answer was lost).
    pub created: bool,
}

fn builder(cfg: &SyncConfig, checksum: bool) -> Result<AmazonS3Builder, SyncError> {
    let mut opts = ClientOptions::new()
        .with_allow_http(cfg.allow_http)
        .with_timeout(cfg.request_timeout())
        .with_connect_timeout(Duration::from_secs(5));
    if let Some(ca) = &cfg.ca_cert {
        let pem = std::fs::read(ca)
            .map_err(|e| SyncError::Config(format!("cannot read ca_cert {}: {e}", ca.display())))?;
        for c in Certificate::from_pem_bundle(&pem)
            .map_err(|e| SyncError::Config(format!("ca_cert {}: {e}", ca.display())))?
        {
            opts = opts.with_root_certificate(c);
        }
        if cfg.ca_cert_only {
            opts = opts.with_no_system_certificates(true);
        }
    }
    if checksum {
        let mut h = reqwest_headers();
        h.insert(
            "x-amz-sdk-checksum-algorithm",
            "SHA256"
                .parse()
                .map_err(|_| SyncError::Config("header".into()))?,
        );
        opts = opts.with_default_headers(h);
    }
    // Few quick retries inside the client; the uploader's own backoff
    // (exponential, jittered, unbounded in time) does the rest.
    let retry = RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(500),
            base: 2.0,
        },
        max_retries: 2,
        retry_timeout: Duration::from_secs(10),
    };
    let mut b = AmazonS3Builder::new()
        .with_region(&cfg.region)
        .with_bucket_name(&cfg.bucket)
        .with_access_key_id(&cfg.access_key_id)
        .with_secret_access_key(&cfg.secret_access_key)
        .with_client_options(opts)
        .with_retry(retry)
        .with_allow_http(cfg.allow_http);
    if let Some(ep) = &cfg.endpoint {
        b = b.with_endpoint(ep).with_virtual_hosted_style_request(false);
    }
    if checksum {
        b = b.with_checksum_algorithm(object_store::aws::Checksum::SHA256);
    }
    Ok(b)
}

fn reqwest_headers() -> object_store::HeaderMap {
    object_store::HeaderMap::new()
}

impl Remote {
    /// Open the bucket described by `cfg` (no request is made).
    pub fn open(cfg: &SyncConfig) -> Result<Remote, SyncError> {
        cfg.validate()?;
        let put = builder(cfg, true)?
            .build()
            .map_err(|e| SyncError::Config(redact(&e.to_string(), cfg)))?;
        let get = builder(cfg, false)?
            .build()
            .map_err(|e| SyncError::Config(redact(&e.to_string(), cfg)))?;
        Ok(Remote {
            put: Arc::new(put),
            get: Arc::new(get),
            bucket: cfg.bucket.clone(),
            redactor: Redactor::new(cfg),
        })
    }

    /// Bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The plain store (GET/LIST), e.g. for benchmarks.
    pub fn get_store(&self) -> Arc<AmazonS3> {
        self.get.clone()
    }

    /// The checksumming store (PUT).
    pub fn put_store(&self) -> Arc<AmazonS3> {
        self.put.clone()
    }

    /// Create-only PUT of `bytes` at `key`. If the key already exists, the
    /// remote bytes are read back: identical content (same SHA-256) is an
    /// earlier attempt of ours and counts as success; anything else is
    /// [`SyncError::Conflict`] and nothing is overwritten.
    pub async fn put_create(&self, key: &str, bytes: Bytes) -> Result<Stored, SyncError> {
        let want = sha256_hex(&bytes);
        self.put_create_hashed(key, bytes, &want).await
    }

    /// [`Remote::put_create`] of bytes whose hex SHA-256 the caller already
    /// has (the uploader hashes each object once, off the async threads).
    pub async fn put_create_hashed(
        &self,
        key: &str,
        bytes: Bytes,
        want: &str,
    ) -> Result<Stored, SyncError> {
        let path = OPath::from(key);
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match self.put.put_opts(&path, bytes.into(), opts).await {
            Ok(r) => Ok(Stored {
                version: r.version,
                e_tag: r.e_tag,
                created: true,
            }),
            Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::Precondition { .. }) => {
                let (meta, got) = self.get_bytes(key, None).await?;
                let have = sha256_hex(&got);
                if have == want {
                    Ok(Stored {
                        version: meta.version,
                        e_tag: meta.e_tag,
                        created: false,
                    })
                } else {
                    Err(SyncError::Conflict {
                        key: key.into(),
                        local_sha256: want.into(),
                        remote_sha256: have,
                    })
                }
            }
            Err(e) => Err(SyncError::Remote(format!(
                "PUT {key}: {}",
                self.explain(&e)
            ))),
        }
    }

    /// GET an object (a given version, or the latest).
    pub async fn get_bytes(
        &self,
        key: &str,
        version: Option<&str>,
    ) -> Result<(ObjectMeta, Bytes), SyncError> {
        let path = OPath::from(key);
        let opts = GetOptions {
            version: version.map(str::to_string),
            ..Default::default()
        };
        let r = self.get.get_opts(&path, opts).await.map_err(|e| match e {
            object_store::Error::NotFound { .. } => SyncError::NotFound(key.into()),
            e => SyncError::Remote(format!("GET {key}: {}", self.explain(&e))),
        })?;
        let meta = r.meta.clone();
        let b = r
            .bytes()
            .await
            .map_err(|e| SyncError::Remote(format!("GET {key}: {}", self.explain(&e))))?;
        Ok((meta, b))
    }

    /// Every object under `prefix` (latest versions).
    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, SyncError> {
        let p = OPath::from(prefix.trim_end_matches('/'));
        let mut v: Vec<ObjectMeta> = self
            .get
            .list(Some(&p))
            .try_collect()
            .await
            .map_err(|e| SyncError::Remote(format!("LIST {prefix}: {}", self.explain(&e))))?;
        v.sort_by(|a, b| a.location.as_ref().cmp(b.location.as_ref()));
        Ok(v)
    }

    /// The objects under `prefix` whose keys sort after `offset` (a full
    /// key), in key order: the newest events of a kiosk without listing
    /// them all.
    pub async fn list_after(
        &self,
        prefix: &str,
        offset: &str,
    ) -> Result<Vec<ObjectMeta>, SyncError> {
        let p = OPath::from(prefix.trim_end_matches('/'));
        let mut v: Vec<ObjectMeta> = self
            .get
            .list_with_offset(Some(&p), &OPath::from(offset))
            .try_collect()
            .await
            .map_err(|e| SyncError::Remote(format!("LIST {prefix}: {}", self.explain(&e))))?;
        v.sort_by(|a, b| a.location.as_ref().cmp(b.location.as_ref()));
        Ok(v)
    }

    /// The first-level "directories" under `prefix` (kiosk ids).
    pub async fn list_dirs(&self, prefix: &str) -> Result<Vec<String>, SyncError> {
        let p = if prefix.is_empty() {
            None
        } else {
            Some(OPath::from(prefix.trim_end_matches('/')))
        };
        let r = self
            .get
            .list_with_delimiter(p.as_ref())
            .await
            .map_err(|e| SyncError::Remote(format!("LIST {prefix}: {}", self.explain(&e))))?;
        let mut v: Vec<String> = r
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_string))
            .collect();
        v.sort();
        Ok(v)
    }
}

impl Remote {
    /// An error with its causes (object_store's message alone says "error
    /// sending request"; the cause says why, e.g. an untrusted certificate),
    /// and what to do when the server's certificate is not trusted; never
    /// with credentials.
    fn explain(&self, e: &object_store::Error) -> String {
        let mut msg = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(s) = src {
            let t = s.to_string();
            if !msg.contains(&t) {
                msg.push_str(": ");
                msg.push_str(&t);
            }
            src = s.source();
        }
        let lower = msg.to_ascii_lowercase();
        if lower.contains("certificate") || lower.contains("unknownissuer") {
            msg.push_str(
            " (TLS: the server's certificate is not trusted; set ca_cert in sync.toml to the CA \
             that signed it)",
        );
        }
        self.redactor.apply(&msg)
    }
}

/// Remove credentials from a message (defence in depth: object_store errors
/// do not contain them, but a future version might).
pub(crate) fn redact(msg: &str, cfg: &SyncConfig) -> String {
    Redactor::new(cfg).apply(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redactor_removes_credentials_and_endpoint_userinfo_and_hides_itself() {
        let mut c = SyncConfig::for_endpoint(
            "https://u5er:pa55word@s3.example",
            "b",
            "AKIAKEYID",
            "s3cr3t/VALUE",
        );
        c.allow_http = false;
        let r = Redactor::new(&c);
        let m = r.apply(
            "PUT https://u5er:pa55word@s3.example/b/k failed, key AKIAKEYID sig s3cr3t/VALUE",
        );
        for s in ["u5er", "pa55word", "AKIAKEYID", "s3cr3t/VALUE"] {
            assert!(!m.contains(s), "{m}");
        }
        assert!(m.contains("s3.example/b/k"), "{m}");
        let remote = Remote::open(&c).unwrap();
        let d = format!("{remote:?}");
        for s in ["pa55word", "s3cr3t/VALUE"] {
            assert!(!d.contains(s), "Debug of Remote shows a secret: {d}");
        }
    }
}
