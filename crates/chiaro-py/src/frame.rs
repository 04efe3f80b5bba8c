//! chiaro's own API beyond rawpy: frames (the unit rendering takes, from a file or from
//! numpy), recipes, development of either into an array, and single stages for research.

use std::path::PathBuf;
use std::sync::Arc;

use chiaro::Limits;
use chiaro::batch::{DevelopOptions, Job, Reader};
use chiaro::io::Pixels;
use chiaro::pipeline::Frame as EngineFrame;
use chiaro::pipeline::Recipe as EngineRecipe;
use chiaro::raw::{CfaPattern, ColorCalibration};
use chiaro::stages::demosaic::DemosaicMethod;
use numpy::{PyReadonlyArray2, PyReadonlyArray3, PyUntypedArrayMethods};
use pyo3::prelude::*;

use crate::{param, py_err, read};

/// A pattern from Python: a Bayer name (`"RGGB"`), `"X-Trans"`, or rows of colour indices
/// (0 red, 1 green, 2 blue, 3 the second green, as rawpy's `raw_pattern`). Gives the pattern
/// and the rows as given (the indices `black` levels are listed by).
fn pattern_of(p: &Bound<'_, PyAny>) -> PyResult<(CfaPattern, Vec<Vec<u8>>)> {
    let rows: Vec<Vec<u8>> = if let Ok(name) = p.extract::<String>() {
        let pat = if name.eq_ignore_ascii_case("x-trans") || name.eq_ignore_ascii_case("xtrans") {
            CfaPattern::xtrans()
        } else {
            CfaPattern::bayer(&name).map_err(py_err)?
        };
        (0..pat.height())
            .map(|y| (0..pat.width()).map(|x| pat.color(y, x)).collect())
            .collect()
    } else {
        p.call_method0("tolist")
            .unwrap_or_else(|_| p.clone())
            .extract()
            .map_err(|_| {
                param("a CFA pattern is a name such as \"RGGB\" or rows of colour indices")
            })?
    };
    let h = rows.len();
    let w = rows.first().map_or(0, Vec::len);
    if rows.iter().any(|r| r.len() != w) {
        return Err(param("a CFA pattern's rows must have one length"));
    }
    let colors: Vec<u8> = rows
        .iter()
        .flatten()
        .map(|&c| if c == 3 { 1 } else { c })
        .collect();
    Ok((CfaPattern::new(w, h, &colors).map_err(py_err)?, rows))
}

/// `data` as a C-ordered float32 numpy array.
fn float32<'py>(data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    data.py()
        .import("numpy")?
        .call_method1("ascontiguousarray", (data, "float32"))
}

/// A mosaic from Python (any 2-D numeric array) as float32 with its height and width,
/// checked against the limits for an image of `channels` per pixel.
fn mosaic<'py>(
    data: &Bound<'py, PyAny>,
    channels: usize,
) -> PyResult<(PyReadonlyArray2<'py, f32>, usize, usize)> {
    let array: PyReadonlyArray2<'py, f32> = float32(data)?
        .extract()
        .map_err(|_| param("a mosaic is a 2-D array (height, width)"))?;
    let [h, w] = [array.shape()[0], array.shape()[1]];
    Limits::default()
        .check_image(w, h, channels)
        .map_err(py_err)?;
    Ok((array, h, w))
}

/// Black levels: one number, or one per colour index (rawpy's `black_level_per_channel`).
fn levels(black: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<f32>> {
    let Some(b) = black else {
        return Ok(vec![0.0]);
    };
    if let Ok(v) = b.extract::<f32>() {
        return Ok(vec![v]);
    }
    let v: Vec<f32> = b
        .call_method0("tolist")
        .unwrap_or_else(|_| b.clone())
        .extract()
        .map_err(|_| param("black is a number or a list of numbers, one per colour index"))?;
    if v.is_empty() {
        return Err(param("black needs at least one level"));
    }
    Ok(v)
}

/// A colour calibration from the DNG tags Python gives (a ColorMatrix for D65 light).
fn calibration(
    color_matrix: Option<[[f64; 3]; 3]>,
    forward_matrix: Option<[[f64; 3]; 3]>,
    as_shot_neutral: Option<[f64; 3]>,
    baseline_exposure: f64,
) -> ColorCalibration {
    ColorCalibration {
        color_matrix1: color_matrix,
        forward_matrix1: forward_matrix,
        illuminant1: if color_matrix.is_some() { 21 } else { 0 },
        as_shot_neutral,
        baseline_exposure,
        ..ColorCalibration::default()
    }
}

/// Normalised samples and the metadata rendering needs (the engine's `Frame`): made from a
/// raw file, or from numpy arrays for merged bursts, simulations and research.
#[pyclass(module = "chiaro", name = "Frame", frozen)]
pub(crate) struct Frame {
    pub(crate) frame: Arc<EngineFrame>,
}

#[pymethods]
impl Frame {
    /// A mosaic frame from a (height, width) array of sensor values, any numeric type.
    ///
    /// `pattern`: a Bayer name (`"RGGB"`), `"X-Trans"`, or rows of colour indices anchored
    /// at the array's top-left (rawpy's `raw_pattern`, 3 for the second green). Samples are
    /// normalised as `(value - black) / (white - black)`: `black` is one level or one per
    /// colour index (rawpy's `black_level_per_channel`), `white` the saturation level;
    /// without them the values are taken as normalised already (0 black, 1 white).
    /// `color_matrix` (XYZ to camera, 3x3, for D65 light), `forward_matrix` (white-balanced
    /// camera to XYZ D50), `as_shot_neutral` (the camera's response to white) and
    /// `baseline_exposure` (EV) are the DNG tags of those names; without a matrix, camera
    /// RGB is taken as linear sRGB. `orientation` is the EXIF code (1 upright).
    #[staticmethod]
    #[pyo3(signature = (data, pattern, black=None, white=None, color_matrix=None,
                        forward_matrix=None, as_shot_neutral=None, baseline_exposure=0.0,
                        orientation=1))]
    #[allow(clippy::too_many_arguments)]
    fn from_cfa(
        data: &Bound<'_, PyAny>,
        pattern: &Bound<'_, PyAny>,
        black: Option<&Bound<'_, PyAny>>,
        white: Option<f32>,
        color_matrix: Option<[[f64; 3]; 3]>,
        forward_matrix: Option<[[f64; 3]; 3]>,
        as_shot_neutral: Option<[f64; 3]>,
        baseline_exposure: f64,
        orientation: u16,
    ) -> PyResult<Frame> {
        let py = data.py();
        let (array, h, w) = mosaic(data, 1)?;
        let (p, rows) = pattern_of(pattern)?;
        let black = levels(black)?;
        let white = white.unwrap_or(1.0);
        let (ph, pw) = (rows.len(), rows[0].len());
        // 1 / (white - black) of each colour index.
        let level = |i: usize| black[i.min(black.len() - 1)];
        let scale: Vec<f32> = (0..4).map(|i| 1.0 / (white - level(i))).collect();
        if scale.iter().any(|s| !s.is_finite() || *s <= 0.0) {
            return Err(param("white must lie above every black level"));
        }
        let view = array.as_array();
        let samples: Vec<f32> = py.detach(|| {
            let mut out = Vec::with_capacity(w * h);
            for (y, row) in view.rows().into_iter().enumerate() {
                let idx = &rows[y % ph];
                out.extend(row.iter().enumerate().map(|(x, &v)| {
                    let c = usize::from(idx[x % pw]).min(3);
                    (v - level(c)) * scale[c]
                }));
            }
            out
        });
        let color = calibration(
            color_matrix,
            forward_matrix,
            as_shot_neutral,
            baseline_exposure,
        );
        let frame = EngineFrame::from_cfa(w, h, samples, p)
            .and_then(|f| f.with_color(color).with_orientation(orientation))
            .map_err(py_err)?;
        Ok(Frame {
            frame: Arc::new(frame),
        })
    }

    /// A frame of linear camera RGB from a (height, width, 3) array, not white-balanced,
    /// normalised by one `black` and `white` level as in `from_cfa`.
    #[staticmethod]
    #[pyo3(signature = (data, black=0.0, white=1.0, color_matrix=None, forward_matrix=None,
                        as_shot_neutral=None, baseline_exposure=0.0))]
    #[allow(clippy::too_many_arguments)]
    fn from_rgb(
        data: &Bound<'_, PyAny>,
        black: f32,
        white: f32,
        color_matrix: Option<[[f64; 3]; 3]>,
        forward_matrix: Option<[[f64; 3]; 3]>,
        as_shot_neutral: Option<[f64; 3]>,
        baseline_exposure: f64,
    ) -> PyResult<Frame> {
        let array = float32(data)?;
        let array: PyReadonlyArray3<'_, f32> = array
            .extract()
            .map_err(|_| param("an RGB frame is a 3-D array (height, width, 3)"))?;
        let s = array.shape();
        if s[2] != 3 {
            return Err(param(format!(
                "an RGB frame needs 3 channels, not {}",
                s[2]
            )));
        }
        if white <= black {
            return Err(param("white must lie above black"));
        }
        Limits::default()
            .check_image(s[1], s[0], 3)
            .map_err(py_err)?;
        let k = 1.0 / (white - black);
        let view = array.as_array();
        let samples: Vec<f32> = data
            .py()
            .detach(|| view.iter().map(|&v| (v - black) * k).collect());
        let color = calibration(
            color_matrix,
            forward_matrix,
            as_shot_neutral,
            baseline_exposure,
        );
        let frame = EngineFrame::from_rgb(s[1], s[0], samples)
            .map_err(py_err)?
            .with_color(color);
        Ok(Frame {
            frame: Arc::new(frame),
        })
    }

    /// The frame of a raw file: read (camera raws in a worker process) and prepared
    /// (black and white levels, GainMap, the file's colour calibration), GIL released.
    #[staticmethod]
    fn from_file(py: Python<'_>, path: PathBuf) -> PyResult<Frame> {
        let raw = read(py, &path)?;
        let frame = py
            .detach(|| chiaro::pipeline::prepare(&raw, &Limits::default()))
            .map_err(|e| py_err(e.with_path(&path)))?;
        Ok(Frame {
            frame: Arc::new(frame),
        })
    }

    #[getter]
    fn width(&self) -> usize {
        self.frame.width()
    }

    #[getter]
    fn height(&self) -> usize {
        self.frame.height()
    }

    /// The CFA pattern's name (`RGGB`, `X-Trans`, ...), or `None` for an RGB frame.
    #[getter]
    fn pattern(&self) -> Option<String> {
        self.frame.pattern().map(CfaPattern::name)
    }

    /// The normalised samples: (height, width) float32 for a mosaic, (height, width, 3) for
    /// RGB. A copy.
    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let (h, w, c) = (
            self.frame.height(),
            self.frame.width(),
            self.frame.channels(),
        );
        crate::image(py, h, w, c, self.frame.data().to_vec())
    }

    fn __repr__(&self) -> String {
        format!(
            "<chiaro.Frame {}x{} {}>",
            self.frame.width(),
            self.frame.height(),
            self.pattern().unwrap_or_else(|| "RGB".into())
        )
    }
}

/// A development recipe: the stages and their parameters, as chiaro's recipe TOML holds
/// them.
#[pyclass(module = "chiaro", name = "Recipe", frozen)]
pub(crate) struct Recipe {
    pub(crate) recipe: EngineRecipe,
}

#[pymethods]
impl Recipe {
    /// A recipe from TOML text: the stages it names replace the default ones.
    #[staticmethod]
    fn from_toml(text: &str) -> PyResult<Recipe> {
        let recipe = EngineRecipe::from_toml_over_defaults(text).map_err(py_err)?;
        recipe.validate().map_err(py_err)?;
        Ok(Recipe { recipe })
    }

    /// The default recipe.
    #[staticmethod]
    fn default() -> Recipe {
        Recipe {
            recipe: EngineRecipe::default(),
        }
    }

    fn to_toml(&self) -> PyResult<String> {
        self.recipe.to_toml().map_err(py_err)
    }

    /// The stages' names, in order.
    #[getter]
    fn stages(&self) -> Vec<&'static str> {
        self.recipe.stages.iter().map(|s| s.name()).collect()
    }

    fn __repr__(&self) -> String {
        format!("<chiaro.Recipe: {}>", self.stages().join(", "))
    }
}

/// Reads a recipe TOML file (as `chiaro develop --recipe` does).
#[pyfunction]
pub(crate) fn read_recipe(path: PathBuf) -> PyResult<Recipe> {
    let text = std::fs::read_to_string(&path)
        .map_err(|e| py_err(chiaro::Error::io(e).with_path(&path)))?;
    let recipe = EngineRecipe::from_toml_over_defaults(&text)
        .and_then(|r| r.validate().map(|()| r))
        .map_err(|e| py_err(e.with_path(&path)))?;
    Ok(Recipe { recipe })
}

/// Develops `frame` with the develop options `options_json` (`chiaro::batch::DevelopOptions`
/// as JSON) over `recipe` (else the options' recipe file or the default); the image as an
/// array of the options' bits, and the development's notes. GIL released.
pub(crate) fn develop_frame<'py>(
    py: Python<'py>,
    frame: EngineFrame,
    options_json: &str,
    recipe: Option<&Recipe>,
) -> PyResult<(Bound<'py, PyAny>, Vec<String>)> {
    let mut options = DevelopOptions::from_json(options_json).map_err(py_err)?;
    // In memory every bit depth goes; TIFF is the format that takes them all.
    options.format = Some("tiff".into());
    let mut job = Job::new(&options, None, Reader(None)).map_err(py_err)?;
    if let Some(r) = recipe {
        job.recipe = options
            .build_recipe_over(r.recipe.clone())
            .map_err(py_err)?;
    }
    let source = frame.source().to_string();
    let (image, notes) = py.detach(|| job.develop_frame(frame)).map_err(|e| {
        let e = if e.path().is_none() && !source.is_empty() {
            e.with_path(std::path::Path::new(&source))
        } else {
            e
        };
        py_err(e)
    })?;
    let notes = notes
        .into_iter()
        .map(|(s, n)| format!("{s}: {n}"))
        .collect();
    Ok((to_numpy(py, image)?, notes))
}

/// Develops a frame (see `chiaro.develop`).
#[pyfunction]
#[pyo3(signature = (frame, options_json, recipe=None))]
pub(crate) fn _develop_frame<'py>(
    py: Python<'py>,
    frame: &Frame,
    options_json: &str,
    recipe: Option<&Recipe>,
) -> PyResult<(Bound<'py, PyAny>, Vec<String>)> {
    develop_frame(py, (*frame.frame).clone(), options_json, recipe)
}

/// An output image as a (height, width, 3) array of its sample type.
pub(crate) fn to_numpy(py: Python<'_>, img: chiaro::io::OutputImage) -> PyResult<Bound<'_, PyAny>> {
    let shape = [img.height, img.width, 3];
    match img.pixels {
        Pixels::U8(v) => crate::array(py, &shape, v),
        Pixels::U16(v) => crate::array(py, &shape, v),
        Pixels::F32(v) => crate::array(py, &shape, v),
    }
}

/// Demosaics a mosaic (a (height, width) array, normalised and white-balanced) whose CFA
/// `pattern` (as in `Frame.from_cfa`) is anchored at its top-left, with `method` (chiaro's
/// names: `rcd-fit`, `rcd`, `mlri`, `malvar`, `bilinear`, `markesteijn`, ...); a (height,
/// width, 3) float32 array in the same units, the samples at each site kept. GIL released.
#[pyfunction]
#[pyo3(signature = (cfa, pattern, method="rcd-fit"))]
pub(crate) fn demosaic<'py>(
    py: Python<'py>,
    cfa: &Bound<'py, PyAny>,
    pattern: &Bound<'py, PyAny>,
    method: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let (cfa, h, w) = mosaic(cfa, 3)?;
    let (p, _) = pattern_of(pattern)?;
    let method = DemosaicMethod::from_name(method)
        .map_err(py_err)?
        .for_pattern(&p);
    let view = cfa.as_array();
    let rgb = py
        .detach(|| {
            let samples: Vec<f32> = view.iter().copied().collect();
            chiaro::stages::demosaic::demosaic(method, &samples, w, h, &p)
        })
        .map_err(py_err)?;
    crate::array(py, &[h, w, 3], rgb)
}
