//! The executor: runs a recipe on a frame.
//!
//! 1. **Plan.** Each stage is planned in order ([`Stage::plan`](super::stage::Stage::plan)); stages that want the proxy
//!    get it as it stands at their input (every earlier point kernel has run over it). The
//!    frame's camera-RGB opcodes (DNG OpcodeList3) are placed right after demosaicing and the
//!    output transfer function before the first stage taking encoded values, or at the end.
//! 2. **Tiles.** The output crop is cut into square tiles sized so a tile's working set stays
//!    near L2 size. Each tile walks back through the chain to find the frame region it needs
//!    (area kernels add their halos, clipped at the frame edges), copies it, and runs the
//!    chain: runs of point kernels fused row by row, area kernels into a second buffer. The
//!    result is quantised and stored straight into its oriented place in the output, so
//!    orientation costs no extra pass. Tiles run in parallel on the current rayon pool
//!    (callers cap threads with `ThreadPool::install`), each thread reusing its buffers.
//!
//! 3. **Output.** [`render`] stores into one whole image. [`Rendering::stream`] renders a row
//!    of tiles at a time into a few reused band buffers and hands each finished band to a
//!    sink on a writer thread (the TIFF writer), so encoding and writing overlap the work.
//!
//! Peak memory is the frame, the output (or three bands of it when streamed) and a few tile
//! buffers per thread, which each thread keeps for the next rendering.

use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use super::develop::{Developed, OutputSpec, RenderInfo};
use super::frame::Frame;
use super::recipe::Recipe;
use super::stage::{
    AreaKernel, Kernel, PlanContext, PointKernel, Proxy, RowAt, Signal, TileMut, TileView,
};
use crate::color::dng::CameraColor;
use crate::color::spaces::{OutputProfile, OutputSpace};
use crate::color::transfer::Transfer;
use crate::color::xy::D50_XY;
use crate::error::{Error, ErrorKind, Result};
use crate::image::Rect;
use crate::io::{OutputImage, PixelRows, Pixels};
use crate::limits::{Limits, try_vec, try_vec_par};
use crate::raw::CfaPattern;
use crate::stages::encode::Encoder;
use crate::stages::lens::warp::{DngWarp, MAX_HALO as MAX_WARP_HALO, Warp};
use crate::stages::lens::{LensCorrection, is_lens_opcode};
use crate::stages::opcodes::{self, Opcode};
use crate::stages::orientation;
use crate::stages::resize::resize_rgb;

/// Largest proxy, in pixels (CFA cells).
const PROXY_PIXELS: usize = 250_000;

/// Bytes a tile's working set aims at (about a core's L2 cache).
const TILE_BUDGET: f32 = 2.0 * 1024.0 * 1024.0;

/// Renders `frame` by `recipe` into a whole image. `cancel`, when set by another thread,
/// stops the work at the next tile with an error of kind `Cancelled`. Buffers are checked
/// against `limits` and allocated fallibly.
pub fn render(
    frame: &Frame,
    recipe: &Recipe,
    spec: &OutputSpec,
    limits: &Limits,
    cancel: Option<&AtomicBool>,
) -> Result<Developed> {
    Rendering::new(frame, recipe, spec, limits, cancel)?.image()
}

/// A planned rendering: the output's size and colour are known before any pixel is
/// computed, so an encoder can write its header first and then take the pixels as they come
/// ([`Rendering::stream`]).
pub struct Rendering<'a> {
    frame: &'a Frame,
    plan: Plan<'a>,
    limits: Limits,
    cancel: Option<&'a AtomicBool>,
    /// Oriented size of the rendered picture.
    size: (usize, usize),
    /// The output's size when it is resampled from the rendered picture.
    resized: Option<(usize, usize)>,
}

impl<'a> Rendering<'a> {
    /// Validates the recipe and plans every stage (running proxy pre-passes).
    pub fn new(
        frame: &'a Frame,
        recipe: &Recipe,
        spec: &'a OutputSpec,
        limits: &Limits,
        cancel: Option<&'a AtomicBool>,
    ) -> Result<Self> {
        recipe.validate()?;
        if !matches!(spec.bits, 8 | 16 | 32) {
            return Err(Error::parameter(format!(
                "{} bits per sample (8, 16 or 32)",
                spec.bits
            )));
        }
        let plan = Plan::new(frame, recipe, spec)?;
        let crop = frame.crop();
        let size = orientation::oriented_size(frame.orientation(), crop.width, crop.height);
        limits.check_image(size.0, size.1, 3)?;
        Ok(Rendering {
            frame,
            plan,
            limits: *limits,
            cancel,
            size,
            resized: None,
        })
    }

    /// Width and height of the (oriented) output in pixels.
    pub fn size(&self) -> (usize, usize) {
        self.resized.unwrap_or(self.size)
    }

    /// Resamples the output to `width` x `height` ([`resize_rgb`]: Lanczos-3, no ringing) in
    /// linear light: the picture is rendered whole at full size, its code values decoded by
    /// the output transfer function, resized, and encoded again, so edges and fine texture
    /// keep their brightness (averaging code values darkens them). The size is checked
    /// against the limits here; the full-size float picture must fit them too.
    pub fn resize_to(mut self, width: usize, height: usize) -> Result<Self> {
        self.limits.check_image(width, height, 3)?;
        self.resized = ((width, height) != self.size).then_some((width, height));
        Ok(self)
    }

    /// Choices planning made from the image (automatic exposure, white balance), by stage.
    pub fn notes(&self) -> &[(&'static str, String)] {
        &self.plan.ctx.notes
    }

    /// The planned steps, in order, by the stage each comes from (`demosaic`, `opcodes`,
    /// `encode`, ...): what the development will do.
    pub fn steps(&self) -> &[&'static str] {
        &self.plan.names
    }

    /// Problems planning found that do not stop the development.
    pub fn warnings(&self) -> &[String] {
        &self.plan.ctx.warnings
    }

    /// What the output's ICC profile must describe.
    pub fn profile(&self) -> OutputProfile {
        let ctx = &self.plan.ctx;
        let space = ctx.space;
        OutputProfile {
            rgb_to_xyz_d50: match space {
                OutputSpace::Camera => self.color().wb_camera_to_xyz_d50,
                s => s.to_xyz_d50(),
            },
            transfer: self.plan.transfer,
            description: format!(
                "chiaro {}{}",
                space.name(),
                if ctx.spec.linear { " linear" } else { "" }
            ),
        }
    }

    fn color(&self) -> CameraColor {
        self.plan.ctx.color.unwrap_or(CameraColor {
            neutral: self.plan.ctx.neutral,
            white_xy: D50_XY,
            wb_camera_to_xyz_d50: OutputSpace::Srgb.to_xyz_d50(),
        })
    }

    /// Renders the whole image into memory.
    pub fn image(self) -> Result<Developed> {
        let pixels = match self.plan.ctx.spec.bits {
            8 => Pixels::U8(self.pixels()?),
            16 => Pixels::U16(self.pixels()?),
            _ => Pixels::F32(self.pixels()?),
        };
        let (width, height) = self.size();
        Ok(Developed {
            image: OutputImage {
                width,
                height,
                pixels,
            },
            info: self.info(),
        })
    }

    /// Renders band by band, top to bottom, handing each finished band of whole output rows
    /// to `sink` on a thread of its own while the next band is rendered: the encoder and the
    /// file write overlap the work, and only a few bands are ever in memory instead of the
    /// whole output. The first error, from the rendering or from `sink`, stops both. `sink`
    /// runs on a plain thread outside the caller's rayon pool: it must not wait on that pool.
    pub fn stream(
        self,
        sink: &mut (dyn FnMut(PixelRows<'_>) -> Result<()> + Send),
    ) -> Result<RenderInfo> {
        if self.resized.is_some() {
            // The resampler needs the whole picture: hand the result over in bands.
            let dev = self.image()?;
            let row = dev.image.width * 3;
            let band = row * 64;
            match &dev.image.pixels {
                Pixels::U8(v) => v.chunks(band).try_for_each(|b| sink(PixelRows::U8(b)))?,
                Pixels::U16(v) => v.chunks(band).try_for_each(|b| sink(PixelRows::U16(b)))?,
                Pixels::F32(v) => v.chunks(band).try_for_each(|b| sink(PixelRows::F32(b)))?,
            }
            return Ok(dev.info);
        }
        let job = self.job();
        match self.plan.ctx.spec.bits {
            8 => job.stream::<u8>(&self.limits, sink)?,
            16 => job.stream::<u16>(&self.limits, sink)?,
            _ => job.stream::<f32>(&self.limits, sink)?,
        }
        Ok(self.info())
    }

    /// Streams into a TIFF at `path` (see
    /// [`io::write_tiff_streamed`](crate::io::write_tiff_streamed)); `opts` carries the
    /// ICC profile and EXIF.
    pub fn write_tiff(
        self,
        path: &std::path::Path,
        opts: &crate::io::EncodeOptions,
        place: crate::io::Placement,
    ) -> Result<RenderInfo> {
        let (width, height) = self.size();
        let bits = self.plan.ctx.spec.bits;
        crate::io::write_tiff_streamed(path, width, height, bits, opts, place, |sink| {
            self.stream(sink)
        })
    }

    /// The output samples: rendered, and resampled when [`Rendering::resize_to`] asked.
    fn pixels<T: Sample>(&self) -> Result<Vec<T>> {
        let job = self.job();
        let Some((to_w, to_h)) = self.resized else {
            return job.run(&self.limits);
        };
        let mut full = job.run::<f32>(&self.limits)?;
        let linear = self.plan.transfer == Transfer::Linear;
        let encoder = Encoder::new(self.plan.transfer);
        if !linear {
            full.par_chunks_mut(4096)
                .for_each(|c| c.iter_mut().for_each(|v| *v = encoder.decode(*v)));
        }
        let (w, h) = self.size;
        let small = resize_rgb(&full, w, h, to_w, to_h, &self.limits)?;
        drop(full);
        let mut out = try_vec_par::<T>(small.len(), &self.limits)?;
        out.par_chunks_mut(4096)
            .zip(small.par_chunks(4096))
            .for_each(|(o, s)| {
                for (d, &v) in o.iter_mut().zip(s) {
                    let e = if linear { v } else { encoder.encode(v) };
                    *d = T::quantize(if job.clamp { e.clamp(0.0, 1.0) } else { e });
                }
            });
        Ok(out)
    }

    fn job(&self) -> Job<'_> {
        let spec = self.plan.ctx.spec;
        Job {
            frame: self.frame,
            steps: &self.plan.steps,
            names: &self.plan.names,
            colors: ColorRows::new(self.frame),
            clamp: !(spec.linear && spec.bits == 32),
            tile: self.plan.tile,
            cancel: self.cancel,
        }
    }

    /// What the run chose and reported (kernel summaries come after the pixels).
    fn info(self) -> RenderInfo {
        let profile = self.profile();
        let color = self.color();
        let Plan { steps, ctx, .. } = self.plan;
        let mut warnings = ctx.warnings;
        warnings.extend(steps.iter().filter_map(|s| match s {
            Kernel::Point(k) => k.summary(),
            Kernel::Area(k) => k.summary(),
        }));
        RenderInfo {
            profile,
            space: ctx.space,
            color,
            demosaic: ctx.demosaic.unwrap_or_default(),
            warnings,
            notes: ctx.notes,
        }
    }
}

struct Plan<'a> {
    steps: Vec<Kernel>,
    /// The stage each step comes from, for errors.
    names: Vec<&'static str>,
    ctx: PlanContext<'a>,
    transfer: Transfer,
    /// Tile edge in pixels.
    tile: usize,
}

impl<'a> Plan<'a> {
    fn new(frame: &'a Frame, recipe: &Recipe, spec: &'a OutputSpec) -> Result<Self> {
        let mut ctx = PlanContext {
            frame,
            spec,
            neutral: [1.0; 3],
            color: None,
            space: OutputSpace::default(),
            profile_curve: None,
            profile_look: None,
            baseline_offset: 0.0,
            demosaic: None,
            warnings: frame.warnings().to_vec(),
            notes: Vec::new(),
        };
        let wants: Vec<bool> = recipe.stages.iter().map(|s| s.needs_proxy()).collect();
        let mut proxy = wants.iter().any(|&w| w).then(|| frame.proxy(PROXY_PIXELS));
        let mut steps = Vec::new();
        let mut names = Vec::new();
        let mut channels = frame.channels();
        let mut transfer = None;
        let lens_stage = recipe.get::<LensCorrection>();
        for (i, stage) in recipe.stages.iter().enumerate() {
            let (input, output) = stage.signals();
            if input == Signal::Encoded && transfer.is_none() {
                transfer = Some(place_transfer(&mut steps, &mut names, &ctx, spec));
            }
            let given = proxy.as_ref().filter(|_| wants[i]);
            let kernel = stage
                .plan(&mut ctx, given)
                .map_err(|e| e.in_stage(stage.name()))?;
            let later = wants[i + 1..].iter().any(|&w| w);
            if let Some(k) = kernel {
                match &k {
                    Kernel::Point(p) => {
                        if let Some(proxy) = proxy.as_mut().filter(|_| later) {
                            run_on_proxy(p.as_ref(), proxy);
                        }
                    }
                    Kernel::Area(a) => channels = a.channels_out(channels),
                }
                steps.push(k);
                names.push(stage.name());
            }
            let demosaiced = input == Signal::Cfa && output == Signal::CameraRgb;
            if demosaiced && channels != 3 {
                return Err(Error::parameter(format!(
                    "stage '{}' left the frame a mosaic",
                    stage.name()
                )));
            }
            // OpcodeList3 runs where the lens stage is (after highlight reconstruction, which
            // must see the sensor's clipping before any gain), or right after demosaicing
            // without one (the DNG's order).
            let place_list3 = match lens_stage {
                Some(_) => stage.name() == "lens",
                None => demosaiced,
            };
            if place_list3 {
                // The file's lens opcodes only where the lens stage (or its absence: the
                // DNG's default) takes them.
                let embedded_lens =
                    lens_stage.is_none_or(|l| LensCorrection::uses_embedded(l.source, frame));
                let list: Vec<Opcode> = frame
                    .rgb_opcodes()
                    .iter()
                    .filter(|op| embedded_lens || !is_lens_opcode(op))
                    .cloned()
                    .collect();
                let list = &list[..];
                ctx.warnings.extend(
                    opcodes::unsupported_in_rgb(list)
                        .into_iter()
                        .map(|o| format!("OpcodeList3: {o} not applied")),
                );
                // In list order: runs of per-pixel opcodes fused, each warp a kernel of its own.
                for run in list.split_inclusive(|op| matches!(op, Opcode::WarpRectilinear(_))) {
                    let (pointwise, warp) = match run.split_last() {
                        Some((Opcode::WarpRectilinear(w), rest)) => (rest, Some(w)),
                        _ => (run, None),
                    };
                    if pointwise.iter().any(Opcode::is_pointwise) {
                        steps.push(Kernel::Point(Box::new(RgbOpcodes {
                            list: pointwise.to_vec(),
                            neutral: ctx.neutral.map(|n| n as f32),
                            frame: (frame.width(), frame.height()),
                        })));
                        names.push("opcodes");
                    }
                    if let Some(w) = warp {
                        let (fw, fh) = (frame.width(), frame.height());
                        let warp = Warp::new(DngWarp::new(w, fw, fh), fw, fh);
                        if warp.halo() > MAX_WARP_HALO {
                            ctx.warnings.push(format!(
                                "OpcodeList3: WarpRectilinear moves pixels by up to {} px (more \
                                 than {MAX_WARP_HALO}); not applied",
                                warp.halo()
                            ));
                        } else {
                            steps.push(Kernel::Area(Box::new(warp)));
                            names.push("opcodes");
                        }
                    }
                }
            }
        }
        let transfer = match transfer {
            Some(t) => t,
            None => place_transfer(&mut steps, &mut names, &ctx, spec),
        };
        let factor = recipe
            .stages
            .iter()
            .map(|s| s.memory_factor())
            .fold(1.0f32, f32::max);
        let tile = ((TILE_BUDGET / (12.0 * factor)).sqrt() as usize / 32 * 32).clamp(64, 512);
        Ok(Plan {
            steps,
            names,
            ctx,
            transfer,
            tile,
        })
    }
}

/// Adds the output transfer function to the chain and returns it.
fn place_transfer(
    steps: &mut Vec<Kernel>,
    names: &mut Vec<&'static str>,
    ctx: &PlanContext<'_>,
    spec: &OutputSpec,
) -> Transfer {
    let transfer = if spec.linear {
        Transfer::Linear
    } else {
        ctx.space.transfer()
    };
    if transfer != Transfer::Linear {
        steps.push(Kernel::Point(Box::new(Encoder::new(transfer))));
        names.push("encode");
    }
    transfer
}

/// Runs a point kernel over the proxy's rows.
fn run_on_proxy(k: &dyn PointKernel, p: &mut Proxy) {
    let colors: Vec<u8> = (0..p.width * 3).map(|i| (i % 3) as u8).collect();
    let scale = p.scale;
    for (y, row) in p.rgb.chunks_exact_mut(p.width * 3).enumerate() {
        let at = RowAt {
            x: 0,
            y: y * scale,
            channels: 3,
            colors: &colors,
            scale,
        };
        k.apply(row, &at);
    }
}

/// DNG OpcodeList3 on camera RGB before white balance (DNG SDK stage 3): white balance is
/// undone around it.
struct RgbOpcodes {
    list: Vec<Opcode>,
    neutral: [f32; 3],
    frame: (usize, usize),
}

impl PointKernel for RgbOpcodes {
    fn apply(&self, row: &mut [f32], at: &RowAt<'_>) {
        for px in row.chunks_exact_mut(3) {
            px.iter_mut().zip(&self.neutral).for_each(|(v, n)| *v *= n);
        }
        let rect = Rect::new(at.x, at.y, row.len() / 3, 1);
        opcodes::apply_to_rgb_tile(&self.list, row, rect, self.frame.0, self.frame.1);
        for px in row.chunks_exact_mut(3) {
            px.iter_mut().zip(&self.neutral).for_each(|(v, n)| *v /= n);
        }
    }
}

/// The colour of every sample position, so point kernels read colours by slice.
struct ColorRows {
    /// CFA frames: one row of site colours per pattern row, frame width + a period long.
    cfa: Vec<Vec<u8>>,
    /// 0, 1, 2 repeated over a frame row of RGB.
    rgb: Vec<u8>,
    pattern_width: usize,
}

impl ColorRows {
    fn new(frame: &Frame) -> Self {
        let w = frame.width();
        let pattern: Option<&CfaPattern> = frame.pattern();
        let cfa = pattern.map_or_else(Vec::new, |p| {
            (0..p.height())
                .map(|y| (0..w + p.width()).map(|x| p.color(y, x)).collect())
                .collect()
        });
        ColorRows {
            cfa,
            rgb: (0..3 * w).map(|i| (i % 3) as u8).collect(),
            pattern_width: pattern.map_or(1, |p| p.width()),
        }
    }

    /// Colours of the `n` samples of a row starting at pixel (`x`, `y`).
    fn at(&self, channels: usize, y: usize, x: usize, n: usize) -> &[u8] {
        if channels == 1 && !self.cfa.is_empty() {
            let row = &self.cfa[y % self.cfa.len()];
            let start = x % self.pattern_width;
            &row[start..start + n]
        } else {
            &self.rgb[..n]
        }
    }
}

struct Job<'a> {
    frame: &'a Frame,
    steps: &'a [Kernel],
    names: &'a [&'static str],
    colors: ColorRows,
    clamp: bool,
    tile: usize,
    cancel: Option<&'a AtomicBool>,
}

/// A thread's tile buffers, reused from tile to tile and band to band.
#[derive(Default)]
struct Scratch {
    a: Vec<f32>,
    b: Vec<f32>,
    rects: Vec<Rect>,
}

thread_local! {
    static SCRATCH: std::cell::Cell<Scratch> = std::cell::Cell::default();
}

/// Runs `f` with this thread's scratch buffers (taken out while in use, so a nested call
/// simply gets fresh ones).
fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    let mut s = SCRATCH.take();
    let r = f(&mut s);
    SCRATCH.set(s);
    r
}

/// A band of whole output rows for [`Job::stream`]: one row of tiles.
struct Band {
    /// First output row.
    y: usize,
    rows: usize,
    /// Indices of the tiles that make it up.
    cells: Vec<usize>,
}

/// The tile grid: tiles in crop pixels and the output rectangles they land on.
struct Grid {
    tiles: Vec<Rect>,
    placed: Vec<Rect>,
    /// Oriented output width.
    width: usize,
}

impl Grid {
    /// The rows of tiles in output order.
    fn bands(&self) -> Vec<Band> {
        let mut order: Vec<usize> = (0..self.placed.len()).collect();
        order.sort_by_key(|&i| (self.placed[i].y, self.placed[i].x));
        let mut bands: Vec<Band> = Vec::new();
        for i in order {
            let r = self.placed[i];
            match bands.last_mut() {
                Some(b) if b.y == r.y => b.cells.push(i),
                _ => bands.push(Band {
                    y: r.y,
                    rows: r.height,
                    cells: vec![i],
                }),
            }
        }
        bands
    }
}

impl Job<'_> {
    fn grid(&self) -> Grid {
        let crop = self.frame.crop();
        let (w, h) = (crop.width, crop.height);
        let code = self.frame.orientation();
        let tiles: Vec<Rect> = (0..h)
            .step_by(self.tile)
            .flat_map(|y| {
                (0..w)
                    .step_by(self.tile)
                    .map(move |x| Rect::new(x, y, self.tile.min(w - x), self.tile.min(h - y)))
            })
            .collect();
        let placed = tiles.iter().map(|t| orient_rect(code, *t, w, h)).collect();
        Grid {
            tiles,
            placed,
            width: orientation::oriented_size(code, w, h).0,
        }
    }

    /// Renders every tile and stores it, quantised to `T`, into an oriented output.
    fn run<T: Sample>(&self, limits: &Limits) -> Result<Vec<T>> {
        let crop = self.frame.crop();
        let grid = self.grid();
        let mut out = try_vec_par::<T>(crop.width * crop.height * 3, limits)?;
        let all: Vec<usize> = (0..grid.tiles.len()).collect();
        self.fill(&grid, &all, 0, &mut out, &AtomicBool::new(false))?;
        Ok(out)
    }

    /// Renders band after band into a few reused buffers and hands each to `sink` on a
    /// writer thread, so writing one band overlaps rendering the next.
    fn stream<T: Sample>(
        &self,
        limits: &Limits,
        sink: &mut (dyn FnMut(PixelRows<'_>) -> Result<()> + Send),
    ) -> Result<()> {
        let grid = self.grid();
        let bands = grid.bands();
        let longest = bands.iter().map(|b| b.rows).max().unwrap_or(0) * grid.width * 3;
        // One band being rendered, one waiting, one being written.
        let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<(Vec<T>, usize)>(1);
        let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Vec<T>>();
        // Set by the writer when it fails, so the renderer stops at its next tile.
        let failed = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let failed = &failed;
            let writer = scope.spawn(move || -> Result<()> {
                for (buf, n) in full_rx {
                    if let Err(e) = sink(T::rows(&buf[..n])) {
                        failed.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                    // The renderer may have stopped already; the buffer is then dropped.
                    let _ = empty_tx.send(buf);
                }
                Ok(())
            });
            let rendered = (|| {
                for band in &bands {
                    let n = band.rows * grid.width * 3;
                    let mut buf = match empty_rx.try_recv() {
                        Ok(buf) => buf,
                        Err(_) => try_vec::<T>(longest, limits)?,
                    };
                    self.fill(&grid, &band.cells, band.y, &mut buf[..n], failed)?;
                    if full_tx.send((buf, n)).is_err() {
                        // The writer stopped on an error, reported below.
                        break;
                    }
                }
                Ok(())
            })();
            drop(full_tx);
            let written = writer
                .join()
                .unwrap_or_else(|_| Err(Error::encode("the output writer panicked")));
            // A writer error comes first: the renderer's is then only its consequence.
            written.and(rendered)
        })
    }

    /// Renders the tiles `cells` of `grid` into `out`, the output rows from `y` on that they
    /// cover, in parallel.
    /// `stop` ends the work early, like `cancel`.
    fn fill<T: Sample>(
        &self,
        grid: &Grid,
        cells: &[usize],
        y: usize,
        out: &mut [T],
        stop: &AtomicBool,
    ) -> Result<()> {
        let local: Vec<Rect> = cells
            .iter()
            .map(|&i| {
                let r = grid.placed[i];
                Rect::new(r.x, r.y - y, r.width, r.height)
            })
            .collect();
        let slots = split_cells(out, grid.width, &local)?;
        slots
            .into_par_iter()
            .zip(cells.par_iter())
            .try_for_each(|(mut slot, &i)| {
                let cancelled = self.cancel.is_some_and(|c| c.load(Ordering::Relaxed));
                if cancelled || stop.load(Ordering::Relaxed) {
                    return Err(Error::new(ErrorKind::Cancelled, "cancelled"));
                }
                with_scratch(|s| self.tile(grid.tiles[i], grid.placed[i], &mut slot, s))
            })
    }

    /// Runs the chain on one tile (`tile` in crop pixels, placed at `dst` of the output).
    fn tile<T: Sample>(
        &self,
        tile: Rect,
        dst: Rect,
        cell: &mut [&mut [T]],
        s: &mut Scratch,
    ) -> Result<()> {
        let frame = self.frame;
        let crop = frame.crop();
        let (fw, fh) = (frame.width(), frame.height());
        let target = Rect::new(crop.x + tile.x, crop.y + tile.y, tile.width, tile.height);
        // Regions needed at each step's output, walking back from the tile.
        s.rects.clear();
        let mut need = target;
        for step in self.steps.iter().rev() {
            s.rects.push(need);
            if let Kernel::Area(k) = step {
                need = grow(need, k.halo(), fw, fh);
            }
        }
        s.rects.reverse();
        let mut rect = need;
        let mut channels = frame.channels();
        copy_region(frame, rect, &mut s.a);
        let mut i = 0;
        while i < self.steps.len() {
            match &self.steps[i] {
                Kernel::Point(_) => {
                    let run = self.steps[i..]
                        .iter()
                        .take_while(|s| matches!(s, Kernel::Point(_)))
                        .count();
                    let n = rect.width * channels;
                    for (j, row) in s.a.chunks_exact_mut(n).enumerate() {
                        let y = rect.y + j;
                        let at = RowAt {
                            x: rect.x,
                            y,
                            channels,
                            colors: self.colors.at(channels, y, rect.x, n),
                            scale: 1,
                        };
                        for step in &self.steps[i..i + run] {
                            if let Kernel::Point(k) = step {
                                k.apply(row, &at);
                            }
                        }
                    }
                    i += run;
                }
                Kernel::Area(k) => {
                    let out_rect = s.rects[i];
                    let out_channels = k.channels_out(channels);
                    // Not cleared: a kernel writes every sample of its output.
                    s.b.resize(out_rect.width * out_rect.height * out_channels, 0.0);
                    let src = TileView {
                        data: &s.a,
                        rect,
                        channels,
                        frame: (fw, fh),
                    };
                    let mut dst = TileMut {
                        data: &mut s.b,
                        rect: out_rect,
                        channels: out_channels,
                    };
                    k.run(&src, &mut dst)
                        .map_err(|e| e.in_stage(self.names[i]))?;
                    std::mem::swap(&mut s.a, &mut s.b);
                    rect = out_rect;
                    channels = out_channels;
                    i += 1;
                }
            }
        }
        if channels != 3 || rect != target {
            return Err(Error::parameter("the recipe does not end in RGB"));
        }
        store(&s.a, tile, dst, crop, frame.orientation(), cell, self.clamp);
        Ok(())
    }
}

/// An output sample type: display values 0..1 (or unclipped floats) to its code values.
trait Sample: Copy + Default + Send {
    fn quantize(v: f32) -> Self;
    fn rows(samples: &[Self]) -> PixelRows<'_>;
    /// [`Sample::quantize`] over a row, clamped to 0..1 first when `clamp`.
    fn quantize_row(src: &[f32], dst: &mut [Self], clamp: bool) {
        for (d, &v) in dst.iter_mut().zip(src) {
            *d = Self::quantize(if clamp { v.clamp(0.0, 1.0) } else { v });
        }
    }
}

/// [`Sample::quantize_row`] for 8 and 16 bits, compiled for the CPU's vectors (a float to
/// integer conversion stays scalar in the baseline build).
macro_rules! quantize_rows {
    ($name:ident, $t:ty) => {
        #[multiversion::multiversion(targets("x86_64+avx2+fma", "x86_64+sse4.1", "aarch64+neon"))]
        fn $name(src: &[f32], dst: &mut [$t], clamp: bool) {
            let n = src.len().min(dst.len());
            let (src, dst) = (&src[..n], &mut dst[..n]);
            if clamp {
                // The same values as `quantize` (truncation is floor here), converted by the
                // bits of `2^23 + g` (exact below 2^23): saturating float-to-integer casts
                // stay scalar.
                let scale = f32::from(<$t>::MAX);
                for i in 0..n {
                    let g = (src[i].max(0.0).min(1.0) * scale + 0.5).floor();
                    dst[i] = ((g + 8_388_608.0).to_bits() - 0x4B00_0000) as $t;
                }
            } else {
                for i in 0..n {
                    dst[i] = <$t>::quantize(src[i]);
                }
            }
        }
    };
}
quantize_rows!(quantize_row_u8, u8);
quantize_rows!(quantize_row_u16, u16);

impl Sample for u8 {
    fn rows(samples: &[Self]) -> PixelRows<'_> {
        PixelRows::U8(samples)
    }
    #[inline(always)]
    fn quantize(v: f32) -> Self {
        (v * 255.0 + 0.5) as u8
    }
    fn quantize_row(src: &[f32], dst: &mut [Self], clamp: bool) {
        quantize_row_u8(src, dst, clamp);
    }
}

impl Sample for u16 {
    fn rows(samples: &[Self]) -> PixelRows<'_> {
        PixelRows::U16(samples)
    }
    #[inline(always)]
    fn quantize(v: f32) -> Self {
        (v * 65535.0 + 0.5) as u16
    }
    fn quantize_row(src: &[f32], dst: &mut [Self], clamp: bool) {
        quantize_row_u16(src, dst, clamp);
    }
}

impl Sample for f32 {
    fn rows(samples: &[Self]) -> PixelRows<'_> {
        PixelRows::F32(samples)
    }
    #[inline(always)]
    fn quantize(v: f32) -> Self {
        v
    }
}

/// `r` grown by `halo` on every side, clipped to the frame.
fn grow(r: Rect, halo: usize, fw: usize, fh: usize) -> Rect {
    let (x0, y0) = (r.x.saturating_sub(halo), r.y.saturating_sub(halo));
    let (x1, y1) = ((r.right() + halo).min(fw), (r.bottom() + halo).min(fh));
    Rect::new(x0, y0, x1 - x0, y1 - y0)
}

/// Copies `rect` of the frame's samples into `buf`.
fn copy_region(frame: &Frame, rect: Rect, buf: &mut Vec<f32>) {
    let ch = frame.channels();
    let stride = frame.width() * ch;
    buf.clear();
    for y in rect.y..rect.bottom() {
        let start = y * stride + rect.x * ch;
        buf.extend_from_slice(&frame.data()[start..start + rect.width * ch]);
    }
}

/// The output rectangle a crop-space rectangle lands on under orientation `code`
/// (EXIF 2.32 tag 0x0112), for a `w` x `h` crop.
fn orient_rect(code: u16, r: Rect, w: usize, h: usize) -> Rect {
    let flip_x = w - r.right();
    let flip_y = h - r.bottom();
    match code {
        2 => Rect::new(flip_x, r.y, r.width, r.height),
        3 => Rect::new(flip_x, flip_y, r.width, r.height),
        4 => Rect::new(r.x, flip_y, r.width, r.height),
        5 => Rect::new(r.y, r.x, r.height, r.width),
        6 => Rect::new(flip_y, r.x, r.height, r.width),
        7 => Rect::new(flip_y, flip_x, r.height, r.width),
        8 => Rect::new(r.y, flip_x, r.height, r.width),
        _ => r,
    }
}

/// Where crop pixel (`x`, `y`) lands in the output under orientation `code`.
#[inline]
fn orient_point(code: u16, x: usize, y: usize, w: usize, h: usize) -> (usize, usize) {
    match code {
        2 => (w - 1 - x, y),
        3 => (w - 1 - x, h - 1 - y),
        4 => (x, h - 1 - y),
        5 => (y, x),
        6 => (h - 1 - y, x),
        7 => (h - 1 - y, w - 1 - x),
        8 => (y, w - 1 - x),
        _ => (x, y),
    }
}

/// Splits the output (`ow` pixels wide) into one list of row segments per placed tile, so
/// tiles can be stored in parallel without sharing memory. The placed rectangles tile the
/// output as a grid.
fn split_cells<'o, T>(
    out: &'o mut [T],
    ow: usize,
    placed: &[Rect],
) -> Result<Vec<Vec<&'o mut [T]>>> {
    let mut order: Vec<usize> = (0..placed.len()).collect();
    order.sort_by_key(|&i| (placed[i].y, placed[i].x));
    let mut cells: Vec<Vec<&mut [T]>> = (0..placed.len()).map(|_| Vec::new()).collect();
    let mut rows = out.chunks_exact_mut(ow * 3);
    let mut k = 0;
    while k < order.len() {
        let first = placed[order[k]];
        let group = order[k..]
            .iter()
            .take_while(|&&i| placed[i].y == first.y)
            .count();
        for _ in 0..first.height {
            let mut row = rows
                .next()
                .ok_or_else(|| Error::parameter("tile grid does not cover the output"))?;
            for &i in &order[k..k + group] {
                let (seg, rest) = row.split_at_mut(placed[i].width * 3);
                cells[i].push(seg);
                row = rest;
            }
        }
        k += group;
    }
    Ok(cells)
}

/// Quantises a finished tile (`tile` in crop pixels, interleaved RGB) into its cell.
#[allow(clippy::too_many_arguments)]
fn store<T: Sample>(
    rgb: &[f32],
    tile: Rect,
    dst: Rect,
    crop: Rect,
    code: u16,
    cell: &mut [&mut [T]],
    clamp: bool,
) {
    let q = |v: f32| T::quantize(if clamp { v.clamp(0.0, 1.0) } else { v });
    let n = tile.width * 3;
    if code <= 1 {
        for (row, seg) in rgb.chunks_exact(n).zip(cell.iter_mut()) {
            T::quantize_row(row, seg, clamp);
        }
        return;
    }
    let (w, h) = (crop.width, crop.height);
    for (j, row) in rgb.chunks_exact(n).enumerate() {
        for (i, px) in row.chunks_exact(3).enumerate() {
            let (ox, oy) = orient_point(code, tile.x + i, tile.y + j, w, h);
            let seg = &mut cell[oy - dst.y];
            let o = (ox - dst.x) * 3;
            seg[o] = q(px[0]);
            seg[o + 1] = q(px[1]);
            seg[o + 2] = q(px[2]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectorised row quantisers give what the per-sample cast gives, clamped first: at
    /// every half step (where rounding decides), out of range, NaN and infinities.
    #[test]
    fn row_quantisers_equal_the_sample_cast() {
        let mut v: Vec<f32> = (0..=2 * 65535)
            .map(|k| k as f32 / (2.0 * 65535.0))
            .collect();
        v.extend((0..=510).map(|k| k as f32 / 510.0));
        v.extend([
            -1.0,
            -0.0,
            1.0,
            1.5,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            1e-30,
        ]);
        let (mut a, mut b) = (vec![0u16; v.len()], vec![0u8; v.len()]);
        u16::quantize_row(&v, &mut a, true);
        u8::quantize_row(&v, &mut b, true);
        for (i, &x) in v.iter().enumerate() {
            let c = if x.is_nan() { x } else { x.clamp(0.0, 1.0) };
            assert_eq!(a[i], u16::quantize(c), "u16 at {x}");
            assert_eq!(b[i], u8::quantize(c), "u8 at {x}");
        }
    }

    #[test]
    fn oriented_rects_and_points_agree() {
        let (w, h) = (7, 4);
        for code in 1..=8u16 {
            let r = Rect::new(2, 1, 3, 2);
            let o = orient_rect(code, r, w, h);
            for y in r.y..r.bottom() {
                for x in r.x..r.right() {
                    let (ox, oy) = orient_point(code, x, y, w, h);
                    assert!(
                        ox >= o.x && ox < o.right() && oy >= o.y && oy < o.bottom(),
                        "code {code}: ({x},{y}) -> ({ox},{oy}) outside {o:?}"
                    );
                }
            }
        }
    }
}
