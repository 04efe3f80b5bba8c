//! Linearisation and black/white normalisation (DNG 1.7 spec, chapter 5, "Linearization"
//! and "Black Subtraction", "Rescaling").
//!
//! # Units
//! In: stored sensor values (u16 DN) of the active area. Out: `f32`, 0 = black level,
//! 1 = white level of the sample plane; not clipped (noise below black stays negative so
//! averages stay unbiased; values above white come from the linearisation table only).

use crate::error::Result;
use crate::image::Plane;
use crate::limits::{Limits, try_vec};
use crate::raw::RawImage;

/// Linearisation table lookup (clamped at its end, DNG 1.7 LinearizationTable).
#[inline]
fn linearize(table: Option<&[u16]>, v: u16) -> f32 {
    match table {
        Some(t) => f32::from(t[(v as usize).min(t.len() - 1)]),
        None => f32::from(v),
    }
}

/// Stored values of the whole raw as `f32` (for OpcodeList1, which runs before
/// linearisation on the full stored image), allocated within `limits`.
pub fn stored_plane(raw: &RawImage, limits: &Limits) -> Result<Plane> {
    let spp = raw.samples_per_pixel;
    let mut data = try_vec::<f32>(raw.data.len(), limits)?;
    data.iter_mut()
        .zip(&raw.data)
        .for_each(|(d, &v)| *d = f32::from(v));
    Ok(Plane {
        width: raw.width * spp,
        height: raw.height,
        data,
    })
}

/// Normalises row `y` of the active area, all sample planes interleaved
/// (`row.len() == active width * samples_per_pixel`).
///
/// `stored` optionally overrides `raw.data` (after OpcodeList1 ran on it).
pub fn normalize_row(raw: &RawImage, stored: Option<&Plane>, y: usize, row: &mut [f32]) {
    let spp = raw.samples_per_pixel;
    let a = raw.active_area;
    let table = raw.linearization.as_deref().filter(|t| !t.is_empty());
    let src_row = (a.y + y) * raw.width * spp + a.x * spp;
    let b = &raw.black;
    if spp == 1 && stored.is_none() && b.delta_h.is_empty() && b.repeat_cols <= 8 {
        // The common case: per-column-phase black and scale, a multiply per sample.
        let phases = b.repeat_cols;
        let mut black = [0.0f32; 8];
        let mut scale = [0.0f32; 8];
        for p in 0..phases {
            black[p] = b.at(y, p);
            scale[p] = 1.0 / (raw.white[0] - black[p]);
        }
        let src = &raw.data[src_row..src_row + row.len()];
        match table {
            // Periods dividing 8 (Bayer: 1 or 2) repeat within 8 lanes: constant per lane,
            // so the loop vectorises.
            None if 8 % phases == 0 => {
                for p in phases..8 {
                    (black[p], scale[p]) = (black[p % phases], scale[p % phases]);
                }
                normalize_row_periodic(src, row, &black, &scale);
            }
            _ => {
                for (x, (o, &v)) in row.iter_mut().zip(src).enumerate() {
                    let p = x % phases;
                    *o = (linearize(table, v) - black[p]) * scale[p];
                }
            }
        }
        return;
    }
    for (j, o) in row.iter_mut().enumerate() {
        let (x, s) = (j / spp, j % spp);
        let i = src_row + j;
        let v = match stored {
            Some(p) if table.is_some() => {
                linearize(table, p.data[i].round().clamp(0.0, 65535.0) as u16)
            }
            Some(p) => p.data[i],
            None => linearize(table, raw.data[i]),
        };
        let black = raw.black.at(y, x);
        *o = (v - black) / (raw.white[s] - black);
    }
}

/// `(v - black[x % 8]) * scale[x % 8]` over a row, compiled for the widest vectors the CPU
/// has (runtime dispatch; the same arithmetic, so the same bits, in every version).
#[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+sse4.1", "aarch64+neon"))]
fn normalize_row_periodic(src: &[u16], row: &mut [f32], black: &[f32; 8], scale: &[f32; 8]) {
    let mut out = row.chunks_exact_mut(8);
    let mut inp = src.chunks_exact(8);
    for (o, v) in (&mut out).zip(&mut inp) {
        for p in 0..8 {
            o[p] = (f32::from(v[p]) - black[p]) * scale[p];
        }
    }
    let (o, v) = (out.into_remainder(), inp.remainder());
    for (p, (o, &v)) in o.iter_mut().zip(v).enumerate() {
        *o = (f32::from(v) - black[p]) * scale[p];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Rect;
    use crate::raw::{BlackLevel, CfaPattern};

    fn raw(data: Vec<u16>, w: usize, h: usize) -> RawImage {
        RawImage {
            width: w,
            height: h,
            samples_per_pixel: 1,
            data,
            cfa: CfaPattern::bayer("RGGB").expect("valid"),
            linearization: None,
            black: BlackLevel::uniform(100.0),
            white: vec![1100.0],
            active_area: Rect::new(0, 0, w, h),
            default_crop: Rect::new(0, 0, w, h),
            orientation: 1,
            color: Default::default(),
            opcodes: Default::default(),
            noise_profile: vec![],
            exif: Default::default(),
            format: "test".into(),
            warnings: vec![],
        }
    }

    fn normalize(r: &RawImage) -> Vec<f32> {
        let w = r.active_area.width;
        let mut out = vec![0.0; w * r.active_area.height];
        for (y, row) in out.chunks_mut(w).enumerate() {
            normalize_row(r, None, y, row);
        }
        out
    }

    #[test]
    fn black_maps_to_zero_and_white_to_one() {
        let p = normalize(&raw(vec![100, 1100, 600, 50], 2, 2));
        assert_eq!(p, vec![0.0, 1.0, 0.5, -0.05]);
    }

    #[test]
    fn per_row_black_deltas_and_active_area_apply() {
        let mut r = raw(vec![0, 0, 0, 200, 300, 0, 400, 500], 4, 2);
        r.active_area = Rect::new(1, 1, 3, 1);
        r.default_crop = Rect::new(0, 0, 3, 1);
        r.black.delta_v = vec![100.0];
        let p = normalize(&r);
        // Row 1 from column 1 is [0, 400, 500]; black 100 + 100 (row delta), white 1100.
        let want = [-200.0 / 900.0, 200.0 / 900.0, 300.0 / 900.0];
        assert!(
            p.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6),
            "{p:?}"
        );
    }

    #[test]
    fn fast_path_matches_the_general_formula() {
        // Two-column black pattern with per-row deltas and an active-area offset; the
        // general path (taken with a stored plane) divides, the fast path multiplies.
        let (w, h) = (23, 4);
        let data: Vec<u16> = (0..w * h).map(|i| (97 * i % 1000 + 60) as u16).collect();
        let mut r = raw(data.clone(), w, h);
        r.black = BlackLevel {
            repeat_rows: 2,
            repeat_cols: 2,
            values: vec![100.0, 90.0, 95.0, 105.0],
            delta_h: vec![],
            delta_v: vec![1.0, -2.0, 0.5],
        };
        r.active_area = Rect::new(1, 1, 21, 3);
        r.default_crop = Rect::new(0, 0, 21, 3);
        let stored = Plane {
            width: w,
            height: h,
            data: data.iter().map(|&v| f32::from(v)).collect(),
        };
        for y in 0..3 {
            // 21 samples: two vectors of 8 and a remainder of 5.
            let (mut fast, mut general) = (vec![0.0; 21], vec![0.0; 21]);
            normalize_row(&r, None, y, &mut fast);
            normalize_row(&r, Some(&stored), y, &mut general);
            for (a, b) in fast.iter().zip(&general) {
                assert!(
                    (a - b).abs() <= 1e-6 * b.abs().max(1.0),
                    "row {y}: {a} vs {b}"
                );
            }
        }
    }
}
