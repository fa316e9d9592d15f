#!/usr/bin/env python3
"""The reference for Countersign's face benchmark: OpenCV + onnxruntime.

Runs the same pipeline as crates/matcher (OpenCV's FaceDetectorYN +
FaceRecognizerSF: letterbox -> YuNet -> decode strides 8/16/32 -> NMS ->
the face nearest the centre -> 5-point similarity -> warpAffine 112x112 ->
SFace -> L2-normalise) with cv2 for image work and onnxruntime for the two
models, on the frames and model files that `countersign bench --face
--frames DIR` prepared and listed in DIR/manifest.json. The model files
are checked against the SHA-256 the Rust matcher pinned (the manifest
says which), so both sides run byte-identical files.

    bench_face_ref.py run --frames DIR --threads N --repeats R --json-out F
    bench_face_ref.py table JSON...       # one Markdown table, Rust and reference side by side

Used by scripts/bench-face.sh, in a venv with opencv-python-headless,
onnxruntime and onnx (not part of the test suite).
"""

import argparse
import hashlib
import json
import os
import statistics
import sys
import time

STAGES = ["decode", "detect", "align", "embed"]

# ArcFace / FaceRecognizerSF 112x112 landmark template (as in align.rs).
TEMPLATE = [
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
]


def ms_since(t):
    return (time.perf_counter() - t) * 1000.0


def fold_dequantize(model):
    """Every DequantizeLinear whose inputs are all initializers becomes an
    fp32 initializer, as model.rs does for tract. onnxruntime needs it too:
    YuNet's biases carry a `block_size` with a per-tensor scale, which
    onnxruntime 1.32 refuses at run time ("block_size must be 0 for
    per-tensor quantization")."""
    import numpy as np
    from onnx import numpy_helper

    g = model.graph
    inits = {t.name: t for t in g.initializer}
    keep, new = [], []
    for node in g.node:
        ins = [i for i in node.input if i]
        if node.op_type != "DequantizeLinear" or not all(i in inits for i in ins) or len(ins) < 2:
            keep.append(node)
            continue
        attrs = {a.name: a.i for a in node.attribute}
        x = numpy_helper.to_array(inits[node.input[0]]).astype(np.float32)
        sc = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)
        zp = (
            numpy_helper.to_array(inits[node.input[2]]).astype(np.float32)
            if len(node.input) > 2 and node.input[2]
            else np.zeros_like(sc)
        )
        if sc.size == 1:
            v = (x - zp.reshape(())) * sc.reshape(())
        else:
            axis = attrs.get("axis", 1) % x.ndim
            block = attrs.get("block_size", 0)
            if block > 0:
                sc = np.repeat(sc, block, axis=axis).take(range(x.shape[axis]), axis=axis)
                zp = np.repeat(zp, block, axis=axis).take(range(x.shape[axis]), axis=axis)
            else:
                shape = [1] * x.ndim
                shape[axis] = x.shape[axis]
                sc, zp = sc.reshape(shape), zp.reshape(shape)
            v = (x - zp) * sc
        new.append(numpy_helper.from_array(v.astype(np.float32), node.output[0]))
    del g.node[:]
    g.node.extend(keep)
    g.initializer.extend(new)
    used = {i for n in g.node for i in n.input}
    outs = {o.name for o in g.output}
    kept = [t for t in g.initializer if t.name in used or t.name in outs]
    del g.initializer[:]
    g.initializer.extend(kept)


def load_session(path, sha256, threads, input_shape=None):
    """An onnxruntime session on the file at `path`, after checking its
    SHA-256, prepared in memory as the Rust loader prepares it (model.rs):
    constant DequantizeLinear folded (see fold_dequantize); graph inputs
    that nothing consumes (the SFace file declares 29) or that are
    initializers (SFace's BatchNorm parameters, which onnxruntime would
    otherwise treat as overridable and not fold) are dropped. With `input_shape` (the
    detector, whose file is fixed at 640x640) the input gets that shape and
    the exporter's intermediate and output shapes are cleared, as tract's
    plan is compiled for one input size."""
    import onnx
    import onnxruntime as ort

    with open(path, "rb") as f:
        data = f.read()
    got = hashlib.sha256(data).hexdigest()
    if got != sha256:
        sys.exit(f"{path}: SHA-256 {got}, but the Rust matcher pinned {sha256}")
    model = onnx.load_model_from_string(data)
    fold_dequantize(model)
    inits = {t.name for t in model.graph.initializer}
    used = {i for n in model.graph.node for i in n.input}
    keep = [i for i in model.graph.input if i.name in used and i.name not in inits]
    dropped = len(model.graph.input) - len(keep)
    del model.graph.input[:]
    model.graph.input.extend(keep)
    if input_shape is not None:
        dims = model.graph.input[0].type.tensor_type.shape.dim
        for d, v in zip(dims, input_shape):
            d.ClearField("dim_param")
            d.dim_value = v
        del model.graph.value_info[:]
        for o in model.graph.output:
            o.type.tensor_type.ClearField("shape")
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    sess = ort.InferenceSession(
        model.SerializeToString(), so, providers=["CPUExecutionProvider"]
    )
    return sess, dropped


def similarity(src, dst):
    """Least-squares 2-D similarity src -> dst (Umeyama, no reflection), as
    a 2x3 matrix for cv2.warpAffine (the same closed form as align.rs)."""
    import numpy as np

    s = np.asarray(src, np.float64)
    d = np.asarray(dst, np.float64)
    sm, dm = s.mean(0), d.mean(0)
    p, q = s - sm, d - dm
    den = (p * p).sum()
    a = (p[:, 0] * q[:, 0] + p[:, 1] * q[:, 1]).sum() / den
    b = (p[:, 0] * q[:, 1] - p[:, 1] * q[:, 0]).sum() / den
    tx = dm[0] - (a * sm[0] - b * sm[1])
    ty = dm[1] - (b * sm[0] + a * sm[1])
    return np.array([[a, -b, tx], [b, a, ty]], np.float64)


class Reference:
    def __init__(self, manifest, threads):
        import cv2

        cv2.setNumThreads(threads)
        self.cv2 = cv2
        self.score_thr = manifest["min_detection_score"]
        self.nms_thr = manifest["nms_threshold"]
        by_role = {m["role"]: m for m in manifest["models"]}
        mdir = manifest["models_dir"]
        self.threads = threads
        self.det_model = (os.path.join(mdir, by_role["detector"]["file"]), by_role["detector"]["sha256"])
        rec = by_role["recognizer"]
        t = time.perf_counter()
        self.rec, self.rec_dropped = load_session(
            os.path.join(mdir, rec["file"]), rec["sha256"], threads
        )
        self.rec_load_ms = ms_since(t)
        self.rec_in = self.rec.get_inputs()[0].name

    def set_detector_size(self, det_w, det_h):
        """A detector session for one input size; returns its load time
        plus the recogniser's, like one Rust Matcher::load."""
        t = time.perf_counter()
        path, sha = self.det_model
        self.det, _ = load_session(path, sha, self.threads, [1, 3, det_h, det_w])
        self.det_in = self.det.get_inputs()[0].name
        return ms_since(t) + self.rec_load_ms

    def detect(self, img, det_w, det_h):
        import numpy as np

        cv2 = self.cv2
        ih, iw = img.shape[:2]
        scale = min(det_w / iw, det_h / ih)
        nw = min(max(int(round(iw * scale)), 1), det_w)
        nh = min(max(int(round(ih * scale)), 1), det_h)
        small = img if (nw, nh) == (iw, ih) else cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
        blob = np.zeros((1, 3, det_h, det_w), np.float32)
        blob[0, :, :nh, :nw] = small.transpose(2, 0, 1)  # BGR, 0..255
        out = self.det.run(None, {self.det_in: blob})
        boxes, scores, kps_all = [], [], []
        for si, stride in enumerate((8, 16, 32)):
            cols, rows = det_w // stride, det_h // stride
            cls = out[si].reshape(-1)[: rows * cols]
            obj = out[si + 3].reshape(-1)[: rows * cols]
            bbox = out[si + 6].reshape(-1, 4)[: rows * cols]
            kps = out[si + 9].reshape(-1, 10)[: rows * cols]
            score = np.sqrt(np.clip(cls, 0, 1) * np.clip(obj, 0, 1))
            keep = np.nonzero(score >= self.score_thr)[0]
            if keep.size == 0:
                continue
            c = (keep % cols).astype(np.float32)
            r = (keep // cols).astype(np.float32)
            cx = (c + bbox[keep, 0]) * stride
            cy = (r + bbox[keep, 1]) * stride
            w = np.exp(bbox[keep, 2]) * stride
            h = np.exp(bbox[keep, 3]) * stride
            for j in range(keep.size):
                boxes.append([(cx[j] - w[j] / 2) / scale, (cy[j] - h[j] / 2) / scale, w[j] / scale, h[j] / scale])
                scores.append(float(score[keep[j]]))
                k = kps[keep[j]]
                kps_all.append(
                    [[(k[2 * n] + c[j]) * stride / scale, (k[2 * n + 1] + r[j]) * stride / scale] for n in range(5)]
                )
        if not boxes:
            return []
        idx = cv2.dnn.NMSBoxes(boxes, scores, self.score_thr, self.nms_thr)
        return [(boxes[i], kps_all[i], scores[i]) for i in np.asarray(idx).reshape(-1)]

    @staticmethod
    def primary(faces, fw, fh):
        if not faces:
            return None
        tallest = max(f[0][3] for f in faces)
        cands = [f for f in faces if f[0][3] >= tallest * 0.5]

        def dist(f):
            x, y, w, h = f[0]
            return (x + w / 2 - fw / 2) ** 2 + (y + h / 2 - fh / 2) ** 2

        return min(cands, key=dist)

    def align(self, img, landmarks):
        m = similarity(landmarks, TEMPLATE)
        return self.cv2.warpAffine(img, m, (112, 112), flags=self.cv2.INTER_LINEAR, borderValue=(0, 0, 0))

    def embed(self, crop_bgr):
        import numpy as np

        blob = crop_bgr[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32)  # RGB, 0..255
        v = self.rec.run(None, {self.rec_in: blob})[0].reshape(-1)
        return v / np.linalg.norm(v)


def run(args):
    import cv2
    import numpy as np
    import onnxruntime as ort

    with open(os.path.join(args.frames, "manifest.json")) as f:
        manifest = json.load(f)
    ref = Reference(manifest, args.threads)
    report = {
        "impl": f"onnxruntime {ort.__version__} + OpenCV {cv2.__version__}",
        "side": "reference",
        "threads": args.threads,
        "resolutions": [],
    }
    for res in manifest["resolutions"]:
        det_w, det_h = res["det_width"], res["det_height"]
        load_ms = ref.set_detector_size(det_w, det_h)
        samples = {s: [] for s in STAGES}
        embeddings = {}
        blobs = []
        for rel in res["frames"]:
            with open(os.path.join(args.frames, rel), "rb") as f:
                blobs.append((rel, np.frombuffer(f.read(), np.uint8)))
        for rep in range(args.repeats + 1):  # the first pass warms up
            if rep == 1:
                samples = {s: [] for s in STAGES}
            for rel, buf in blobs:
                t = time.perf_counter()
                img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
                samples["decode"].append(ms_since(t))
                t = time.perf_counter()
                faces = ref.detect(img, det_w, det_h)
                p = ref.primary(faces, img.shape[1], img.shape[0])
                samples["detect"].append(ms_since(t))
                if p is None:
                    continue
                t = time.perf_counter()
                crop = ref.align(img, p[1])
                samples["align"].append(ms_since(t))
                t = time.perf_counter()
                e = ref.embed(crop)
                samples["embed"].append(ms_since(t))
                embeddings[rel] = [float(x) for x in e]
        report["resolutions"].append(
            {
                "resolution": f"{res['width']}x{res['height']}",
                "detector": f"{det_w}x{det_h}",
                "load_ms": load_ms,
                "samples": samples,
                "embeddings": embeddings,
            }
        )
    with open(args.json_out, "w") as f:
        json.dump(report, f)


def med(v):
    return statistics.median(v) if v else float("nan")


def table(args):
    reports = []
    for p in args.json:
        with open(p) as f:
            reports.append(json.load(f))
    impls = {}
    for r in reports:
        impls.setdefault(r["side"], r["impl"])
    # pool the samples of every run of one (side, threads, resolution)
    pooled = {}
    loads = {}
    embs = {}
    for r in reports:
        for res in r["resolutions"]:
            key = (res["resolution"], res["detector"], r["threads"], r["side"])
            d = pooled.setdefault(key, {s: [] for s in STAGES})
            for s in STAGES:
                d[s].extend(res["samples"][s])
            loads.setdefault(key, []).append(res["load_ms"])
            embs.setdefault((res["resolution"], res["detector"], r["side"]), res["embeddings"])
    out = []
    out.append("| resolution | threads | implementation | decode ms | detect ms | align ms | embed ms | total ms | vs reference | model load ms |")
    out.append("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    def width(s):
        return int(s.split("x")[0])

    for key in sorted(pooled, key=lambda k: (width(k[0]), -width(k[1]), k[2], k[3] != "rust")):
        resn, det, threads, side = key
        d = pooled[key]
        m = {s: med(d[s]) for s in STAGES}
        total = sum(m.values())
        ref = pooled.get((resn, det, threads, "reference"))
        rtotal = sum(med(ref[s]) for s in STAGES) if ref else float("nan")
        ratio = f"{total / rtotal:.2f}x" if side == "rust" and ref else ""
        name = "tract (Rust)" if side == "rust" else "onnxruntime + OpenCV"
        out.append(
            f"| {resn} (detector {det}) | {threads} | {name} | {m['decode']:.2f} | {m['detect']:.2f} | "
            f"{m['align']:.3f} | {m['embed']:.2f} | {total:.2f} | {ratio} | {med(loads[key]):.0f} |"
        )
    n = {k: len(v["detect"]) for k, v in pooled.items()}
    out.append("")
    out.append(f"Medians over {min(n.values())}-{max(n.values())} frames per row. "
               f"Rust: {impls.get('rust', '?')}; reference: {impls.get('reference', '?')}.")
    # agreement: cosine between the two sides' embeddings of the same frame
    cos = []
    for (resn, det, side), e in embs.items():
        if side != "rust":
            continue
        other = embs.get((resn, det, "reference"), {})
        for frame, v in e.items():
            w = other.get(frame)
            if w:
                cos.append(sum(a * b for a, b in zip(v, w)))
    if cos:
        out.append(
            f"Agreement: cosine between the Rust and the reference embedding of the same frame, "
            f"min {min(cos):.4f} over {len(cos)} frames."
        )
    dec = {}
    for r in reports:
        d = r.get("decision")
        if d:
            dec.setdefault(r["threads"], []).append(d)
    if dec:
        out.append("")
        out.append("| camera-open → decision (engine `face_attempt`, replay) | threads | runs | median ms | min ms | max ms | of which opening the replay, median ms | model load ms |")
        out.append("|---|---|---:|---:|---:|---:|---:|---:|")
        for threads in sorted(dec):
            ds = dec[threads]
            total = [x for d in ds for x in d["total_ms"]]
            opens = [x for d in ds for x in d["open_ms"]]
            d0 = ds[0]
            out.append(
                f"| {d0['replay_resolution']} replay, {d0['frames_per_attempt']} frames, detector {d0['detector']} | {threads} | "
                f"{len(total)} | {med(total):.1f} | {min(total):.1f} | {max(total):.1f} | {med(opens):.1f} | "
                f"{med([d['model_load_ms'] for d in ds]):.0f} |"
            )
    print("\n".join(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--frames", required=True)
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--repeats", type=int, default=10)
    r.add_argument("--json-out", required=True)
    t = sub.add_parser("table")
    t.add_argument("json", nargs="+")
    a = ap.parse_args()
    run(a) if a.cmd == "run" else table(a)


if __name__ == "__main__":
    main()
