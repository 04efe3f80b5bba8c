//! Colour filter array layouts: 2x2 Bayer and 6x6 X-Trans.

use crate::error::{Error, Result};

/// Colour index of a CFA site: 0 = red, 1 = green, 2 = blue.
pub type CfaColor = u8;

/// A repeating colour filter pattern of up to 6x6 sites.
///
/// `color(y, x)` gives the filter colour of the sensor site at row `y`, column `x`
/// of the image the pattern is anchored to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CfaPattern {
    width: usize,
    height: usize,
    colors: [CfaColor; 36],
}

impl CfaPattern {
    /// Builds a pattern from its rows (`colors.len() == width * height`), colours 0..=2.
    pub fn new(width: usize, height: usize, colors: &[CfaColor]) -> Result<Self> {
        if !(1..=6).contains(&width) || !(1..=6).contains(&height) || colors.len() != width * height
        {
            return Err(Error::unsupported(format!(
                "CFA pattern of {width}x{height} sites"
            )));
        }
        if colors.iter().any(|&c| c > 2) {
            return Err(Error::unsupported(
                "CFA pattern with colours other than red, green, blue",
            ));
        }
        for c in 0..3u8 {
            if !colors.contains(&c) {
                return Err(Error::unsupported(
                    "CFA pattern lacks one of red, green, blue",
                ));
            }
        }
        let mut a = [0; 36];
        a[..colors.len()].copy_from_slice(colors);
        Ok(CfaPattern {
            width,
            height,
            colors: a,
        })
    }

    /// Parses a Bayer pattern name such as `RGGB`.
    pub fn bayer(name: &str) -> Result<Self> {
        let colors: Vec<CfaColor> = name
            .chars()
            .map(|c| match c.to_ascii_uppercase() {
                'R' => Ok(0),
                'G' => Ok(1),
                'B' => Ok(2),
                _ => Err(Error::parameter(format!(
                    "unknown CFA colour '{c}' in '{name}'"
                ))),
            })
            .collect::<Result<_>>()?;
        if colors.len() != 4 {
            return Err(Error::parameter(format!(
                "Bayer pattern '{name}' must have 4 sites"
            )));
        }
        Self::new(2, 2, &colors)
    }

    /// The Fujifilm X-Trans layout (as in the X-T3), anchored at the top-left.
    pub fn xtrans() -> Self {
        #[rustfmt::skip]
        const X: [CfaColor; 36] = [
            1, 1, 0, 1, 1, 2,
            1, 1, 2, 1, 1, 0,
            2, 0, 1, 0, 2, 1,
            1, 1, 2, 1, 1, 0,
            1, 1, 0, 1, 1, 2,
            0, 2, 1, 2, 0, 1,
        ];
        CfaPattern {
            width: 6,
            height: 6,
            colors: X,
        }
    }

    pub fn width(&self) -> usize {
        self.width
    }
    pub fn height(&self) -> usize {
        self.height
    }

    /// Filter colour at image row `y`, column `x`.
    #[inline(always)]
    pub fn color(&self, y: usize, x: usize) -> CfaColor {
        self.colors[(y % self.height) * self.width + x % self.width]
    }

    /// True for a 2x2 pattern with the greens on one diagonal and red and blue on the other
    /// (RGGB, BGGR, GRBG, GBRG).
    pub fn is_bayer(&self) -> bool {
        if self.width != 2 || self.height != 2 {
            return false;
        }
        let (a, b, c, d) = (
            self.color(0, 0),
            self.color(0, 1),
            self.color(1, 0),
            self.color(1, 1),
        );
        let diagonal =
            |g1: u8, g2: u8, x: u8, y: u8| g1 == 1 && g2 == 1 && x != 1 && y != 1 && x != y;
        diagonal(a, d, b, c) || diagonal(b, c, a, d)
    }

    /// The same pattern seen from an image that starts at (`y`, `x`) of this one.
    pub fn shifted(&self, y: usize, x: usize) -> Self {
        let mut a = [0; 36];
        for r in 0..self.height {
            for c in 0..self.width {
                a[r * self.width + c] = self.color(r + y, c + x);
            }
        }
        CfaPattern { colors: a, ..*self }
    }

    /// A short name: `RGGB` for Bayer, `X-Trans` for 6x6, otherwise `WxH`.
    pub fn name(&self) -> String {
        if self.width == 2 && self.height == 2 {
            (0..4)
                .map(|i| ['R', 'G', 'B'][self.color(i / 2, i % 2) as usize])
                .collect()
        } else if self.width == 6 && self.height == 6 {
            "X-Trans".into()
        } else {
            format!("{}x{}", self.width, self.height)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bayer_shift_moves_the_pattern_origin() {
        let p = CfaPattern::bayer("RGGB").expect("valid");
        assert!(p.is_bayer());
        assert_eq!(p.shifted(0, 1).name(), "GRBG");
        assert_eq!(p.shifted(1, 1).name(), "BGGR");
        assert_eq!(p.shifted(1, 0).name(), "GBRG");
    }

    #[test]
    fn xtrans_has_every_colour_in_each_row_and_column() {
        let p = CfaPattern::xtrans();
        assert!(!p.is_bayer());
        for i in 0..6 {
            for c in 0..3 {
                assert!((0..6).any(|j| p.color(i, j) == c));
                assert!((0..6).any(|j| p.color(j, i) == c));
            }
        }
    }

    #[test]
    fn bad_patterns_are_rejected() {
        assert!(CfaPattern::bayer("RGGX").is_err());
        assert!(CfaPattern::bayer("RRGG").is_err());
        assert!(!CfaPattern::bayer("RGBG").expect("valid colours").is_bayer());
        assert!(CfaPattern::new(2, 2, &[0, 0, 0, 0]).is_err());
    }
}
