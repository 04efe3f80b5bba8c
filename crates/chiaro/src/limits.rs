//! Resource limits checked before any allocation driven by file contents.
//!
//! A hostile file can claim a 2^32 x 2^32 image; every reader asks [`Limits`] before it
//! allocates, and allocates fallibly, so such a file is an error, never an abort.

use crate::error::{Error, Result};

/// Upper bounds on what one decode may allocate.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest width or height in pixels.
    pub max_dimension: usize,
    /// Largest number of samples (pixels x components) in one image.
    pub max_samples: usize,
    /// Largest single allocation in bytes.
    pub max_alloc_bytes: usize,
    /// Largest number of strips or tiles in one image.
    pub max_tiles: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_dimension: 65_535,
            max_samples: 400_000_000,
            max_alloc_bytes: 4 << 30,
            max_tiles: 1 << 20,
        }
    }
}

impl Limits {
    /// Checks an image size against the limits.
    pub fn check_image(&self, width: usize, height: usize, components: usize) -> Result<usize> {
        if width == 0 || height == 0 {
            return Err(Error::decode(format!(
                "image size {width}x{height} is empty"
            )));
        }
        if width > self.max_dimension || height > self.max_dimension {
            return Err(Error::limits(format!(
                "image size {width}x{height} exceeds the {} px limit",
                self.max_dimension
            )));
        }
        let samples = width
            .checked_mul(height)
            .and_then(|n| n.checked_mul(components))
            .filter(|&n| n <= self.max_samples)
            .ok_or_else(|| {
                Error::limits(format!(
                    "image of {width}x{height}x{components} samples exceeds the limit of {}",
                    self.max_samples
                ))
            })?;
        Ok(samples)
    }
}

/// An empty vector with room for `n` elements, reserved fallibly after checking the byte
/// size against `limits.max_alloc_bytes`: the one place readers allocate buffers whose size
/// comes from file data, so that a hostile size is a `Limits` error, never an abort.
pub fn try_with_capacity<T>(n: usize, limits: &Limits) -> Result<Vec<T>> {
    let bytes = n.saturating_mul(std::mem::size_of::<T>());
    if bytes > limits.max_alloc_bytes {
        return Err(Error::limits(format!(
            "allocation of {bytes} bytes exceeds the {} byte limit",
            limits.max_alloc_bytes
        )));
    }
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|_| Error::limits(format!("cannot allocate {bytes} bytes")))?;
    Ok(v)
}

/// Allocates a zeroed vector of `n` elements without aborting on failure.
pub fn try_vec<T: Clone + Default>(n: usize, limits: &Limits) -> Result<Vec<T>> {
    let mut v = try_with_capacity(n, limits)?;
    v.resize(n, T::default());
    Ok(v)
}

/// [`try_vec`] for the large image buffers: the zeroes are written by all threads of the
/// current rayon pool (the first touch of fresh pages is most of the cost), into memory
/// reserved fallibly beforehand.
pub fn try_vec_par<T: Copy + Default + Send>(n: usize, limits: &Limits) -> Result<Vec<T>> {
    use rayon::prelude::*;
    let mut v = try_with_capacity(n, limits)?;
    // Fills the capacity reserved above in place (rayon reserves only what is missing).
    (0..n)
        .into_par_iter()
        .map(|_| T::default())
        .collect_into_vec(&mut v);
    Ok(v)
}

/// Reads a side file (a profile, a LUT) of at most `max_bytes`, whatever its metadata says
/// (a FIFO or a device reports no size): more is an error naming the limit.
pub fn read_side_file(path: &std::path::Path, max_bytes: usize) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(max_bytes as u64 + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() > max_bytes {
        return Err(Error::limits(format!(
            "the file is larger than the {max_bytes} byte limit for it"
        )));
    }
    Ok(bytes)
}

/// Reads a whole file into memory after checking its size against the limits, with a
/// fallible allocation (a 100 GB "raw" is an error, not an abort or an hour of reading).
pub fn read_file_bounded(path: &std::path::Path, limits: &Limits) -> Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let len = usize::try_from(len)
        .ok()
        .filter(|&n| n <= limits.max_alloc_bytes)
        .ok_or_else(|| {
            Error::limits(format!(
                "the file is {len} bytes, more than the {} byte limit",
                limits.max_alloc_bytes
            ))
        })?;
    // Large files are read by all threads in parallel chunks: most of a read from the page
    // cache is faulting in the fresh buffer's pages, which then happens on every core.
    #[cfg(unix)]
    if len >= 2 * READ_CHUNK {
        use rayon::prelude::*;
        use std::os::unix::fs::FileExt;
        let mut v = try_vec_par::<u8>(len, limits)?;
        v.par_chunks_mut(READ_CHUNK)
            .enumerate()
            .try_for_each(|(i, chunk)| f.read_exact_at(chunk, (i * READ_CHUNK) as u64))
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => {
                    Error::decode("the file became shorter while it was read")
                }
                _ => e.into(),
            })?;
        return Ok(v);
    }
    let mut v = try_with_capacity::<u8>(len, limits)?;
    // `take` stops a file that grows while it is read at the size that was checked.
    f.take(len as u64).read_to_end(&mut v)?;
    Ok(v)
}

/// Bytes one thread reads at a time in [`read_file_bounded`].
const READ_CHUNK: usize = 4 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_read_returns_the_file_whole_in_parallel_chunks_too() {
        let dir = tempfile::tempdir().expect("temp dir");
        for len in [0, 1000, 2 * READ_CHUNK, 3 * READ_CHUNK + 12_345] {
            let want: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let path = dir.path().join(format!("f{len}"));
            std::fs::write(&path, &want).expect("written");
            let got = read_file_bounded(&path, &Limits::default()).expect("read");
            assert!(got == want, "{len} bytes read back differently");
        }
        let small = Limits {
            max_alloc_bytes: 999,
            ..Limits::default()
        };
        let e = read_file_bounded(&dir.path().join("f1000"), &small).expect_err("too big");
        assert_eq!(e.kind(), crate::ErrorKind::Limits);
    }

    #[test]
    fn limits_reject_huge_images_before_allocating() {
        let l = Limits::default();
        assert!(l.check_image(100_000, 10, 1).is_err());
        assert!(l.check_image(60_000, 60_000, 3).is_err());
        assert!(l.check_image(0, 10, 1).is_err());
        assert_eq!(l.check_image(10, 10, 3).ok(), Some(300));
        assert!(try_vec::<f32>(usize::MAX / 2, &l).is_err());
        assert!(try_vec_par::<f32>(usize::MAX / 2, &l).is_err());
        assert_eq!(
            try_vec_par::<u16>(100_000, &l).ok(),
            Some(vec![0u16; 100_000])
        );
        let e = try_with_capacity::<u64>(1 << 40, &l).expect_err("over the limit");
        assert_eq!(e.kind(), crate::ErrorKind::Limits);
        let small = Limits {
            max_alloc_bytes: 16,
            ..l
        };
        assert!(try_with_capacity::<u8>(16, &small).is_ok());
        assert!(try_with_capacity::<u8>(17, &small).is_err());
    }
}
