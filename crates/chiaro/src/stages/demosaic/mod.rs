//! Demosaicing: rebuilds full RGB from a colour filter array (CFA) mosaic.
//!
//! Seven methods:
//!
//! | method        | patterns | halo | Kodak sRGB / linear | saturated | notes                    |
//! |---------------|----------|------|---------------------|-----------|--------------------------|
//! | `bilinear`    | any      | 2    | 30.24 / 29.86 dB    | 31.14 dB  | 3x3 average; fallback    |
//! | `malvar`      | Bayer    | 2    | 35.78 / 31.58 dB    | 28.26 dB  | gradient-corrected 5x5   |
//! | `rcd`         | Bayer    | 16   | 40.49 / 35.08 dB    | 28.15 dB  | directional, refined     |
//! | `mlri`        | Bayer    | 42   | 38.77 / 36.36 dB    | 32.07 dB  | residual interpolation   |
//! | `rcd-fit`     | Bayer    | 30   | 40.44 / 38.01 dB    | 35.15 dB  | fitted slopes; default   |
//! | `xtrans-fast` | X-Trans  | 10   | 37.56 / 32.40 dB    | (21.73)   | normalised convolutions  |
//! | `markesteijn` | X-Trans  | 14   | 38.50 / 33.44 dB    | (23.50)   | four directions, refined |
//!
//! (Kodak: mean CPSNR over the 24 images, RGGB, or X-Trans for the X-Trans methods (where
//! bilinear gets 29.56 dB), demosaiced on the sRGB code values / on linear light, the
//! pipeline's domain; protocol in `tests/demosaic_kodak.rs`. Saturated: chiaro's own
//! validation set `lab::saturated`, compared in linear light, `tests/demosaic_saturated.rs`;
//! in brackets the X-Trans figures of `lab demosaic --cfa xtrans --domain linear`, which
//! compares in sRGB, where bilinear gets 28.46 dB: both X-Trans methods borrow detail across
//! channels at full strength and lose there, as RCD does on Bayer.)
//!
//! A method that does not fit the pattern is swapped for one that does
//! ([`DemosaicMethod::for_pattern`]), so a recipe asking for `rcd` develops X-Trans files too.
//!
//! # Borders and tiles
//!
//! Every method sees the mosaic through a padded window: Bayer mosaics are mirrored about the
//! edge samples (which keeps the colour of every mirrored site right), X-Trans mosaics are
//! extended with a mirrored bilinear estimate. So edges get the full method rather than a cheap
//! fallback, and a result at distance `d` from an edge only depends on samples within the
//! method's reach of it. [`DemosaicMethod::halo`] is that reach: the pipeline cuts tiles with
//! that much overlap and a tiled run equals a whole-image run sample for sample. Large calls are
//! split into tiles internally for the same reason (bounded memory, cache-sized work sets).
//!
//! Images narrower or shorter than 2 samples always use `bilinear`.
//!
//! # Units
//!
//! Input: normalised, white-balanced linear sensor values (0 = black, about 1 = white, may
//! exceed 1, never clipped here). Output: the same units per channel. Values a method
//! overshoots below 0 are clamped to 0; nothing is clamped above.
//!
//! # References
//!
//! Each method's module cites its paper. B. K. Gunturk, J. Glotzbach, Y. Altunbasak,
//! R. W. Schafer, R. M. Mersereau, "Demosaicking: color filter array interpolation", IEEE Signal
//! Processing Magazine 22(1), 2005: survey, and the Kodak CPSNR protocol.

mod bilinear;
mod malvar;
mod markesteijn;
mod mlri;
mod rcd;
mod stage;
mod xtrans_fast;

pub use stage::Demosaic;

use crate::error::{Error, Result};
use crate::image::Rect;
use crate::raw::cfa::CfaPattern;

/// How a mosaic is turned into RGB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DemosaicMethod {
    /// Normalised average of the same-colour sites in the 3x3 neighbourhood; any pattern.
    Bilinear,
    /// Malvar-He-Cutler gradient-corrected linear interpolation; Bayer only.
    Malvar,
    /// Ratio Corrected Demosaicing (Sanz Rodríguez) with Hamilton-Adams green estimates and a
    /// colour-difference refinement pass; Bayer only.
    Rcd,
    /// Minimized-Laplacian residual interpolation (Kiku et al. 2014) with GBTF direction
    /// weights: a local linear fit between channels instead of borrowing another channel's
    /// Laplacian, so no maze where colours are saturated; Bayer only.
    Mlri,
    /// RCD whose colour corrections are scaled by cross-channel slopes fitted in every
    /// window: RCD's detail where channels agree, no maze where they do not; Bayer only. The
    /// default.
    #[default]
    RcdFit,
    /// Markesteijn's directional, homogeneity-selected interpolation; X-Trans only.
    Markesteijn,
    /// Directional normalised convolutions and colour differences: X-Trans at several times
    /// Markesteijn's speed.
    XtransFast,
}

impl DemosaicMethod {
    /// Every method: the cheap ones first, then the directional Bayer methods, then X-Trans.
    pub const ALL: [DemosaicMethod; 7] = [
        DemosaicMethod::Bilinear,
        DemosaicMethod::Malvar,
        DemosaicMethod::Rcd,
        DemosaicMethod::Mlri,
        DemosaicMethod::RcdFit,
        DemosaicMethod::XtransFast,
        DemosaicMethod::Markesteijn,
    ];

    /// Parses a recipe name: `bilinear`, `malvar`, `rcd`, `mlri`, `rcd-fit`, `markesteijn` or
    /// `default` (`rcd-fit`).
    pub fn from_name(name: &str) -> Result<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "bilinear" => Ok(DemosaicMethod::Bilinear),
            "malvar" => Ok(DemosaicMethod::Malvar),
            "rcd" => Ok(DemosaicMethod::Rcd),
            "markesteijn" => Ok(DemosaicMethod::Markesteijn),
            "xtrans-fast" => Ok(DemosaicMethod::XtransFast),
            "mlri" => Ok(DemosaicMethod::Mlri),
            "rcd-fit" | "default" => Ok(DemosaicMethod::RcdFit),
            _ => Err(Error::parameter(format!(
                "unknown demosaic method '{name}' (expected bilinear, malvar, rcd, mlri, rcd-fit or markesteijn)"
            ))),
        }
    }

    /// The recipe name, the inverse of [`DemosaicMethod::from_name`].
    pub fn name(self) -> &'static str {
        match self {
            DemosaicMethod::Bilinear => "bilinear",
            DemosaicMethod::Malvar => "malvar",
            DemosaicMethod::Rcd => "rcd",
            DemosaicMethod::Mlri => "mlri",
            DemosaicMethod::RcdFit => "rcd-fit",
            DemosaicMethod::Markesteijn => "markesteijn",
            DemosaicMethod::XtransFast => "xtrans-fast",
        }
    }

    /// Border in pixels the method needs from neighbouring tiles so that a tiled run equals a
    /// whole-image run in the tile interior.
    ///
    /// Ask the method [`DemosaicMethod::for_pattern`] returns: a Bayer-only method given an
    /// X-Trans pattern runs as Markesteijn and needs Markesteijn's halo.
    ///
    /// # Units
    ///
    /// Samples, the same on all four sides.
    pub fn halo(self) -> usize {
        match self {
            DemosaicMethod::Bilinear => bilinear::HALO,
            DemosaicMethod::Malvar => malvar::HALO,
            DemosaicMethod::Rcd => rcd::HALO,
            DemosaicMethod::Mlri => mlri::HALO,
            DemosaicMethod::RcdFit => rcd::HALO_FIT,
            DemosaicMethod::Markesteijn => markesteijn::HALO,
            DemosaicMethod::XtransFast => xtrans_fast::HALO,
        }
    }

    /// The method actually used for `pattern`: Bayer-only methods on X-Trans fall back to
    /// Markesteijn, Markesteijn on Bayer falls back to RCD, and any pattern that is neither
    /// Bayer nor a 6x6 layout Markesteijn can handle gets bilinear.
    pub fn for_pattern(self, pattern: &CfaPattern) -> Self {
        let bayer = pattern.is_bayer();
        let xtrans = !bayer && markesteijn::supports(pattern);
        match self {
            DemosaicMethod::Bilinear => DemosaicMethod::Bilinear,
            DemosaicMethod::Malvar
            | DemosaicMethod::Rcd
            | DemosaicMethod::Mlri
            | DemosaicMethod::RcdFit
                if bayer =>
            {
                self
            }
            DemosaicMethod::Markesteijn | DemosaicMethod::XtransFast if bayer => {
                DemosaicMethod::RcdFit
            }
            DemosaicMethod::XtransFast if xtrans => self,
            _ if xtrans => DemosaicMethod::Markesteijn,
            _ => DemosaicMethod::Bilinear,
        }
    }
}

impl std::fmt::Display for DemosaicMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for DemosaicMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::from_name(s)
    }
}

/// Demosaics a mosaic of `width` x `height` samples into interleaved RGB (`3 * width * height`
/// values, row-major).
///
/// `method` is first passed through [`DemosaicMethod::for_pattern`]. Single-threaded: the
/// pipeline parallelises over tiles.
///
/// # Units
///
/// `cfa`: normalised, white-balanced linear sensor values (0 = black, about 1 = white, may
/// exceed 1, expected >= 0). Output: the same units per channel; the sample at each site is
/// kept as is. `pattern` is anchored at (0, 0) of this buffer.
///
/// # Errors
///
/// [`Error::parameter`] when a dimension is 0 or `cfa.len() != width * height`.
pub fn demosaic(
    method: DemosaicMethod,
    cfa: &[f32],
    width: usize,
    height: usize,
    pattern: &CfaPattern,
) -> Result<Vec<f32>> {
    let n = width
        .checked_mul(height)
        .filter(|&n| n > 0 && n.checked_mul(3).is_some())
        .ok_or_else(|| Error::parameter(format!("cannot demosaic a {width}x{height} image")))?;
    let mut out = vec![0.0f32; 3 * n];
    demosaic_region(
        method,
        cfa,
        width,
        height,
        pattern,
        Rect::new(0, 0, width, height),
        &mut out,
    )?;
    Ok(out)
}

/// Demosaics `region` of a mosaic into `out`, interleaved RGB of the region's size
/// (`3 * region.width * region.height` values). Samples outside the region are context:
/// with at least [`DemosaicMethod::halo`] of them on each side that is not an edge of the
/// mosaic, the result equals the same region of a whole-mosaic run.
///
/// # Errors
///
/// [`Error::parameter`] when the sizes do not match or the region lies outside the mosaic.
pub fn demosaic_region(
    method: DemosaicMethod,
    cfa: &[f32],
    width: usize,
    height: usize,
    pattern: &CfaPattern,
    region: Rect,
    out: &mut [f32],
) -> Result<()> {
    if width.checked_mul(height) != Some(cfa.len()) || cfa.is_empty() {
        return Err(Error::parameter(format!(
            "mosaic has {} samples, expected {width}x{height}",
            cfa.len()
        )));
    }
    if !region.fits_in(width, height)
        || region
            .width
            .checked_mul(region.height)
            .and_then(|n| n.checked_mul(3))
            != Some(out.len())
    {
        return Err(Error::parameter(format!(
            "demosaic region {region:?} does not fit a {width}x{height} mosaic and {} outputs",
            out.len()
        )));
    }
    let src = Mosaic {
        data: cfa,
        width,
        height,
        pattern,
    };
    let method = if width < 2 || height < 2 {
        DemosaicMethod::Bilinear
    } else {
        method.for_pattern(pattern)
    };
    match method {
        DemosaicMethod::Bilinear => bilinear::run(&src, region, out),
        DemosaicMethod::Malvar => malvar::run(&src, region, out),
        DemosaicMethod::Rcd => rcd::run(&src, region, out),
        DemosaicMethod::Mlri => mlri::run(&src, region, out),
        DemosaicMethod::RcdFit => rcd::run_fit(&src, region, out),
        DemosaicMethod::Markesteijn => markesteijn::run(&src, region, out),
        DemosaicMethod::XtransFast => xtrans_fast::run(&src, region, out),
    }
    Ok(())
}

/// A borrowed mosaic with its size and pattern.
#[derive(Clone, Copy)]
pub(super) struct Mosaic<'a> {
    pub data: &'a [f32],
    pub width: usize,
    pub height: usize,
    pub pattern: &'a CfaPattern,
}

impl Mosaic<'_> {
    #[inline(always)]
    fn at(&self, y: usize, x: usize) -> f32 {
        self.data[y * self.width + x]
    }
}

/// How a window is extended past the image edge.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Border {
    /// Mirror about the edge sample (`-1 -> 1`): keeps Bayer colours at mirrored sites.
    Reflect,
    /// Mirror a bilinear RGB estimate and take the channel of the virtual site's colour: works
    /// for patterns that are not symmetric under mirroring (X-Trans).
    Virtual,
}

/// Mirror index about the first and last sample (`-1 -> 1`, `n -> n - 2`), for `n >= 1`.
#[inline]
fn reflect(i: isize, n: usize) -> usize {
    if n < 2 {
        return 0;
    }
    let period = 2 * (n as isize - 1);
    let m = i.rem_euclid(period);
    if m < n as isize {
        m as usize
    } else {
        (period - m) as usize
    }
}

/// A padded copy of one tile of the mosaic: `pad` samples of context on every side.
pub(super) struct Window {
    /// `stride * rows` samples; the tile itself starts at (`pad`, `pad`).
    pub data: Vec<f32>,
    pub stride: usize,
    pub rows: usize,
    pub pad: usize,
    /// Size of the tile without padding.
    pub width: usize,
    pub height: usize,
    /// The pattern anchored at (0, 0) of `data`.
    pub pattern: CfaPattern,
}

impl Window {
    fn new() -> Self {
        Window {
            data: reuse(),
            stride: 0,
            rows: 0,
            pad: 0,
            width: 0,
            height: 0,
            pattern: CfaPattern::xtrans(),
        }
    }

    /// Fills the window for the tile at (`x0`, `y0`) of size `tw` x `th`.
    #[allow(clippy::too_many_arguments)]
    fn fill(
        &mut self,
        src: &Mosaic,
        x0: usize,
        y0: usize,
        tw: usize,
        th: usize,
        pad: usize,
        border: Border,
        fallback: &bilinear::Bilinear,
    ) {
        let stride = tw + 2 * pad;
        let rows = th + 2 * pad;
        self.stride = stride;
        self.rows = rows;
        self.pad = pad;
        self.width = tw;
        self.height = th;
        let (ph, pw) = (src.pattern.height(), src.pattern.width());
        self.pattern = src
            .pattern
            .shifted((y0 + pad * (ph - 1)) % ph, (x0 + pad * (pw - 1)) % pw);
        // Every sample is written below.
        resize_any(&mut self.data, stride * rows);
        let (w, h) = (src.width, src.height);
        // Columns of the window that fall inside the image: a straight copy.
        let left = x0 as isize - pad as isize;
        let in_lo = (-left).max(0) as usize;
        let in_hi = ((w as isize - left).min(stride as isize)).max(0) as usize;
        for j in 0..rows {
            let vy = y0 as isize - pad as isize + j as isize;
            let row = &mut self.data[j * stride..(j + 1) * stride];
            let inside_y = vy >= 0 && (vy as usize) < h;
            let sy = reflect(vy, h);
            let gaps = if inside_y && in_lo < in_hi {
                let s = (sy * w) as isize + left;
                let a = (s + in_lo as isize) as usize;
                let b = (s + in_hi as isize) as usize;
                row[in_lo..in_hi].copy_from_slice(&src.data[a..b]);
                [0..in_lo, in_hi..stride]
            } else {
                [0..stride, 0..0]
            };
            for i in gaps.into_iter().flatten() {
                let sx = reflect(left + i as isize, w);
                row[i] = match border {
                    Border::Reflect => src.at(sy, sx),
                    Border::Virtual => fallback.estimate(src, sy, sx, self.pattern.color(j, i)),
                };
            }
        }
    }
}

thread_local! {
    /// Buffers of earlier calls on this thread: the pipeline calls once per tile, and fresh
    /// multi-megabyte allocations would cost more in page faults than some of the methods.
    static POOL: std::cell::RefCell<Vec<Vec<f32>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Most buffers kept per thread (Markesteijn holds 29 at once).
const POOL_MAX: usize = 64;

/// A buffer of `n` zeros, reusing one of this thread's earlier buffers when there is one.
pub(super) fn take(n: usize) -> Vec<f32> {
    let mut v = POOL.with(|p| p.borrow_mut().pop()).unwrap_or_default();
    v.clear();
    v.resize(n, 0.0);
    v
}

/// One of this thread's earlier buffers as it was left (any length, stale samples), or an
/// empty one: for scratch that [`resize_any`] sizes and whose every sample read is written
/// first, so no pass zeroes it.
pub(super) fn reuse() -> Vec<f32> {
    POOL.with(|p| p.borrow_mut().pop()).unwrap_or_default()
}

/// Gives `v` the length `n`, keeping its stale samples: only samples past its old length are
/// zeroed; a buffer too small is replaced, not grown (growing would copy what it held).
#[inline(always)]
pub(super) fn resize_any(v: &mut Vec<f32>, n: usize) {
    if v.capacity() < n {
        *v = Vec::new();
    }
    v.resize(n, 0.0);
}

/// [`reuse`] sized by [`resize_any`].
pub(super) fn take_any(n: usize) -> Vec<f32> {
    let mut v = reuse();
    resize_any(&mut v, n);
    v
}

/// Hands a buffer from [`take`] back to this thread's pool.
pub(super) fn give(v: Vec<f32>) {
    if v.capacity() == 0 {
        return;
    }
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < POOL_MAX {
            p.push(v);
        }
    });
}

/// Reach of [`floor_locally`]: the neighbourhood whose darkest sample bounds an estimate.
pub(super) const FLOOR_REACH: usize = 2;
// `floor_locally` spells out the five taps of a reach of 2.
const _: () = assert!(FLOOR_REACH == 2);

/// Keeps estimates from undershooting the darkest mosaic sample within [`FLOOR_REACH`]
/// (and 0): non-negative data stays non-negative, while noise below black keeps its
/// (negative) mean. A fixed reach, not the whole window, so a tiled run equals a whole-image
/// run. `scratch` is a buffer of the window's size, overwritten. `#[inline(always)]` so it
/// is compiled into each dispatched version of the methods that call it.
#[inline(always)]
pub(super) fn floor_locally(
    cfa: &[f32],
    w: usize,
    h: usize,
    planes: &mut [Vec<f32>; 3],
    scratch: &mut Vec<f32>,
) {
    #[inline(always)]
    fn lower(a: f32, b: f32) -> f32 {
        if a < b { a } else { b }
    }
    let n = w * h;
    if cfa[..n].iter().all(|&v| v >= 0.0) {
        // The floor is 0 everywhere: the selects equal `f32::max` here and vectorise.
        for p in planes.iter_mut() {
            p[..n]
                .iter_mut()
                .for_each(|v| *v = if *v > 0.0 { *v } else { 0.0 });
        }
        return;
    }
    const R: usize = FLOOR_REACH;
    // Row minima over +-R (and 0) into `scratch`, then per row the minima of those over
    // +-R rows into the last `w` samples of `scratch`, which bound the three planes.
    scratch.clear();
    scratch.resize(n + w, 0.0);
    let (rows, floor) = scratch.split_at_mut(n);
    for y in 0..h {
        let src = &cfa[y * w..(y + 1) * w];
        let out = &mut rows[y * w..(y + 1) * w];
        if w > 2 * R {
            let m = w - 2 * R;
            let (a, b, c, d, e) = (&src[..m], &src[1..], &src[2..], &src[3..], &src[4..]);
            let o = &mut out[R..R + m];
            for x in 0..m {
                o[x] = lower(
                    lower(lower(a[x], b[x]), lower(c[x], d[x])),
                    lower(e[x], 0.0),
                );
            }
        }
        for x in (0..R.min(w)).chain(w.saturating_sub(R).max(R.min(w))..w) {
            let (x0, x1) = (x.saturating_sub(R), (x + R + 1).min(w));
            out[x] = src[x0..x1].iter().fold(0.0f32, |m, &v| lower(v, m));
        }
    }
    for y in 0..h {
        let (y0, y1) = (y.saturating_sub(R), (y + R + 1).min(h));
        floor.copy_from_slice(&rows[y0 * w..(y0 + 1) * w]);
        for yy in y0 + 1..y1 {
            let r = &rows[yy * w..(yy + 1) * w];
            for (f, &v) in floor.iter_mut().zip(r) {
                *f = lower(v, *f);
            }
        }
        for p in planes.iter_mut() {
            for (v, &f) in p[y * w..(y + 1) * w].iter_mut().zip(floor.iter()) {
                *v = if *v > f { *v } else { f };
            }
        }
    }
}

/// The `m` samples of `plane` starting `o` samples from `base`: shifted views of the same row
/// let the per-row loops index every neighbour with one `x`, which the compiler vectorises.
#[inline(always)]
pub(super) fn view(plane: &[f32], base: usize, o: isize, m: usize) -> &[f32] {
    let start = base.wrapping_add_signed(o);
    &plane[start..start + m]
}

/// Largest tile edge processed in one piece: keeps the work set of the heavier methods near
/// the size of a core's cache while the halo overhead stays small.
const MAX_TILE: usize = 320;

/// Start and length of the tiles covering `n` samples, of near-equal size.
fn spans(n: usize) -> impl Iterator<Item = (usize, usize)> {
    let count = n.div_ceil(MAX_TILE).max(1);
    let size = n.div_ceil(count);
    (0..count).map(move |i| (i * size, size.min(n - (i * size).min(n))))
}

/// Runs `core` on padded windows covering `region` and interleaves its planes into `out`
/// (region-sized).
///
/// `core` fills three planes (R, G, B) of the window's size; only the tile interior is used,
/// and `core` must write every sample of it (the planes come with stale samples).
fn run_tiled(
    src: &Mosaic,
    region: Rect,
    pad: usize,
    border: Border,
    out: &mut [f32],
    mut core: impl FnMut(&Window, &mut [Vec<f32>; 3]),
) {
    let fallback = bilinear::Bilinear::new(src.pattern);
    let mut win = Window::new();
    let mut planes: [Vec<f32>; 3] = [reuse(), reuse(), reuse()];
    for (y0, th) in spans(region.height) {
        let y0 = region.y + y0;
        for (x0, tw) in spans(region.width) {
            let x0 = region.x + x0;
            if tw == 0 || th == 0 {
                continue;
            }
            win.fill(src, x0, y0, tw, th, pad, border, &fallback);
            // Not zeroed: every method writes every interior sample (see below).
            for p in planes.iter_mut() {
                resize_any(p, win.stride * win.rows);
            }
            core(&win, &mut planes);
            let [r, g, b] = &planes;
            for j in 0..th {
                let s = (pad + j) * win.stride + pad;
                let o = 3 * ((y0 + j - region.y) * region.width + x0 - region.x);
                let dst = &mut out[o..o + 3 * tw];
                let (r, g, b) = (&r[s..s + tw], &g[s..s + tw], &b[s..s + tw]);
                for (((d, &r), &g), &b) in dst.chunks_exact_mut(3).zip(r).zip(g).zip(b) {
                    d[0] = r;
                    d[1] = g;
                    d[2] = b;
                }
            }
        }
    }
    give(win.data);
    for p in planes {
        give(p);
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    use crate::raw::cfa::CfaPattern;

    /// Samples an interleaved RGB image through `pattern`.
    pub fn mosaic(rgb: &[f32], w: usize, h: usize, pattern: &CfaPattern) -> Vec<f32> {
        (0..w * h)
            .map(|i| rgb[3 * i + pattern.color(i / w, i % w) as usize])
            .collect()
    }

    /// CPSNR in dB over all channels, peak 1, ignoring `border` samples on each side.
    pub fn cpsnr(a: &[f32], b: &[f32], w: usize, h: usize, border: usize) -> f64 {
        let mut se = 0.0f64;
        let mut n = 0usize;
        for y in border..h - border {
            for x in border..w - border {
                for c in 0..3 {
                    let i = 3 * (y * w + x) + c;
                    let d = f64::from(a[i]) - f64::from(b[i]);
                    se += d * d;
                    n += 1;
                }
            }
        }
        10.0 * (n as f64 / se.max(1e-30)).log10()
    }

    /// A colourful test image like natural ones: detailed luminance, slowly varying chroma.
    pub fn smooth_image(w: usize, h: usize) -> Vec<f32> {
        let mut v = Vec::with_capacity(3 * w * h);
        for y in 0..h {
            for x in 0..w {
                let (fx, fy) = (x as f32, y as f32);
                let l = 0.5
                    + 0.25 * (0.21 * fx + 0.13 * fy).sin()
                    + 0.1 * (0.17 * fy - 0.05 * fx).cos();
                v.push(l * (0.9 + 0.2 * (0.03 * fx).sin()));
                v.push(l);
                v.push(l * (0.8 + 0.3 * (0.025 * fy).cos()));
            }
        }
        v
    }

    /// How many samples differ in their bits (dispatched kernels against the baseline build).
    pub fn differing_bits(a: &[f32], b: &[f32]) -> usize {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .filter(|(x, y)| x.to_bits() != y.to_bits())
            .count()
    }

    /// Deterministic pseudo-random values in 0..1 (xorshift).
    pub fn noise(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 40) as f32 / (1u64 << 24) as f32
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;

    fn patterns() -> Vec<CfaPattern> {
        let mut v: Vec<CfaPattern> = ["RGGB", "BGGR", "GRBG", "GBRG"]
            .iter()
            .map(|n| CfaPattern::bayer(n).expect("valid"))
            .collect();
        v.push(CfaPattern::xtrans());
        v.push(CfaPattern::xtrans().shifted(1, 4));
        v
    }

    #[test]
    fn names_round_trip() {
        for m in DemosaicMethod::ALL {
            assert_eq!(DemosaicMethod::from_name(m.name()).expect("known"), m);
            assert_eq!(m.to_string(), m.name());
        }
        assert_eq!(
            DemosaicMethod::from_name("default").expect("known"),
            DemosaicMethod::default()
        );
        assert_eq!(
            DemosaicMethod::from_name(" RCD ").expect("known"),
            DemosaicMethod::Rcd
        );
        assert!(DemosaicMethod::from_name("ahd").is_err());
    }

    #[test]
    fn methods_fall_back_by_pattern() {
        let bayer = CfaPattern::bayer("RGGB").expect("valid");
        let xt = CfaPattern::xtrans();
        use DemosaicMethod::*;
        assert_eq!(Rcd.for_pattern(&xt), Markesteijn);
        assert_eq!(Malvar.for_pattern(&xt), Markesteijn);
        assert_eq!(Markesteijn.for_pattern(&bayer), RcdFit);
        assert_eq!(RcdFit.for_pattern(&xt), Markesteijn);
        assert_eq!(Bilinear.for_pattern(&xt), Bilinear);
        for m in [Malvar, Rcd, Mlri, RcdFit] {
            assert_eq!(m.for_pattern(&bayer), m);
        }
        let odd = CfaPattern::new(2, 2, &[0, 0, 1, 2]).expect("valid");
        assert_eq!(Rcd.for_pattern(&odd), Bilinear);
    }

    #[test]
    fn rcd_on_xtrans_is_markesteijn() {
        let (w, h) = (40, 36);
        let xt = CfaPattern::xtrans();
        let cfa = mosaic(&smooth_image(w, h), w, h, &xt);
        let a = demosaic(DemosaicMethod::Rcd, &cfa, w, h, &xt).expect("runs");
        let b = demosaic(DemosaicMethod::Markesteijn, &cfa, w, h, &xt).expect("runs");
        assert_eq!(a, b);
    }

    #[test]
    fn bad_sizes_are_errors() {
        let p = CfaPattern::bayer("RGGB").expect("valid");
        assert!(demosaic(DemosaicMethod::Rcd, &[0.0; 5], 2, 3, &p).is_err());
        assert!(demosaic(DemosaicMethod::Rcd, &[], 0, 3, &p).is_err());
        assert!(demosaic(DemosaicMethod::Rcd, &[], usize::MAX, 3, &p).is_err());
    }

    #[test]
    fn reflect_mirrors_about_edge_samples() {
        let got: Vec<usize> = (-4..9).map(|i| reflect(i, 5)).collect();
        assert_eq!(got, [4, 3, 2, 1, 0, 1, 2, 3, 4, 3, 2, 1, 0]);
        assert_eq!(reflect(-3, 1), 0);
        assert_eq!(reflect(-3, 2), 1);
    }

    #[test]
    fn flat_grey_is_reproduced_exactly() {
        for p in patterns() {
            for m in DemosaicMethod::ALL {
                for v in [0.25f32, 0.5, 1.75] {
                    let (w, h) = (29, 23);
                    let out = demosaic(m, &vec![v; w * h], w, h, &p).expect("runs");
                    assert!(
                        out.iter().all(|&o| o == v),
                        "{m} on {} changed a flat {v}",
                        p.name()
                    );
                }
            }
        }
    }

    #[test]
    fn flat_colour_is_reproduced() {
        // A mixed colour, and pure, saturated ones (channels at exactly 0 stay at 0).
        let colours = [
            [0.8f32, 0.35, 0.12],
            [0.9, 0.0, 0.0],
            [0.0, 0.7, 0.0],
            [0.0, 0.0, 0.6],
            [0.9, 0.0, 0.8],
        ];
        for p in patterns() {
            for m in DemosaicMethod::ALL {
                for colour in colours {
                    let (w, h) = (31, 26);
                    let rgb: Vec<f32> = (0..w * h).flat_map(|_| colour).collect();
                    let out = demosaic(m, &mosaic(&rgb, w, h, &p), w, h, &p).expect("runs");
                    let worst = out
                        .iter()
                        .zip(&rgb)
                        .map(|(a, b)| (a - b).abs())
                        .fold(0.0f32, f32::max);
                    assert!(
                        worst < 1e-5,
                        "{m} on {} {colour:?}: error {worst}",
                        p.name()
                    );
                }
            }
        }
    }

    #[test]
    fn samples_are_kept() {
        for p in patterns() {
            for m in DemosaicMethod::ALL {
                let (w, h) = (37, 30);
                let cfa = noise(w * h, 7);
                let out = demosaic(m, &cfa, w, h, &p).expect("runs");
                for y in 0..h {
                    for x in 0..w {
                        let c = p.color(y, x) as usize;
                        assert_eq!(out[3 * (y * w + x) + c], cfa[y * w + x], "{m} at {y},{x}");
                    }
                }
            }
        }
    }

    #[test]
    fn tiny_images_do_not_panic() {
        for p in patterns() {
            for m in DemosaicMethod::ALL {
                for (w, h) in [
                    (1, 1),
                    (1, 5),
                    (5, 1),
                    (2, 2),
                    (3, 3),
                    (2, 7),
                    (7, 3),
                    (13, 11),
                ] {
                    let cfa = noise(w * h, 3);
                    let out = demosaic(m, &cfa, w, h, &p).expect("runs");
                    assert_eq!(out.len(), 3 * w * h);
                    assert!(
                        out.iter().all(|v| v.is_finite() && *v >= 0.0),
                        "{m} {w}x{h}"
                    );
                }
            }
        }
    }

    /// Crops tiles with `halo()` of overlap, as the pipeline does, and compares their interiors
    /// with a whole-image run: equal to the last bit.
    #[test]
    fn tiled_runs_equal_whole_image_runs() {
        // Large enough that the middle tile's crop is cut inside the image on every side.
        let (w, h) = (200, 180);
        for p in patterns() {
            // Noise makes every method's direction choices vary from sample to sample; in the
            // left third some samples are below black, as noise at black level is (so a
            // floor that depended on the whole window would differ between tiles).
            let rgb: Vec<f32> = smooth_image(w, h)
                .iter()
                .zip(noise(3 * w * h, 11))
                .enumerate()
                .map(|(i, (s, n))| {
                    // Cubed: many dark samples beside bright ones, so estimates undershoot.
                    (s * 0.7 + n * 0.3).powi(3) - if (i / 3) % w < w / 3 { 0.05 } else { 0.0 }
                })
                .collect();
            let cfa = mosaic(&rgb, w, h, &p);
            for m in DemosaicMethod::ALL {
                let whole = demosaic(m, &cfa, w, h, &p).expect("runs");
                let halo = m.for_pattern(&p).halo();
                for (ty, tx, th, tw) in [
                    (0usize, 0usize, 30usize, 41usize),
                    (70, 80, 40, 50),
                    (150, 171, 30, 29),
                ] {
                    let (y0, x0) = (ty.saturating_sub(halo), tx.saturating_sub(halo));
                    let (y1, x1) = ((ty + th + halo).min(h), (tx + tw + halo).min(w));
                    let (cw, ch) = (x1 - x0, y1 - y0);
                    let crop: Vec<f32> = (y0..y1)
                        .flat_map(|y| cfa[y * w + x0..y * w + x1].iter().copied())
                        .collect();
                    let part = demosaic(m, &crop, cw, ch, &p.shifted(y0, x0)).expect("runs");
                    for y in ty..ty + th {
                        for x in tx..tx + tw {
                            for c in 0..3 {
                                let a = whole[3 * (y * w + x) + c];
                                let b = part[3 * ((y - y0) * cw + x - x0) + c];
                                assert!(
                                    a == b,
                                    "{m} on {}: tile ({ty},{tx}) differs at ({y},{x},{c}): {a} vs {b}",
                                    p.name()
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn large_images_are_split_without_seams() {
        // Wider than MAX_TILE so the internal tiling is used; compare with an explicit crop.
        let (w, h) = (MAX_TILE + 57, 40);
        let p = CfaPattern::bayer("GRBG").expect("valid");
        let cfa = mosaic(&smooth_image(w, h), w, h, &p);
        let whole = demosaic(DemosaicMethod::Rcd, &cfa, w, h, &p).expect("runs");
        let x0 = 150;
        let crop: Vec<f32> = (0..h)
            .flat_map(|y| cfa[y * w + x0..(y + 1) * w].iter().copied())
            .collect();
        let part =
            demosaic(DemosaicMethod::Rcd, &crop, w - x0, h, &p.shifted(0, x0)).expect("runs");
        let halo = DemosaicMethod::Rcd.halo();
        for y in 0..h {
            for x in x0 + halo..w {
                for c in 0..3 {
                    assert_eq!(
                        whole[3 * (y * w + x) + c],
                        part[3 * (y * (w - x0) + x - x0) + c]
                    );
                }
            }
        }
    }

    /// Edges get real estimates: no zeros, errors of the order of the interior's.
    #[test]
    fn borders_are_estimated_properly() {
        let (w, h) = (45, 38);
        let rgb = smooth_image(w, h);
        for p in patterns() {
            let cfa = mosaic(&rgb, w, h, &p);
            for m in DemosaicMethod::ALL {
                let out = demosaic(m, &cfa, w, h, &p).expect("runs");
                let (mut se, mut n) = (0.0f64, 0usize);
                for y in 0..h {
                    for x in 0..w {
                        if y.min(x).min(h - 1 - y).min(w - 1 - x) >= 2 {
                            continue;
                        }
                        for c in 0..3 {
                            let i = 3 * (y * w + x) + c;
                            assert!(
                                out[i] > 0.02,
                                "{m} on {}: {} at ({y},{x},{c})",
                                p.name(),
                                out[i]
                            );
                            se += f64::from(out[i] - rgb[i]).powi(2);
                            n += 1;
                        }
                    }
                }
                let rmse = (se / n as f64).sqrt();
                assert!(rmse < 0.03, "{m} on {}: border RMSE {rmse}", p.name());
            }
        }
    }

    #[test]
    fn quality_order_on_a_smooth_bayer_image() {
        let (w, h) = (96, 80);
        let p = CfaPattern::bayer("RGGB").expect("valid");
        let rgb = smooth_image(w, h);
        let cfa = mosaic(&rgb, w, h, &p);
        let q = |m| cpsnr(&demosaic(m, &cfa, w, h, &p).expect("runs"), &rgb, w, h, 4);
        let (bl, mv, rc) = (
            q(DemosaicMethod::Bilinear),
            q(DemosaicMethod::Malvar),
            q(DemosaicMethod::Rcd),
        );
        assert!(mv > bl && rc > bl, "bilinear {bl}, malvar {mv}, rcd {rc}");
    }

    #[test]
    fn markesteijn_beats_bilinear_on_xtrans() {
        let (w, h) = (96, 84);
        let p = CfaPattern::xtrans();
        let rgb = smooth_image(w, h);
        let cfa = mosaic(&rgb, w, h, &p);
        let q = |m| cpsnr(&demosaic(m, &cfa, w, h, &p).expect("runs"), &rgb, w, h, 4);
        let (bl, mk) = (q(DemosaicMethod::Bilinear), q(DemosaicMethod::Markesteijn));
        assert!(mk > bl + 1.0, "bilinear {bl}, markesteijn {mk}");
    }
}
