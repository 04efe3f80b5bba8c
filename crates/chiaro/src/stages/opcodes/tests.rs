//! Tests of opcode parsing and application.

use super::*;
use crate::ErrorKind;
use crate::limits::Limits;

// The integration tests' helpers: locating the shared data, skipping visibly, hang checks.
use crate::test_common as common;

fn rggb() -> CfaPattern {
    CfaPattern::bayer("RGGB").expect("valid pattern")
}

fn plane_from(w: usize, h: usize, f: impl Fn(usize, usize) -> f32) -> Plane {
    let mut p = Plane::new(w, h);
    for y in 0..h {
        for x in 0..w {
            p.data[y * w + x] = f(y, x);
        }
    }
    p
}

fn area(top: u32, left: u32, bottom: u32, right: u32, row_pitch: u32, col_pitch: u32) -> AreaSpec {
    AreaSpec {
        top,
        left,
        bottom,
        right,
        plane: 0,
        planes: 1,
        row_pitch,
        col_pitch,
    }
}

fn apply(list: &[Opcode], values: PlaneValues, p: &mut Plane) -> Vec<String> {
    let mut warnings = Vec::new();
    apply_to_plane(list, values, p, &rggb(), &mut warnings).expect("applies");
    warnings
}

fn close(a: f32, b: f32) -> bool {
    (a - b).abs() <= 1e-5 * a.abs().max(b.abs()).max(1.0)
}

/// Bilinear interpolation written out independently of the implementation.
fn reference_gain(m: &GainMap, y: usize, x: usize, w: usize, h: usize) -> f32 {
    let pos =
        |rel: f64, o: f64, s: f64, n: u32| -> f64 { ((rel - o) / s).clamp(0.0, (n - 1) as f64) };
    let v = pos(
        (y as f64 + 0.5) / h as f64,
        m.origin_v,
        m.spacing_v,
        m.points_v,
    );
    let u = pos(
        (x as f64 + 0.5) / w as f64,
        m.origin_h,
        m.spacing_h,
        m.points_h,
    );
    let (r0, c0) = (v.floor() as usize, u.floor() as usize);
    let (r1, c1) = (
        (r0 + 1).min(m.points_v as usize - 1),
        (c0 + 1).min(m.points_h as usize - 1),
    );
    let (fv, fu) = (v - r0 as f64, u - c0 as f64);
    let e = |r: usize, c: usize| m.gains[r * m.points_h as usize + c] as f64;
    let top = e(r0, c0) * (1.0 - fu) + e(r0, c1) * fu;
    let bottom = e(r1, c0) * (1.0 - fu) + e(r1, c1) * fu;
    (top * (1.0 - fv) + bottom * fv) as f32
}

fn sample_gain_map(a: AreaSpec) -> GainMap {
    GainMap {
        area: a,
        points_v: 3,
        points_h: 4,
        spacing_v: 0.5,
        spacing_h: 1.0 / 3.0,
        origin_v: 0.0,
        origin_h: 0.0,
        map_planes: 1,
        gains: vec![
            1.0, 1.5, 2.0, 2.5, //
            1.2, 1.0, 1.1, 1.7, //
            3.0, 2.0, 1.0, 0.5,
        ],
    }
}

#[test]
fn gain_map_scales_pixels_by_interpolated_gain() {
    let (w, h) = (20, 14);
    let m = sample_gain_map(AreaSpec::whole(1));
    let mut p = plane_from(w, h, |_, _| 0.5);
    apply(
        &[Opcode::GainMap(m.clone())],
        PlaneValues::Normalized,
        &mut p,
    );
    for y in 0..h {
        for x in 0..w {
            let want = 0.5 * reference_gain(&m, y, x, w, h);
            assert!(
                close(p.at(y, x), want),
                "({y},{x}): {} vs {want}",
                p.at(y, x)
            );
        }
    }
    // The map corners sit at the image corners, so the corner pixels are near the corner
    // gains (the corner pixel centres are half a pixel in).
    assert!((p.at(0, 0) - 0.5).abs() < 0.03);
    assert!((p.at(h - 1, w - 1) - 0.25).abs() < 0.07);
}

#[test]
fn gain_map_is_held_constant_beyond_its_first_and_last_points() {
    let (w, h) = (40, 8);
    let m = GainMap {
        area: AreaSpec::whole(1),
        points_v: 1,
        points_h: 2,
        spacing_v: 1.0,
        spacing_h: 0.5,
        origin_v: 0.0,
        origin_h: 0.25,
        map_planes: 1,
        gains: vec![2.0, 4.0],
    };
    let mut p = plane_from(w, h, |_, _| 1.0);
    apply(&[Opcode::GainMap(m)], PlaneValues::Normalized, &mut p);
    for y in 0..h {
        for x in 0..10 {
            assert_eq!(p.at(y, x), 2.0, "left of the origin");
        }
        for x in 30..40 {
            assert_eq!(p.at(y, x), 4.0, "right of the last point");
        }
        // Column 20 has its centre at 20.5 / 40 = 0.5125: 0.525 of the way.
        assert!(close(p.at(y, 20), 2.0 + 2.0 * 0.525));
    }
}

#[test]
fn gain_maps_per_cfa_site_scale_only_their_site() {
    // Four maps as phones write them: Planes = 1, pitch 2, one CFA site each.
    let (w, h) = (12, 10);
    let list: Vec<Opcode> = (0..4)
        .map(|s| {
            Opcode::GainMap(GainMap {
                area: area(s / 2, s % 2, h as u32, w as u32, 2, 2),
                points_v: 2,
                points_h: 2,
                spacing_v: 1.0,
                spacing_h: 1.0,
                origin_v: 0.0,
                origin_h: 0.0,
                map_planes: 1,
                gains: vec![1.0 + s as f32; 4],
            })
        })
        .collect();
    let mut p = plane_from(w, h, |_, _| 0.25);
    apply(&list, PlaneValues::Normalized, &mut p);
    for y in 0..h {
        for x in 0..w {
            let site = (y % 2) * 2 + x % 2;
            assert_eq!(p.at(y, x), 0.25 * (1.0 + site as f32), "({y},{x})");
        }
    }
}

#[test]
fn gain_map_area_limits_rows_columns_and_planes() {
    let (w, h) = (10, 10);
    let m = GainMap {
        area: area(2, 3, 7, 9, 2, 3),
        points_v: 1,
        points_h: 1,
        spacing_v: 1.0,
        spacing_h: 1.0,
        origin_v: 0.0,
        origin_h: 0.0,
        map_planes: 1,
        gains: vec![2.0],
    };
    let mut p = plane_from(w, h, |_, _| 1.0);
    apply(&[Opcode::GainMap(m.clone())], PlaneValues::Stored, &mut p);
    for y in 0..h {
        for x in 0..w {
            let sel = [2, 4, 6].contains(&y) && [3, 6].contains(&x);
            assert_eq!(p.at(y, x), if sel { 2.0 } else { 1.0 }, "({y},{x})");
        }
    }
    // A map for plane 1 does not touch a single-plane CFA image.
    let mut other = m;
    other.area.plane = 1;
    let mut p = plane_from(w, h, |_, _| 1.0);
    apply(&[Opcode::GainMap(other)], PlaneValues::Stored, &mut p);
    assert!(p.data.iter().all(|&v| v == 1.0));
}

#[test]
fn vignette_gain_grows_with_normalised_radius() {
    let (w, h) = (41, 21);
    let k = [0.5, 0.25, 0.0, 0.0, 0.0];
    let op = Opcode::FixVignetteRadial {
        k,
        cx: 0.5,
        cy: 0.5,
    };
    let mut p = plane_from(w, h, |_, _| 1.0);
    apply(&[op], PlaneValues::Normalized, &mut p);
    // Centre pixel: r = 0.
    assert!(close(p.at(10, 20), 1.0));
    // A pixel: r^2 = (dx^2 + dy^2) / (20.5^2 + 10.5^2).
    let (y, x) = (3usize, 35usize);
    let r2 = ((x as f64 + 0.5 - 20.5).powi(2) + (y as f64 + 0.5 - 10.5).powi(2))
        / (20.5f64.powi(2) + 10.5f64.powi(2));
    let want = 1.0 + 0.5 * r2 + 0.25 * r2 * r2;
    assert!(close(p.at(y, x), want as f32), "{} vs {want}", p.at(y, x));
    // Symmetric about the centre, largest at the corners.
    assert!(close(p.at(0, 0), p.at(h - 1, w - 1)));
    assert!(p.at(0, 0) > 1.68 && p.at(0, 0) < 1.71);
}

#[test]
fn vignette_off_centre_uses_the_farthest_corner() {
    let (w, h) = (10, 10);
    let op = Opcode::FixVignetteRadial {
        k: [1.0, 0.0, 0.0, 0.0, 0.0],
        cx: 0.0,
        cy: 0.0,
    };
    let mut p = plane_from(w, h, |_, _| 1.0);
    apply(&[op], PlaneValues::Normalized, &mut p);
    // Radius = hypot(10, 10); the far corner's centre is at (9.5, 9.5).
    let r2 = (9.5f64 * 9.5 * 2.0) / 200.0;
    assert!(close(p.at(9, 9), (1.0 + r2) as f32));
    assert!(close(p.at(0, 0), (1.0 + 0.5 / 200.0) as f32));
}

#[test]
fn bad_pixel_constant_is_replaced_by_same_colour_neighbours() {
    let (w, h) = (12, 12);
    // Each colour has its own level plus a gradient so averages are recognisable.
    let base = |y: usize, x: usize| {
        let c = rggb().color(y, x) as f32;
        1000.0 * (c + 1.0) + (y * 3 + x) as f32
    };
    let mut p = plane_from(w, h, base);
    let bad = [(4usize, 4usize), (4, 5), (7, 6), (0, 0), (11, 11)];
    for &(y, x) in &bad {
        p.data[y * w + x] = 0.0;
    }
    let list = [Opcode::FixBadPixelsConstant {
        constant: 0,
        bayer_phase: 0,
    }];
    apply(&list, PlaneValues::Stored, &mut p);
    // Red (4,4): the four reds two away.
    let red = (base(2, 4) + base(6, 4) + base(4, 2) + base(4, 6)) / 4.0;
    assert!(close(p.at(4, 4), red));
    // Green (4,5) and (7,6): the four diagonal greens.
    let g = |y: usize, x: usize| {
        (base(y - 1, x - 1) + base(y - 1, x + 1) + base(y + 1, x - 1) + base(y + 1, x + 1)) / 4.0
    };
    assert!(close(p.at(4, 5), g(4, 5)));
    assert!(close(p.at(7, 6), g(7, 6)));
    // Corners: only the neighbours inside the image.
    assert!(close(p.at(0, 0), (base(2, 0) + base(0, 2)) / 2.0));
    assert!(close(p.at(11, 11), (base(9, 11) + base(11, 9)) / 2.0));
    // Nothing else changed.
    for y in 0..h {
        for x in 0..w {
            if !bad.contains(&(y, x)) {
                assert_eq!(p.at(y, x), base(y, x));
            }
        }
    }
}

#[test]
fn bad_pixel_constant_falls_back_to_farther_ring_when_neighbours_are_bad() {
    let (w, h) = (12, 12);
    let mut p = plane_from(w, h, |_, _| 50.0);
    // A red pixel whose four nearest reds are bad too.
    for (y, x) in [(6usize, 6usize), (4, 6), (8, 6), (6, 4), (6, 8)] {
        p.data[y * w + x] = 7.0;
    }
    let list = [Opcode::FixBadPixelsConstant {
        constant: 7,
        bayer_phase: 0,
    }];
    apply(&list, PlaneValues::Stored, &mut p);
    assert!(p.data.iter().all(|&v| v == 50.0));
}

#[test]
fn bad_pixel_list_fixes_points_and_rectangles() {
    let (w, h) = (16, 12);
    let base = |y: usize, x: usize| 100.0 * (rggb().color(y, x) as f32 + 1.0);
    let mut p = plane_from(w, h, base);
    // Garbage in a bad column (rect) and at two points.
    for y in 0..h {
        p.data[y * w + 7] = 9999.0;
    }
    p.data[3 * w + 2] = -5.0;
    p.data[10 * w + 13] = 1e6;
    let list = [Opcode::FixBadPixelsList {
        bayer_phase: 0,
        points: vec![[3, 2], [10, 13], [500, 500]],
        rects: vec![[0, 7, 12, 8], [u32::MAX - 1, 0, u32::MAX, 5]],
    }];
    apply(&list, PlaneValues::Normalized, &mut p);
    for y in 0..h {
        for x in 0..w {
            assert!(close(p.at(y, x), base(y, x)), "({y},{x}) = {}", p.at(y, x));
        }
    }
}

#[test]
fn huge_bad_rectangle_lists_stay_fast() {
    let (w, h) = (64, 64);
    let mut p = plane_from(w, h, |_, _| 3.0);
    let rects = vec![[0, 0, u32::MAX, u32::MAX]; 200_000];
    let list = [Opcode::FixBadPixelsList {
        bayer_phase: 0,
        points: vec![],
        rects,
    }];
    // A hang check, not a timing (timings belong in the benchmark): the limit is generous, far
    // above what clipping the rectangles to the plane costs even in a debug build on a busy
    // machine; only a hang or walking each rectangle's full u32 extent would exceed it.
    let p = common::finishes_within(
        std::time::Duration::from_secs(120),
        "200000 huge bad rectangles",
        move || {
            apply(&list, PlaneValues::Stored, &mut p);
            p
        },
    );
    // Everything is bad: nothing to interpolate from, values are left alone.
    assert!(p.data.iter().all(|&v| v == 3.0));
}

#[test]
fn map_polynomial_reads_stored_values_as_fractions_of_65535() {
    let coefficients = vec![0.0, 2.0, 0.5];
    let op = Opcode::MapPolynomial {
        area: AreaSpec::whole(1),
        coefficients,
    };
    let mut stored = plane_from(4, 2, |_, x| 6553.5 * x as f32);
    apply(std::slice::from_ref(&op), PlaneValues::Stored, &mut stored);
    let mut norm = plane_from(4, 2, |_, x| 0.1 * x as f32);
    apply(&[op], PlaneValues::Normalized, &mut norm);
    for x in 0..4 {
        let v = 0.1 * x as f64;
        let want = 2.0 * v + 0.5 * v * v;
        assert!(close(norm.at(1, x), want as f32));
        assert!(close(stored.at(1, x), (want * 65535.0) as f32));
    }
}

#[test]
fn map_table_maps_16_bit_values_and_clamps_to_last_entry() {
    let table: Vec<u16> = (0..1024u32).map(|i| (i * 2) as u16).collect();
    let op = Opcode::MapTable {
        area: AreaSpec::whole(1),
        table,
    };
    let mut stored = plane_from(3, 1, |_, x| [10.0, 1023.0, 5000.0][x]);
    apply(std::slice::from_ref(&op), PlaneValues::Stored, &mut stored);
    assert_eq!(stored.data, vec![20.0, 2046.0, 2046.0]);
    let mut norm = plane_from(2, 1, |_, x| [100.0 / 65535.0, 1.0][x]);
    apply(&[op], PlaneValues::Normalized, &mut norm);
    assert!(close(norm.at(0, 0), 200.0 / 65535.0));
    assert!(close(norm.at(0, 1), 2046.0 / 65535.0));
}

#[test]
fn per_row_and_per_column_deltas_and_scales_follow_the_pitch() {
    let (w, h) = (6, 6);
    let a = area(1, 0, 6, 6, 2, 1);
    let list = [
        Opcode::DeltaPerRow {
            area: a,
            deltas: vec![1.0, 2.0, 3.0],
        },
        Opcode::ScalePerColumn {
            area: area(0, 1, 6, 6, 1, 2),
            scales: vec![10.0, 20.0, 30.0],
        },
    ];
    let mut p = plane_from(w, h, |_, _| 1.0);
    apply(&list, PlaneValues::Stored, &mut p);
    for y in 0..h {
        for x in 0..w {
            let d = match y {
                1 => 1.0,
                3 => 2.0,
                5 => 3.0,
                _ => 0.0,
            };
            let s = match x {
                1 => 10.0,
                3 => 20.0,
                5 => 30.0,
                _ => 1.0,
            };
            assert_eq!(p.at(y, x), (1.0 + d) * s, "({y},{x})");
        }
    }
    let list = [
        Opcode::DeltaPerColumn {
            area: area(0, 0, 2, 3, 1, 1),
            deltas: vec![0.5, 0.25, 0.125],
        },
        Opcode::ScalePerRow {
            area: area(0, 0, 2, 3, 1, 1),
            scales: vec![2.0, 4.0],
        },
    ];
    let mut p = plane_from(4, 3, |_, _| 0.0);
    apply(&list, PlaneValues::Normalized, &mut p);
    assert_eq!(
        p.data,
        vec![1.0, 0.5, 0.25, 0.0, 2.0, 1.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0]
    );
}

#[test]
fn unsupported_opcodes_only_warn() {
    let list = [
        Opcode::Unsupported {
            id: 15,
            optional: true,
        },
        Opcode::Unsupported {
            id: 77,
            optional: false,
        },
        Opcode::TrimBounds {
            top: 0,
            left: 0,
            bottom: 2,
            right: 2,
        },
    ];
    let mut p = plane_from(4, 4, |y, x| (y * 4 + x) as f32);
    let before = p.clone();
    let w = apply(&list, PlaneValues::Stored, &mut p);
    assert_eq!(p, before);
    // TrimBounds is a crop, which prepare applies: no warning here.
    assert_eq!(w.len(), 2);
    assert!(w[0].contains("id 15"), "{w:?}");
    let names = unsupported_in_rgb(&list);
    assert_eq!(names.len(), 2);
    assert!(names[1].contains("77"));
}

/// One of each per-pixel opcode, with areas that cut across tiles.
fn rgb_list(w: usize, h: usize) -> Vec<Opcode> {
    let mut gm = sample_gain_map(AreaSpec {
        plane: 0,
        planes: 3,
        ..area(1, 2, h as u32 - 3, w as u32 - 1, 1, 1)
    });
    gm.map_planes = 3;
    gm.gains = (0..gm.points_v * gm.points_h * 3)
        .map(|i| 1.0 + (i % 7) as f32 * 0.1)
        .collect();
    let sub = |plane| AreaSpec {
        plane,
        planes: 1,
        ..area(3, 5, h as u32, w as u32 - 2, 3, 2)
    };
    let rows = sub(1).row_count() as usize;
    let cols = sub(2).col_count() as usize;
    vec![
        Opcode::FixVignetteRadial {
            k: [0.3, -0.1, 0.05, 0.0, 0.0],
            cx: 0.45,
            cy: 0.6,
        },
        Opcode::GainMap(gm),
        Opcode::MapPolynomial {
            area: sub(0),
            coefficients: vec![0.01, 0.9, 0.1],
        },
        Opcode::DeltaPerRow {
            area: sub(1),
            deltas: (0..rows).map(|i| i as f32 * 0.01).collect(),
        },
        Opcode::ScalePerColumn {
            area: sub(2),
            scales: (0..cols).map(|i| 1.0 + i as f32 * 0.02).collect(),
        },
        Opcode::MapTable {
            area: AreaSpec::whole(3),
            table: (0..=65535u32).map(|i| (i / 2 + 1000) as u16).collect(),
        },
        Opcode::Unsupported {
            id: 15,
            optional: true,
        },
    ]
}

#[test]
fn rgb_tiles_match_whole_image_without_seams() {
    let (w, h) = (37, 29);
    let list = rgb_list(w, h);
    let image: Vec<f32> = (0..w * h * 3)
        .map(|i| ((i * 7919) % 1000) as f32 / 1300.0)
        .collect();
    let mut whole = image.clone();
    apply_to_rgb_tile(&list, &mut whole, Rect::new(0, 0, w, h), w, h);
    assert_ne!(whole, image);
    for (tw, th) in [(8usize, 8usize), (5, 7), (16, 3), (1, 1)] {
        let mut tiled = vec![0.0f32; w * h * 3];
        for ty in (0..h).step_by(th) {
            for tx in (0..w).step_by(tw) {
                let r = Rect::new(tx, ty, tw.min(w - tx), th.min(h - ty));
                let mut tile = Vec::with_capacity(r.width * r.height * 3);
                for y in r.y..r.bottom() {
                    tile.extend_from_slice(&image[(y * w + r.x) * 3..(y * w + r.right()) * 3]);
                }
                apply_to_rgb_tile(&list, &mut tile, r, w, h);
                for (j, y) in (r.y..r.bottom()).enumerate() {
                    tiled[(y * w + r.x) * 3..(y * w + r.right()) * 3]
                        .copy_from_slice(&tile[j * r.width * 3..(j + 1) * r.width * 3]);
                }
            }
        }
        assert_eq!(tiled, whole, "tiles of {tw}x{th}");
    }
}

#[test]
fn rgb_tile_matches_plane_application_per_channel() {
    let (w, h) = (23, 17);
    let list = rgb_list(w, h);
    let image: Vec<f32> = (0..w * h * 3).map(|i| (i % 97) as f32 / 100.0).collect();
    let mut rgb = image.clone();
    apply_to_rgb_tile(&list, &mut rgb, Rect::new(0, 0, w, h), w, h);
    // Channel 0 of the RGB result equals the plane result for opcodes on plane 0.
    let mut p = Plane {
        width: w,
        height: h,
        data: image.iter().step_by(3).copied().collect(),
    };
    apply(&list, PlaneValues::Normalized, &mut p);
    let ch0: Vec<f32> = rgb.iter().step_by(3).copied().collect();
    assert_eq!(ch0, p.data);
}

fn all_kinds() -> Vec<Opcode> {
    let mut list = rgb_list(40, 30);
    list.retain(|op| !matches!(op, Opcode::MapTable { .. }));
    list.extend([
        Opcode::MapTable {
            area: area(0, 0, 10, 10, 1, 1),
            table: vec![1, 2, 3, 65535],
        },
        Opcode::FixBadPixelsConstant {
            constant: 0,
            bayer_phase: 1,
        },
        Opcode::FixBadPixelsList {
            bayer_phase: 2,
            points: vec![[1, 2], [3, 4]],
            rects: vec![[5, 6, 7, 8]],
        },
        Opcode::TrimBounds {
            top: 1,
            left: 2,
            bottom: 30,
            right: 40,
        },
        Opcode::DeltaPerColumn {
            area: area(0, 0, 4, 9, 1, 4),
            deltas: vec![0.5, -0.5, 1.0],
        },
        Opcode::ScalePerRow {
            area: area(2, 0, 9, 9, 3, 1),
            scales: vec![1.5, 2.5, 3.5],
        },
        Opcode::WarpRectilinear(crate::raw::dng::opcodes::WarpRectilinear {
            planes: vec![WarpPlane::rectilinear([1.0, -0.02, 0.001, 0.0], [1e-4, -2e-4]); 3],
            cx: 0.5,
            cy: 0.45,
            reciprocal: false,
            second: false,
            fisheye: false,
        }),
        Opcode::WarpRectilinear(crate::raw::dng::opcodes::WarpRectilinear {
            planes: vec![WarpPlane {
                radial: std::array::from_fn(|i| if i == 0 { 1.0 } else { 1e-3 * i as f64 }),
                tangential: [1e-4, 0.0],
                valid: [0.05, 0.95],
            }],
            cx: 0.4,
            cy: 0.6,
            reciprocal: true,
            second: true,
            fisheye: false,
        }),
        Opcode::WarpRectilinear(crate::raw::dng::opcodes::WarpRectilinear {
            planes: vec![crate::raw::dng::opcodes::WarpPlane {
                radial: std::array::from_fn(|i| {
                    [1.0, 0.2, -0.01, 0.001].get(i).map_or(0.0, |k| *k)
                }),
                tangential: [0.0; 2],
                valid: [0.0, 1.0],
            }],
            cx: 0.5,
            cy: 0.45,
            reciprocal: false,
            second: false,
            fisheye: true,
        }),
        Opcode::Unsupported {
            id: 15,
            optional: false,
        },
    ]);
    list
}

#[test]
fn opcode_list_round_trips_through_serialisation() {
    let list = all_kinds();
    let bytes = serialize_list(&list);
    let parsed = parse_list(&bytes, &Limits::default()).expect("parses");
    assert_eq!(parsed, list);
    for op in &parsed {
        assert!(!describe(op).is_empty());
    }
}

#[test]
fn truncated_opcode_list_is_an_error() {
    let bytes = serialize_list(&all_kinds());
    for cut in 0..bytes.len() {
        let r = parse_list(&bytes[..cut], &Limits::default());
        assert!(r.is_err(), "cut at {cut} of {} parsed", bytes.len());
    }
}

#[test]
fn hostile_counts_and_sizes_are_errors() {
    let l = Limits::default();
    // A list claiming four billion opcodes.
    assert!(parse_list(&[0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0], &l).is_err());
    // An opcode claiming a 4 GB payload.
    let mut b = vec![0, 0, 0, 1, 0, 0, 0, 9, 1, 3, 0, 0, 0, 0, 0, 0];
    b.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0xF0]);
    assert!(parse_list(&b, &l).is_err());
    // A gain map claiming 65535 x 65535 points in a small payload.
    let gm = Opcode::GainMap(GainMap {
        area: AreaSpec::whole(1),
        points_v: 2,
        points_h: 2,
        spacing_v: 1.0,
        spacing_h: 1.0,
        origin_v: 0.0,
        origin_h: 0.0,
        map_planes: 1,
        gains: vec![1.0; 4],
    });
    let mut b = serialize_list(&[gm]);
    let points_at = 4 + 16 + 32;
    b[points_at..points_at + 8].copy_from_slice(&[0, 0, 0xFF, 0xFF, 0, 0, 0xFF, 0xFF]);
    assert_eq!(
        parse_list(&b, &l).expect_err("huge map").kind(),
        ErrorKind::Decode
    );
    // Bad-pixel counts whose byte size overflows 32 bits.
    let bp = Opcode::FixBadPixelsList {
        bayer_phase: 0,
        points: vec![],
        rects: vec![],
    };
    let mut b = serialize_list(&[bp]);
    b[24..28].copy_from_slice(&[0x20, 0, 0, 0]);
    b[28..32].copy_from_slice(&[0x10, 0, 0, 0]);
    assert!(parse_list(&b, &l).is_err());
    // MapTable with too many entries, degree-9 polynomial, zero pitch.
    let mt = serialize_list(&[Opcode::MapTable {
        area: AreaSpec::whole(1),
        table: vec![0; 65537],
    }]);
    assert!(parse_list(&mt, &l).is_err());
    let mp = serialize_list(&[Opcode::MapPolynomial {
        area: AreaSpec::whole(1),
        coefficients: vec![0.0; 10],
    }]);
    assert!(parse_list(&mp, &l).is_err());
    let zp = serialize_list(&[Opcode::ScalePerRow {
        area: area(0, 0, 4, 4, 0, 1),
        scales: vec![1.0; 4],
    }]);
    assert!(parse_list(&zp, &l).is_err());
    // Per-row values that do not match the area.
    let wrong = serialize_list(&[Opcode::DeltaPerRow {
        area: area(0, 0, 4, 4, 1, 1),
        deltas: vec![1.0; 3],
    }]);
    assert!(parse_list(&wrong, &l).is_err());
    // Non-finite gains.
    let nan = serialize_list(&[Opcode::ScalePerColumn {
        area: area(0, 0, 1, 1, 1, 1),
        scales: vec![f32::NAN],
    }]);
    assert!(parse_list(&nan, &l).is_err());
    // Tight limits refuse a large map that is otherwise valid.
    let big = serialize_list(&[Opcode::GainMap(GainMap {
        area: AreaSpec::whole(1),
        points_v: 100,
        points_h: 100,
        spacing_v: 0.01,
        spacing_h: 0.01,
        origin_v: 0.0,
        origin_h: 0.0,
        map_planes: 1,
        gains: vec![1.0; 10_000],
    })]);
    let tight = Limits {
        max_alloc_bytes: 1000,
        ..Limits::default()
    };
    assert_eq!(
        parse_list(&big, &tight).expect_err("limits").kind(),
        ErrorKind::Limits
    );
}

#[test]
fn random_garbage_lists_never_panic() {
    let bytes = serialize_list(&all_kinds());
    let mut s = 12345u64;
    let mut next = || {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
        (s >> 33) as usize
    };
    for _ in 0..3000 {
        let mut b = bytes.clone();
        for _ in 0..1 + next() % 4 {
            let i = next() % b.len();
            b[i] = next() as u8;
        }
        if let Ok(list) = parse_list(&b, &Limits::default()) {
            let mut p = plane_from(16, 12, |y, x| (y * 16 + x) as f32);
            let mut warnings = Vec::new();
            let _ = apply_to_plane(&list, PlaneValues::Stored, &mut p, &rggb(), &mut warnings);
            let mut tile = vec![0.5f32; 4 * 4 * 3];
            apply_to_rgb_tile(&list, &mut tile, Rect::new(4, 4, 4, 4), 16, 12);
        }
    }
}

/// Test-only TIFF walk: the bytes of tag `tag` in IFD0 of a little-endian TIFF.
fn ifd0_tag(f: &[u8], tag: u16) -> Option<&[u8]> {
    if f.get(..2)? != b"II" {
        return None;
    }
    let u16_at = |p: usize| Some(u16::from_le_bytes([*f.get(p)?, *f.get(p + 1)?]));
    let u32_at = |p: usize| {
        let b = f.get(p..p + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let ifd = u32_at(4)?;
    for i in 0..u16_at(ifd)? as usize {
        let e = ifd + 2 + 12 * i;
        if u16_at(e)? == tag {
            let count = u32_at(e + 4)?;
            let off = if count <= 4 { e + 8 } else { u32_at(e + 8)? };
            return f.get(off..off + count);
        }
    }
    None
}

/// The 12 MP phone DNG of the shared data.
fn phone_dng(data: &std::path::Path) -> Vec<u8> {
    let path = data.join("raw/phone_synth_lgg4_4200k_4032x3024.dng");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn phone_dng_opcode_list2_has_four_per_site_gain_maps() {
    let f = phone_dng(&common::require_data!());
    let bytes = ifd0_tag(&f, 51009).expect("OpcodeList2 present");
    let list = parse_list(bytes, &Limits::default()).expect("parses");
    assert_eq!(list.len(), 4);
    let mut sites = Vec::new();
    for op in &list {
        let Opcode::GainMap(m) = op else {
            panic!("expected a GainMap, got {op:?}");
        };
        assert_eq!((m.area.row_pitch, m.area.col_pitch), (2, 2));
        assert_eq!((m.area.plane, m.area.planes, m.map_planes), (0, 1, 1));
        assert_eq!((m.area.bottom, m.area.right), (3024, 4032));
        assert!(m.points_v >= 2 && m.points_h >= 2);
        let span_v = m.origin_v + m.spacing_v * (m.points_v - 1) as f64;
        let span_h = m.origin_h + m.spacing_h * (m.points_h - 1) as f64;
        assert!((span_v - 1.0).abs() < 1e-6 && (span_h - 1.0).abs() < 1e-6);
        let (lo, hi) = m
            .gains
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &g| (a.min(g), b.max(g)));
        assert!(lo >= 1.0 && hi > 1.2 && hi < 3.0, "gains {lo}..{hi}");
        sites.push((m.area.top, m.area.left));
        eprintln!("{}", describe(op));
    }
    sites.sort_unstable();
    assert_eq!(sites, vec![(0, 0), (0, 1), (1, 0), (1, 1)]);
    // Lens shading: gains rise from the centre to the corners.
    let mut p = plane_from(4032, 3024, |_, _| 0.1);
    apply(&list, PlaneValues::Normalized, &mut p);
    assert!(p.at(0, 0) > p.at(1512, 2016) * 1.2);
    assert!((p.at(1512, 2016) - 0.1).abs() < 0.01);
}

/// Speed of the phone DNG's four gain maps on a 12 MP plane (run with `--ignored
/// --nocapture` in release): the best of ten runs.
#[test]
#[ignore]
fn bench_phone_gain_maps() {
    let f = phone_dng(&common::require_data!());
    let list = parse_list(ifd0_tag(&f, 51009).expect("tag"), &Limits::default()).expect("list");
    let mut p = plane_from(4032, 3024, |_, _| 0.1);
    let mut best = f64::MAX;
    for _ in 0..10 {
        let t = std::time::Instant::now();
        apply(&list, PlaneValues::Normalized, &mut p);
        best = best.min(t.elapsed().as_secs_f64());
    }
    eprintln!("4 gain maps on 12 MP: {:.1} ms (best of 10)", best * 1e3);
}
