//! Orientation: rotating and flipping the finished image by its EXIF Orientation code
//! (TIFF/EP, EXIF 2.32 tag 0x0112), so outputs display upright with Orientation = 1.

/// Size of the image after orientation `code`.
pub fn oriented_size(code: u16, width: usize, height: usize) -> (usize, usize) {
    if code >= 5 {
        (height, width)
    } else {
        (width, height)
    }
}

/// Reorients an interleaved image with `channels` samples per pixel.
///
/// The executor does this while storing its tiles; this whole-buffer version is for callers
/// holding a finished image, and the independent reference the executor is tested against.
/// Takes the buffer by value so the common upright case costs nothing.
pub fn apply<T: Copy + Default>(
    code: u16,
    data: Vec<T>,
    width: usize,
    height: usize,
    channels: usize,
) -> Vec<T> {
    if code <= 1 || code > 8 {
        return data;
    }
    let (ow, oh) = oriented_size(code, width, height);
    let mut out = vec![T::default(); data.len()];
    for oy in 0..oh {
        for ox in 0..ow {
            // Source pixel of output (ox, oy).
            let (sx, sy) = match code {
                2 => (width - 1 - ox, oy),
                3 => (width - 1 - ox, height - 1 - oy),
                4 => (ox, height - 1 - oy),
                5 => (oy, ox),
                6 => (oy, height - 1 - ox),
                7 => (width - 1 - oy, height - 1 - ox),
                _ => (width - 1 - oy, ox),
            };
            let (s, d) = ((sy * width + sx) * channels, (oy * ow + ox) * channels);
            out[d..d + channels].copy_from_slice(&data[s..s + channels]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orientation_6_rotates_clockwise_and_8_counter_clockwise() {
        // 2x1 image [a b] rotated 90 degrees clockwise becomes a column a over b.
        let img = [1u8, 2];
        assert_eq!(apply(6, img.to_vec(), 2, 1, 1), vec![1, 2]);
        assert_eq!(oriented_size(6, 2, 1), (1, 2));
        // 2x2: [1 2; 3 4] -> clockwise [3 1; 4 2], counter-clockwise [2 4; 1 3].
        let sq = [1u8, 2, 3, 4];
        assert_eq!(apply(6, sq.to_vec(), 2, 2, 1), vec![3, 1, 4, 2]);
        assert_eq!(apply(8, sq.to_vec(), 2, 2, 1), vec![2, 4, 1, 3]);
        assert_eq!(apply(3, sq.to_vec(), 2, 2, 1), vec![4, 3, 2, 1]);
        assert_eq!(apply(2, sq.to_vec(), 2, 2, 1), vec![2, 1, 4, 3]);
        assert_eq!(apply(5, sq.to_vec(), 2, 2, 1), vec![1, 3, 2, 4]);
        assert_eq!(apply(7, sq.to_vec(), 2, 2, 1), vec![4, 2, 3, 1]);
    }
}
