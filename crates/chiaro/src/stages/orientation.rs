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
            let (sx, sy) = source_of(code, width, height, ox, oy);
            let (s, d) = ((sy * width + sx) * channels, (oy * ow + ox) * channels);
            out[d..d + channels].copy_from_slice(&data[s..s + channels]);
        }
    }
    out
}

/// The pixel of a `width` x `height` image that output pixel (`ox`, `oy`) of orientation
/// `code` shows.
pub fn source_of(code: u16, width: usize, height: usize, ox: usize, oy: usize) -> (usize, usize) {
    match code {
        2 => (width - 1 - ox, oy),
        3 => (width - 1 - ox, height - 1 - oy),
        4 => (ox, height - 1 - oy),
        5 => (oy, ox),
        6 => (oy, height - 1 - ox),
        7 => (width - 1 - oy, height - 1 - ox),
        8 => (width - 1 - oy, ox),
        _ => (ox, oy),
    }
}

/// Turning an upright picture: clockwise quarter turns and mirrors, as the orientation code
/// that does it (6: 90 degrees clockwise, 3: 180, 8: 270, 2: mirrored left-right, 4:
/// top-bottom).
pub fn turn_code(rotate_degrees: u32, flip: Option<char>) -> Option<u16> {
    let rotate = match rotate_degrees % 360 {
        0 => 1,
        90 => 6,
        180 => 3,
        270 => 8,
        _ => return None,
    };
    let flip = match flip {
        None => 1,
        Some('h') => 2,
        Some('v') => 4,
        Some(_) => return None,
    };
    Some(compose(rotate, flip))
}

/// The orientation code of `first` followed by `then` (both EXIF codes), found by applying
/// both to a small image with distinct pixels and matching the result.
pub fn compose(first: u16, then: u16) -> u16 {
    let (w, h) = (3, 2);
    let img: Vec<u8> = (0..(w * h) as u8).collect();
    let (w1, h1) = oriented_size(first, w, h);
    let both = apply(then, apply(first, img.clone(), w, h, 1), w1, h1, 1);
    (1..=8)
        .find(|&c| apply(c, img.clone(), w, h, 1) == both)
        .unwrap_or(1)
}

/// The rectangle of a `width` x `height` image that the rectangle `rect` (x, y, w, h) of its
/// orientation-`code` output shows; `None` unless `rect` lies inside the output.
pub fn source_rect(
    code: u16,
    width: usize,
    height: usize,
    rect: (usize, usize, usize, usize),
) -> Option<(usize, usize, usize, usize)> {
    let (ow, oh) = oriented_size(code, width, height);
    let (x, y, w, h) = rect;
    if w == 0 || h == 0 || x.checked_add(w)? > ow || y.checked_add(h)? > oh {
        return None;
    }
    let a = source_of(code, width, height, x, y);
    let b = source_of(code, width, height, x + w - 1, y + h - 1);
    let (x0, x1) = (a.0.min(b.0), a.0.max(b.0));
    let (y0, y1) = (a.1.min(b.1), a.1.max(b.1));
    Some((x0, y0, x1 - x0 + 1, y1 - y0 + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_compose_like_rotations_and_mirrors() {
        // A quarter turn twice is a half turn; four are none; a mirror twice is none.
        assert_eq!(compose(6, 6), 3);
        assert_eq!(compose(compose(6, 6), compose(6, 6)), 1);
        assert_eq!(compose(2, 2), 1);
        // A file stored turned clockwise (6), turned back by 270 degrees, is upright.
        assert_eq!(compose(6, 8), 1);
        assert_eq!(turn_code(90, None), Some(6));
        assert_eq!(turn_code(0, Some('h')), Some(2));
        assert_eq!(turn_code(45, None), None);
        // Every code composed with upright is itself.
        for c in 1..=8 {
            assert_eq!(compose(c, 1), c);
            assert_eq!(compose(1, c), c);
        }
    }

    #[test]
    fn an_output_rectangle_maps_to_the_pixels_it_shows() {
        let (w, h) = (5, 3);
        let img: Vec<u8> = (0..(w * h) as u8).collect();
        for code in 1..=8u16 {
            let (ow, oh) = oriented_size(code, w, h);
            let out = apply(code, img.clone(), w, h, 1);
            let rect = (1, 1, ow - 2, oh - 1);
            let (sx, sy, sw, sh) = source_rect(code, w, h, rect).expect("inside");
            // The source rectangle's pixels, oriented, are the output rectangle's.
            let img = &img;
            let src: Vec<u8> = (sy..sy + sh)
                .flat_map(|y| (sx..sx + sw).map(move |x| img[y * w + x]))
                .collect();
            let got = apply(code, src, sw, sh, 1);
            let out = &out;
            let want: Vec<u8> = (rect.1..rect.1 + rect.3)
                .flat_map(|y| (rect.0..rect.0 + rect.2).map(move |x| out[y * ow + x]))
                .collect();
            assert_eq!(got, want, "code {code}");
        }
        assert_eq!(source_rect(1, w, h, (4, 0, 2, 1)), None);
    }

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
