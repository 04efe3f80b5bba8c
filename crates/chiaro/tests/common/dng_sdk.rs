//! Adobe's DNG SDK (`../shared/tools/dng_validate`) as a peer renderer, for the tests that
//! compare chiaro's rendering of a DNG with the SDK's. Kept out of `common` because it reads
//! TIFF through the `tiff` crate, which not every crate including `common` has.

use std::path::{Path, PathBuf};

/// The SDK's binary beside the shared data, when it is there.
pub fn binary(data: &Path) -> Option<PathBuf> {
    Some(data.join("../tools/dng_validate")).filter(|p| p.is_file())
}

/// Renders the DNG `file` with `dng_validate ARGS -tif` (ARGS choose 16 bits and the colour
/// space) and returns its 16-bit RGB samples scaled to 0..1.
pub fn render(sdk: &Path, file: &[u8], args: &[&str]) -> Vec<f32> {
    let dir = tempfile::tempdir().expect("temp dir");
    let (dng, out) = (dir.path().join("input.dng"), dir.path().join("sdk"));
    std::fs::write(&dng, file).expect("writes the DNG");
    let run = std::process::Command::new(sdk)
        .args(args)
        .arg("-tif")
        .arg(&out)
        .arg(&dng)
        .current_dir(dir.path())
        .output()
        .expect("runs dng_validate");
    assert!(run.status.success(), "dng_validate: {run:?}");
    let tif = std::fs::File::open(out.with_extension("tif")).expect("SDK output");
    let mut decoder = tiff::decoder::Decoder::new(tif).expect("TIFF");
    let tiff::decoder::DecodingResult::U16(v) = decoder.read_image().expect("reads") else {
        panic!("16-bit SDK output expected")
    };
    v.iter().map(|&x| f32::from(x) / 65535.0).collect()
}
