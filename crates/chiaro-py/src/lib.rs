//! Python bindings of chiaro, the `chiaro._chiaro` extension module behind the `chiaro`
//! package (`python/chiaro/__init__.py` holds the rawpy-style keyword handling and enums).
//!
//! `imread` gives rawpy's raw object: the stored sensor samples and the metadata rawpy users
//! read, and `postprocess` develops it with chiaro's pipeline. `develop` is chiaro's own
//! call. Every read and development runs with the GIL released. Files that are not DNGs are
//! decoded in a worker process (this interpreter running [`decode_worker`]), so a hostile
//! camera raw is a `chiaro.DecodeError`, never a crash of the interpreter.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chiaro::raw::{RawImage, WorkerCommand};
use chiaro::stages::white_balance::{Preset, WbMode, neutral_for};
use chiaro::{ErrorKind, Limits};
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray2};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

mod batch;
mod frame;

create_exception!(
    chiaro,
    Error,
    PyException,
    "A chiaro error; the message names the file and the reason."
);
create_exception!(
    chiaro,
    DecodeError,
    Error,
    "The file is corrupt, truncated or not a raw file."
);
create_exception!(
    chiaro,
    UnsupportedError,
    Error,
    "The file is valid but uses a feature chiaro does not handle."
);
create_exception!(
    chiaro,
    LimitError,
    Error,
    "The file asks for more memory or work than the limits allow."
);
create_exception!(
    chiaro,
    ParameterError,
    Error,
    "An argument, recipe or option is wrong."
);
create_exception!(chiaro, IoError, Error, "Reading or writing a file failed.");

/// A chiaro error as the Python exception of its kind.
pub(crate) fn py_err(e: chiaro::Error) -> PyErr {
    let msg = e.to_string();
    match e.kind() {
        ErrorKind::Decode => DecodeError::new_err(msg),
        ErrorKind::Unsupported => UnsupportedError::new_err(msg),
        ErrorKind::Limits => LimitError::new_err(msg),
        ErrorKind::Parameter => ParameterError::new_err(msg),
        ErrorKind::Io => IoError::new_err(msg),
        ErrorKind::Encode | ErrorKind::Cancelled => Error::new_err(msg),
    }
}

pub(crate) fn param(msg: impl Into<String>) -> PyErr {
    ParameterError::new_err(msg.into())
}

/// This interpreter as a decoder worker: `python -c` importing this module and running
/// [`decode_worker`].
pub(crate) fn worker(py: Python<'_>) -> PyResult<WorkerCommand> {
    let exe: PathBuf = py.import("sys")?.getattr("executable")?.extract()?;
    Ok(WorkerCommand::new(exe)
        .arg("-c")
        .arg("import sys, chiaro._chiaro as c; sys.exit(c._decode_worker())"))
}

/// Reads a raw file with the GIL released: DNGs and sidecar dumps by chiaro's own readers
/// here, anything else in a worker process.
pub(crate) fn read(py: Python<'_>, path: &Path) -> PyResult<RawImage> {
    let worker = worker(py)?;
    let limits = Limits::default();
    py.detach(|| chiaro::raw::read_file_isolated(path, &limits, &worker))
        .map_err(py_err)
}

/// Runs the decoder-worker protocol on this process's stdin and stdout (see
/// `chiaro::raw::isolate`); the exit code to leave with.
#[pyfunction]
fn _decode_worker() -> i32 {
    chiaro::raw::isolate::worker_main()
}

/// A raw file opened by [`imread`]: rawpy's `RawPy`, with the attributes rawpy users read.
///
/// The decoded samples live in one numpy array, moved there from the decoder without a copy;
/// `raw_image` is that array, so, as with rawpy, changes made to it in place are what
/// `postprocess` develops. `raw` holds the rest of the decoded file.
#[pyclass(module = "chiaro", name = "RawPy")]
struct RawPy {
    raw: Option<RawImage>,
    samples: Option<Py<PyAny>>,
    path: PathBuf,
}

impl RawPy {
    fn raw(&self) -> PyResult<&RawImage> {
        self.raw
            .as_ref()
            .ok_or_else(|| param(format!("{}: the raw file is closed", self.path.display())))
    }

    /// The decoded file with the samples `raw_image` holds now (one copy of them).
    fn with_samples(&self, py: Python<'_>) -> PyResult<RawImage> {
        let raw = self.raw()?;
        let samples = self.samples.as_ref().ok_or_else(|| param("closed"))?;
        let array = samples.bind(py).call_method0("ravel")?;
        let array: numpy::PyReadonlyArray1<'_, u16> = array.extract()?;
        let data = array.as_slice().map_err(|e| param(e.to_string()))?.to_vec();
        raw.with_data(data).map_err(py_err)
    }

    fn close_now(&mut self) {
        self.raw = None;
        self.samples = None;
    }
}

/// LibRaw's colour index of each position of the pattern seen from the visible area's
/// origin: 0 red, 1 green, 2 blue, 3 the green of the rows with blue (Bayer only).
fn rawpy_pattern(raw: &RawImage) -> Array2<u8> {
    let a = raw.active_area();
    let p = raw.cfa().shifted(a.y, a.x);
    let (h, w) = (p.height(), p.width());
    Array2::from_shape_fn((h, w), |(y, x)| {
        let c = p.color(y, x);
        let blue_row = (0..w).any(|i| p.color(y, i) == 2);
        if c == 1 && p.is_bayer() && blue_row {
            3
        } else {
            c
        }
    })
}

/// `data` as a numpy array of `shape`, moved into it (no copy).
pub(crate) fn array<'py, T: numpy::Element>(
    py: Python<'py>,
    shape: &[usize],
    data: Vec<T>,
) -> PyResult<Bound<'py, PyAny>> {
    numpy::ndarray::ArrayD::from_shape_vec(numpy::ndarray::IxDyn(shape), data)
        .map(|a| a.into_pyarray(py).into_any())
        .map_err(|e| param(e.to_string()))
}

/// Samples of `channels` per pixel as an (h, w) array, or (h, w, channels).
pub(crate) fn image<T: numpy::Element>(
    py: Python<'_>,
    h: usize,
    w: usize,
    channels: usize,
    data: Vec<T>,
) -> PyResult<Bound<'_, PyAny>> {
    if channels == 1 {
        array(py, &[h, w], data)
    } else {
        array(py, &[h, w, channels], data)
    }
}

/// White-balance multipliers of a camera neutral in rawpy's order R, G, B, G2 (green 1;
/// the second green 0, which LibRaw gives three-colour cameras: the same as green).
fn multipliers(neutral: [f64; 3]) -> Vec<f64> {
    let m = |c: usize| {
        if neutral[c] > 0.0 {
            neutral[1] / neutral[c]
        } else {
            0.0
        }
    };
    vec![m(0), m(1), m(2), 0.0]
}

#[pymethods]
impl RawPy {
    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&mut self, _args: &Bound<'_, pyo3::types::PyTuple>) {
        self.close_now();
    }

    /// Releases the decoded samples; the object is unusable afterwards.
    fn close(&mut self) {
        self.close_now();
    }

    /// The stored sensor samples, masked borders included (`sizes.raw_height` x
    /// `sizes.raw_width`, uint16, as decoded; three planes deep for linear DNGs): the
    /// decoder's own buffer, no copy, the same array at every access.
    #[getter]
    fn raw_image<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.raw()?;
        let samples = self.samples.as_ref().ok_or_else(|| param("closed"))?;
        Ok(samples.bind(py).clone())
    }

    /// The CFA pattern from the visible area's top-left (2x2 Bayer, 6x6 X-Trans) as colour
    /// indices into `color_desc`; `None` for linear (demosaiced) raws.
    #[getter]
    fn raw_pattern<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyArray2<u8>>>> {
        let raw = self.raw()?;
        Ok(raw.is_cfa().then(|| rawpy_pattern(raw).into_pyarray(py)))
    }

    /// The colour index of every site of `raw_image`.
    #[getter]
    fn raw_colors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<u8>>> {
        let raw = self.raw()?;
        let a = raw.active_area();
        let p = rawpy_pattern(raw);
        let (ph, pw) = p.dim();
        let (w, h) = (raw.width(), raw.height());
        // The visible area's pattern, extended over the masked borders.
        let at = |v: usize, o: usize, n: usize| (v + n - o % n) % n;
        Ok(
            Array2::from_shape_fn((h, w), |(y, x)| p[(at(y, a.y, ph), at(x, a.x, pw))])
                .into_pyarray(py),
        )
    }

    /// The meaning of the colour indices.
    #[getter]
    fn color_desc(&self) -> &'static [u8] {
        b"RGBG"
    }

    /// Number of colours (3).
    #[getter]
    fn num_colors(&self) -> usize {
        3
    }

    /// Black level per colour index (R, G, B, G2), in stored units: the mean of the DNG
    /// BlackLevel pattern's entries of that colour (per-row and per-column deltas left out).
    #[getter]
    fn black_level_per_channel(&self) -> PyResult<Vec<i64>> {
        let raw = self.raw()?;
        let b = raw.black();
        let mean = b.mean().round() as i64;
        if !raw.is_cfa() {
            return Ok(vec![mean; 4]);
        }
        let p = rawpy_pattern(raw);
        let (ph, pw) = p.dim();
        // Over a period of both the CFA and the BlackLevel repeat pattern.
        let (mut sum, mut count) = ([0.0f32; 4], [0usize; 4]);
        for y in 0..ph * b.repeat_rows {
            for x in 0..pw * b.repeat_cols {
                let c = usize::from(p[(y % ph, x % pw)]);
                sum[c] += b.values[(y % b.repeat_rows) * b.repeat_cols + x % b.repeat_cols];
                count[c] += 1;
            }
        }
        // A colour without sites (the second green of X-Trans) gets the overall mean.
        Ok((0..4)
            .map(|c| match count[c] {
                0 => mean,
                n => (sum[c] / n as f32).round() as i64,
            })
            .collect())
    }

    /// The saturation level, in stored units (the largest plane's).
    #[getter]
    fn white_level(&self) -> PyResult<i64> {
        let raw = self.raw()?;
        Ok(raw.white().iter().copied().fold(0.0f32, f32::max).round() as i64)
    }

    /// The as-shot white balance as multipliers (see [`multipliers`]): the reciprocal of
    /// the DNG AsShotNeutral (or of the neutral of AsShotWhiteXY).
    #[getter]
    fn camera_whitebalance(&self) -> PyResult<Vec<f64>> {
        let raw = self.raw()?;
        let n = neutral_for(WbMode::AsShot, raw.color(), |_| [1.0; 3]).map_err(py_err)?;
        Ok(multipliers(n))
    }

    /// Daylight (5500 K) multipliers from the camera's own colour matrices.
    #[getter]
    fn daylight_whitebalance(&self) -> PyResult<Vec<f64>> {
        let raw = self.raw()?;
        let n = neutral_for(WbMode::Preset(Preset::Daylight), raw.color(), |_| [1.0; 3])
            .map_err(py_err)?;
        Ok(multipliers(n))
    }

    /// XYZ to camera matrix (4x3, the fourth row zero, as LibRaw's `rgb_xyz_matrix`): the
    /// file's D65 ColorMatrix, else its first one; zeros when it has none.
    #[getter]
    fn rgb_xyz_matrix<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let raw = self.raw()?;
        let c = raw.color();
        let m = if c.illuminant2 == 21 {
            c.color_matrix2.or(c.color_matrix1)
        } else {
            c.color_matrix1.or(c.color_matrix2)
        };
        let rows = m.unwrap_or([[0.0; 3]; 3]);
        Ok(
            Array2::from_shape_fn((4, 3), |(r, k)| if r < 3 { rows[r][k] } else { 0.0 })
                .into_pyarray(py),
        )
    }

    /// Sizes, as rawpy's `sizes` named tuple: `(raw_height, raw_width, height, width,
    /// top_margin, left_margin, iheight, iwidth, pixel_aspect, flip, crop_left_margin,
    /// crop_top_margin, crop_width, crop_height)`. The crop is the DNG DefaultCrop in raw
    /// coordinates, zeros when it is the whole raw (as LibRaw gives them).
    #[getter]
    #[allow(clippy::type_complexity)]
    fn _sizes(
        &self,
    ) -> PyResult<(
        usize,
        usize,
        usize,
        usize,
        usize,
        usize,
        usize,
        usize,
        f64,
        u16,
        [usize; 4],
    )> {
        let raw = self.raw()?;
        let a = raw.active_area();
        let c = raw.default_crop();
        let (cx, cy) = (a.x + c.x, a.y + c.y);
        let crop = if (cx, cy, c.width, c.height) == (0, 0, raw.width(), raw.height()) {
            [0; 4]
        } else {
            [cx, cy, c.width, c.height]
        };
        let flip = match raw.orientation() {
            3 => 3,
            6 => 6,
            8 => 5,
            _ => 0,
        };
        Ok((
            raw.height(),
            raw.width(),
            a.height,
            a.width,
            a.y,
            a.x,
            a.height,
            a.width,
            1.0,
            flip,
            crop,
        ))
    }

    /// The raw prepared as a frame (normalised samples and calibration), GIL released.
    fn _frame(&self, py: Python<'_>) -> PyResult<frame::Frame> {
        let raw = self.with_samples(py)?;
        let f = py
            .detach(|| chiaro::pipeline::prepare(&raw, &Limits::default()))
            .map_err(|e| py_err(e.with_path(&self.path)))?;
        Ok(frame::Frame { frame: Arc::new(f) })
    }

    /// Develops the raw with develop options (`chiaro::batch::DevelopOptions` as JSON; see
    /// `chiaro.RawPy.postprocess` in the package for the rawpy keywords), `orientation`
    /// replacing the file's; the array and the development's notes.
    #[pyo3(signature = (options_json, orientation=None))]
    fn _develop<'py>(
        &self,
        py: Python<'py>,
        options_json: &str,
        orientation: Option<u16>,
    ) -> PyResult<(Bound<'py, PyAny>, Vec<String>)> {
        let raw = self.with_samples(py)?;
        let at = |e: chiaro::Error| py_err(e.with_path(&self.path));
        let mut frame = py
            .detach(|| chiaro::pipeline::prepare(&raw, &Limits::default()))
            .map_err(at)?;
        if let Some(code) = orientation {
            frame = frame.with_orientation(code).map_err(at)?;
        }
        frame::develop_frame(py, frame, options_json, None)
    }
}

/// Opens a raw file (any format chiaro reads); the decode runs with the GIL released.
#[pyfunction]
fn imread(py: Python<'_>, path: PathBuf) -> PyResult<RawPy> {
    let mut raw = read(py, &path)?;
    let (w, h, spp) = (raw.width(), raw.height(), raw.samples_per_pixel());
    let array = image(py, h, w, spp, raw.take_data())?;
    Ok(RawPy {
        raw: Some(raw),
        samples: Some(array.unbind()),
        path,
    })
}

#[pymodule]
fn _chiaro(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_function(wrap_pyfunction!(imread, m)?)?;
    m.add_function(wrap_pyfunction!(frame::_develop_frame, m)?)?;
    m.add_function(wrap_pyfunction!(frame::demosaic, m)?)?;
    m.add_function(wrap_pyfunction!(frame::read_recipe, m)?)?;
    m.add_class::<frame::Frame>()?;
    m.add_class::<frame::Recipe>()?;
    m.add_function(wrap_pyfunction!(_decode_worker, m)?)?;
    m.add_function(wrap_pyfunction!(batch::_expand_inputs, m)?)?;
    m.add_class::<batch::Batch>()?;
    m.add_class::<RawPy>()?;
    m.add("Error", py.get_type::<Error>())?;
    m.add("DecodeError", py.get_type::<DecodeError>())?;
    m.add("UnsupportedError", py.get_type::<UnsupportedError>())?;
    m.add("LimitError", py.get_type::<LimitError>())?;
    m.add("ParameterError", py.get_type::<ParameterError>())?;
    m.add("IoError", py.get_type::<IoError>())?;
    Ok(())
}
