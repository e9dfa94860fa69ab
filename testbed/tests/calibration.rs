//! The ground truth reproduces the published rows it was calibrated on (testbed/data/*.csv),
//! computed through the same API the simulated workers use. Tolerance: 1% relative, or the
//! stated absolute tolerance where a value was derived by scaling.

use std::collections::HashMap;

use compass_planners::model::OperatorModel;
use compass_testbed::catalog;
use compass_testbed::truth::GroundTruth;

struct Rows(Vec<HashMap<String, String>>);

impl Rows {
    fn load() -> Self {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/models.csv");
        let mut r = csv::Reader::from_path(path).expect("models.csv");
        let headers = r.headers().expect("headers").clone();
        Rows(
            r.records()
                .map(|rec| {
                    let rec = rec.expect("row");
                    headers
                        .iter()
                        .zip(rec.iter())
                        .map(|(h, v)| (h.to_string(), v.to_string()))
                        .collect()
                })
                .collect(),
        )
    }

    /// The one row with this model, metric and dataset (substring), as a number from `field`.
    fn value(&self, model: &str, metric: &str, dataset: &str, field: &str) -> f64 {
        let hits: Vec<_> = self
            .0
            .iter()
            .filter(|r| {
                r["model"] == model && r["metric_name"] == metric && r["dataset"].contains(dataset)
            })
            .collect();
        assert_eq!(
            hits.len(),
            1,
            "rows for {model} / {metric} / {dataset}: {}",
            hits.len()
        );
        hits[0][field]
            .parse()
            .unwrap_or_else(|_| panic!("{model} {field} is not a number"))
    }
}

fn truth(app: &str) -> GroundTruth {
    let spec = catalog::builtin()
        .expect("catalog")
        .into_iter()
        .find(|a| a.app_id == app)
        .expect("app");
    GroundTruth::new(spec).expect("valid application")
}

fn close(found: f64, expected: f64, tol: f64, what: &str) {
    assert!(
        (found - expected).abs() <= tol,
        "{what}: ground truth {found}, calibration {expected} (tolerance {tol})"
    );
}

fn rel(found: f64, expected: f64, what: &str) {
    close(found, expected, expected.abs() * 0.01, what);
}

#[test]
fn speech_recognition() {
    let rows = Rows::load();
    let t = truth("speech-recognition");
    let asr = t.op("asr").expect("asr");
    let large = rows.value(
        "openai/whisper-large-v2",
        "RTFx (audio s per compute s)",
        "",
        "metric_value",
    );
    let large_ms = 5000.0 / large;
    for (model, card) in [
        ("whisper-tiny", "whisper-tiny"),
        ("whisper-base", "whisper-base"),
        ("whisper-small", "whisper-small"),
        ("whisper-medium", "whisper-medium"),
    ] {
        let c = t.config_with(&[("asr", "model", model)]).expect("config");
        rel(
            t.accuracy(&t.model, &c, "clean"),
            rows.value(card, "WER_%", "test-clean", "metric_value"),
            model,
        );
        rel(
            t.accuracy(&t.model, &c, "noisy"),
            rows.value(card, "WER_%", "test-other", "metric_value"),
            model,
        );
        let speed = rows.value(card, "relative_speed_vs_large", "", "metric_value");
        rel(t.reference_ms(&t.model, asr, &c), large_ms / speed, model);
        rel(
            t.model.gpu_memory_mb(&c, asr),
            rows.value(card, "relative_speed_vs_large", "", "gpu_memory_mb"),
            model,
        );
    }
    let c = t
        .config_with(&[("asr", "model", "whisper-large-v2")])
        .expect("config");
    rel(
        t.reference_ms(&t.model, asr, &c),
        large_ms,
        "large-v2 latency",
    );
    rel(
        t.accuracy(&t.model, &c, "clean"),
        rows.value("whisper-large-v2", "WER_%", "test-clean", "metric_value"),
        "large-v2",
    );

    let fp16 = t
        .config_with(&[("asr", "model", "whisper-large-v2")])
        .expect("c");
    let int8 = t
        .config_with(&[
            ("asr", "model", "whisper-large-v2"),
            ("asr", "precision", "int8"),
        ])
        .expect("c");
    let time = |p: &str| {
        rows.0
            .iter()
            .find(|r| {
                r["model"].contains("faster-whisper")
                    && r["precision"] == p
                    && r["latency_hardware"].contains("V100S")
            })
            .map(|r| r["metric_value"].parse::<f64>().expect("n"))
            .expect(p)
    };
    rel(
        t.reference_ms(&t.model, asr, &int8) / t.reference_ms(&t.model, asr, &fp16),
        time("int8") / time("fp16"),
        "int8 latency ratio",
    );
}

#[test]
fn visual_tracking() {
    let rows = Rows::load();
    let t = truth("visual-tracking");
    let detect = t.op("detect").expect("detect");
    for m in ["n", "s", "m", "l", "x"] {
        let c = t
            .config_with(&[("detect", "model", &format!("yolov8{m}"))])
            .expect("config");
        let ms = rows.value(&format!("YOLOv8{m}"), "mAP50-95", "", "latency_ms");
        rel(
            t.reference_ms(&t.model, detect, &c),
            ms,
            &format!("yolov8{m} latency"),
        );
    }
    let x = t
        .config_with(&[("detect", "model", "yolov8x")])
        .expect("config");
    rel(
        t.accuracy(&t.model, &x, "sparse"),
        rows.value(
            "ByteTrack (YOLOX-X detector)",
            "MOTA",
            "MOT17 test",
            "metric_value",
        ),
        "MOT17",
    );
    rel(
        t.accuracy(&t.model, &x, "crowded"),
        rows.value(
            "ByteTrack (YOLOX-X detector)",
            "MOTA",
            "MOT20",
            "metric_value",
        ),
        "MOT20",
    );
    // Smaller detectors: train-set MOTA scaled to the test set (derived; 0.15 points of rounding).
    let scale = 80.3 / rows.value("bytetrack_x_mot17", "MOTA", "", "metric_value");
    for (m, row) in [
        ("n", "bytetrack_nano_mot17"),
        ("s", "bytetrack_s_mot17"),
        ("m", "bytetrack_m_mot17"),
        ("l", "bytetrack_l_mot17"),
    ] {
        let c = t
            .config_with(&[("detect", "model", &format!("yolov8{m}"))])
            .expect("config");
        close(
            t.accuracy(&t.model, &c, "sparse"),
            rows.value(row, "MOTA", "", "metric_value") * scale,
            0.15,
            row,
        );
    }
    // int8: the mean of the three Jetson latency ratios and mAP changes.
    let jetson = |m: &str, p: &str, f: &str| {
        rows.0
            .iter()
            .find(|r| r["model"] == format!("YOLOv8{m} [TensorRT engine]") && r["precision"] == p)
            .map(|r| r[f].parse::<f64>().expect("n"))
            .expect("row")
    };
    let ratio = ["n", "s", "m"]
        .iter()
        .map(|m| jetson(m, "int8", "latency_ms") / jetson(m, "fp16", "latency_ms"))
        .sum::<f64>()
        / 3.0;
    let delta = ["n", "s", "m"]
        .iter()
        .map(|m| jetson(m, "int8", "metric_value") - jetson(m, "fp16", "metric_value"))
        .sum::<f64>()
        / 3.0;
    let int8 = t
        .config_with(&[
            ("detect", "model", "yolov8x"),
            ("detect", "precision", "int8"),
        ])
        .expect("c");
    close(
        t.reference_ms(&t.model, detect, &int8) / t.reference_ms(&t.model, detect, &x),
        ratio,
        0.01,
        "int8 ratio",
    );
    close(
        t.accuracy(&t.model, &int8, "sparse") - t.accuracy(&t.model, &x, "sparse"),
        delta,
        0.05,
        "int8 delta",
    );
}

#[test]
fn video_qa_and_dense_captioning_and_code() {
    let rows = Rows::load();
    let t = truth("video-qa");
    for (v, model) in [
        ("llava-onevision-0.5b", "llava-onevision-qwen2-0.5b-ov"),
        ("llava-onevision-7b", "llava-onevision-qwen2-7b-ov"),
    ] {
        let c = t.config_with(&[("answer", "model", v)]).expect("c");
        rel(
            t.accuracy(&t.model, &c, "short"),
            rows.value(model, "accuracy_%", "NExT-QA", "metric_value"),
            v,
        );
        rel(
            t.accuracy(&t.model, &c, "long"),
            rows.value(model, "accuracy_%", "Video-MME", "metric_value"),
            v,
        );
    }
    let t = truth("dense-video-captioning");
    for (v, model) in [
        ("git", "GIT"),
        ("streaming-git", "Streaming-GIT"),
        ("vid2seq", "Vid2Seq"),
        ("streaming-vid2seq", "Streaming-Vid2Seq"),
    ] {
        let c = t.config_with(&[("caption", "model", v)]).expect("c");
        rel(
            t.accuracy(&t.model, &c, "activitynet"),
            rows.value(model, "CIDEr", "ActivityNet", "metric_value"),
            v,
        );
        rel(
            t.accuracy(&t.model, &c, "youcook2"),
            rows.value(model, "CIDEr", "YouCook2", "metric_value"),
            v,
        );
    }
    let t = truth("code-generation");
    for (v, he, mbpp) in [
        (
            "deepseek-coder-1.3b-instruct",
            "DeepSeek-Coder-1.3B-instruct",
            "DeepSeek-Coder-Instruct 1.3B",
        ),
        (
            "deepseek-coder-6.7b-instruct",
            "DeepSeek-Coder-6.7B-instruct",
            "DeepSeek-Coder-Instruct 6.7B",
        ),
        (
            "deepseek-coder-33b-instruct",
            "DeepSeek-Coder-33B-instruct",
            "DeepSeek-Coder-Instruct 33B",
        ),
    ] {
        let c = t.config_with(&[("generate", "model", v)]).expect("c");
        rel(
            t.accuracy(&t.model, &c, "humaneval"),
            rows.value(he, "HumanEval pass@1 %", "", "metric_value"),
            v,
        );
        let m = rows
            .0
            .iter()
            .find(|r| r["model"] == mbpp && r["metric_name"].starts_with("MBPP"))
            .expect(mbpp);
        rel(
            t.accuracy(&t.model, &c, "mbpp"),
            m["metric_value"].parse().expect("n"),
            v,
        );
    }
}

#[test]
fn live_video_chat() {
    let rows = Rows::load();
    let t = truth("live-video-chat");
    for (v, model) in [
        ("rnnoise", "RNNoise (2018)"),
        ("gtcrn", "GTCRN (2024)"),
        ("deepfilternet", "DeepFilterNet (2022)"),
    ] {
        let c = t.config_with(&[("denoise", "model", v)]).expect("c");
        rel(
            t.accuracy(&t.model, &c, "vctk-demand"),
            rows.value(model, "PESQ", "", "metric_value"),
            v,
        );
    }
    let gtcrn = t.config_with(&[("denoise", "model", "gtcrn")]).expect("c");
    let rtf = rows.value("GTCRN streaming", "real_time_factor", "", "metric_value");
    rel(
        t.reference_ms(&t.model, t.op("denoise").expect("op"), &gtcrn),
        33.0 * rtf,
        "gtcrn latency",
    );
    let hd = t
        .config_with(&[("capture", "resolution", "hd")])
        .expect("c");
    let rvm_hd = rows
        .0
        .iter()
        .find(|r| {
            r["model"].starts_with("RobustVideoMatting")
                && r["dataset"].starts_with("HD")
                && r["latency_hardware"].contains("3090")
        })
        .expect("rvm");
    rel(
        t.reference_ms(&t.model, t.op("matting").expect("op"), &hd),
        rvm_hd["latency_ms"].parse().expect("n"),
        "rvm hd",
    );
}

#[test]
fn every_application_parses_and_every_choice_has_a_source() {
    let apps = catalog::builtin().expect("catalog");
    assert_eq!(apps.len(), 6);
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/apps");
    assert_eq!(
        catalog::load_dir(std::path::Path::new(dir))
            .expect("dir")
            .len(),
        6,
        "the files on disk are the compiled-in ones"
    );
    for a in apps {
        let t = GroundTruth::new(a).expect("valid");
        assert!(t.model.space_size() >= 1);
    }
}
