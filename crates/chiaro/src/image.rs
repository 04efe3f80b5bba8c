//! In-memory image buffers of the pipeline.
//!
//! All pixel data inside chiaro is `f32` in linear light. The colour space a buffer holds is
//! carried by the stage that produced it and stated in the names of functions and fields
//! (`camera_rgb`, `xyz_d50`, ...), not by a run-time tag on every pixel.

/// One plane of `f32` samples, row-major (a CFA mosaic or a single channel).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plane {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

impl Plane {
    pub fn new(width: usize, height: usize) -> Self {
        Plane {
            width,
            height,
            data: vec![0.0; width * height],
        }
    }
    #[inline(always)]
    pub fn at(&self, y: usize, x: usize) -> f32 {
        self.data[y * self.width + x]
    }
}

/// Interleaved three-channel `f32` image, row-major, `data.len() == 3 * width * height`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rgb {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

impl Rgb {
    pub fn new(width: usize, height: usize) -> Self {
        Rgb {
            width,
            height,
            data: vec![0.0; 3 * width * height],
        }
    }
    #[inline(always)]
    pub fn pixel(&self, y: usize, x: usize) -> [f32; 3] {
        let i = 3 * (y * self.width + x);
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }
}

/// A rectangle in pixel coordinates: `x`, `y` of the top-left corner and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Rect {
    pub x: usize,
    pub y: usize,
    pub width: usize,
    pub height: usize,
}

impl Rect {
    pub fn new(x: usize, y: usize, width: usize, height: usize) -> Self {
        Rect {
            x,
            y,
            width,
            height,
        }
    }
    /// Right edge (exclusive); saturates so hostile sizes cannot wrap around.
    pub fn right(&self) -> usize {
        self.x.saturating_add(self.width)
    }
    /// Bottom edge (exclusive), saturating.
    pub fn bottom(&self) -> usize {
        self.y.saturating_add(self.height)
    }
    /// True when the rectangle is non-empty and lies inside a `width` x `height` image.
    pub fn fits_in(&self, width: usize, height: usize) -> bool {
        self.width > 0
            && self.height > 0
            && self.x.checked_add(self.width).is_some_and(|r| r <= width)
            && self.y.checked_add(self.height).is_some_and(|b| b <= height)
    }
}
