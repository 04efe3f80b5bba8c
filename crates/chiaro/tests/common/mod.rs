//! Shared helpers of the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// `../shared/data` beside the repository; the tests need it (CI provides it).
pub fn shared_data() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    assert!(
        p.is_dir(),
        "test data missing: {} (../shared must sit beside the repository)",
        p.display()
    );
    p
}

/// The ColorChecker 24 (post-2014 edition) patches as XYZ relative to D50.
pub fn colorchecker_xyz_d50() -> Vec<[f64; 3]> {
    let text =
        std::fs::read_to_string(shared_data().join("color/colorchecker24_reference_values.json"))
            .expect("reference values");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    v["ColorChecker24 - After November 2014"]["patches"]
        .as_array()
        .expect("patches")
        .iter()
        .map(|p| {
            let x = &p["XYZ"];
            [
                x[0].as_f64().expect("X"),
                x[1].as_f64().expect("Y"),
                x[2].as_f64().expect("Z"),
            ]
        })
        .collect()
}

/// Mean of the rows `y0..y1`, columns `x0..x1` of an interleaved RGB f32 image.
pub fn rect_mean(
    rgb: &[f32],
    width: usize,
    y0: usize,
    y1: usize,
    x0: usize,
    x1: usize,
) -> [f64; 3] {
    let mut s = [0.0f64; 3];
    for y in y0..y1 {
        for x in x0..x1 {
            for (c, v) in s.iter_mut().enumerate() {
                *v += f64::from(rgb[(y * width + x) * 3 + c]);
            }
        }
    }
    s.map(|v| v / ((y1 - y0) * (x1 - x0)) as f64)
}

/// Mean of a `size` x `size` box of an interleaved RGB f32 image centred at (cx, cy).
pub fn box_mean(rgb: &[f32], width: usize, cx: usize, cy: usize, size: usize) -> [f64; 3] {
    let h = size / 2;
    rect_mean(rgb, width, cy - h, cy + h, cx - h, cx + h)
}
