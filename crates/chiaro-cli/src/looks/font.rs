//! A 5x7 bitmap font for the labels of `chiaro looks sheet`: capitals, digits, '-', '.'
//! and space, drawn white at an integer scale.

/// Rows of a glyph, top first; bit 4 is the leftmost column.
fn glyph(c: char) -> [u8; 7] {
    match c {
        'A' => [14, 17, 17, 31, 17, 17, 17],
        'B' => [30, 17, 17, 30, 17, 17, 30],
        'C' => [14, 17, 16, 16, 16, 17, 14],
        'D' => [30, 17, 17, 17, 17, 17, 30],
        'E' => [31, 16, 16, 30, 16, 16, 31],
        'F' => [31, 16, 16, 30, 16, 16, 16],
        'G' => [14, 17, 16, 23, 17, 17, 15],
        'H' => [17, 17, 17, 31, 17, 17, 17],
        'I' => [14, 4, 4, 4, 4, 4, 14],
        'J' => [7, 2, 2, 2, 2, 18, 12],
        'K' => [17, 18, 20, 24, 20, 18, 17],
        'L' => [16, 16, 16, 16, 16, 16, 31],
        'M' => [17, 27, 21, 21, 17, 17, 17],
        'N' => [17, 17, 25, 21, 19, 17, 17],
        'O' => [14, 17, 17, 17, 17, 17, 14],
        'P' => [30, 17, 17, 30, 16, 16, 16],
        'Q' => [14, 17, 17, 17, 21, 18, 13],
        'R' => [30, 17, 17, 30, 20, 18, 17],
        'S' => [15, 16, 16, 14, 1, 1, 30],
        'T' => [31, 4, 4, 4, 4, 4, 4],
        'U' => [17, 17, 17, 17, 17, 17, 14],
        'V' => [17, 17, 17, 17, 17, 10, 4],
        'W' => [17, 17, 17, 21, 21, 21, 10],
        'X' => [17, 17, 10, 4, 10, 17, 17],
        'Y' => [17, 17, 10, 4, 4, 4, 4],
        'Z' => [31, 1, 2, 4, 8, 16, 31],
        '0' => [14, 17, 19, 21, 25, 17, 14],
        '1' => [4, 12, 4, 4, 4, 4, 14],
        '2' => [14, 17, 1, 2, 4, 8, 31],
        '3' => [31, 2, 4, 2, 1, 17, 14],
        '4' => [2, 6, 10, 18, 31, 2, 2],
        '5' => [31, 16, 30, 1, 1, 17, 14],
        '6' => [6, 8, 16, 30, 17, 17, 14],
        '7' => [31, 1, 2, 4, 8, 8, 8],
        '8' => [14, 17, 17, 14, 17, 17, 14],
        '9' => [14, 17, 17, 15, 1, 2, 12],
        '-' => [0, 0, 0, 31, 0, 0, 0],
        '.' => [0, 0, 0, 0, 0, 12, 12],
        _ => [0; 7],
    }
}

/// Draws `text` into interleaved 8-bit RGB `px` (rows of `width` pixels) with its top-left
/// corner at (`x`, `y`), each font pixel `scale` x `scale`; what falls outside is left out.
pub fn draw(px: &mut [u8], width: usize, x: usize, y: usize, scale: usize, text: &str) {
    let height = px.len() / (3 * width.max(1));
    for (i, c) in text.chars().enumerate() {
        let left = x + i * 6 * scale;
        for (r, bits) in glyph(c).iter().enumerate() {
            for col in 0..5 {
                if bits & (1 << (4 - col)) == 0 {
                    continue;
                }
                for dy in 0..scale {
                    for dx in 0..scale {
                        let (px_x, px_y) = (left + col * scale + dx, y + r * scale + dy);
                        if px_x < width && px_y < height {
                            let at = (px_y * width + px_x) * 3;
                            px[at..at + 3].fill(255);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_character_has_a_glyph_and_text_lands_inside() {
        for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.".chars() {
            assert!(glyph(c).iter().any(|&r| r != 0), "{c}");
            assert!(glyph(c).iter().all(|&r| r < 32), "{c}");
        }
        let mut px = vec![0u8; 40 * 10 * 3];
        draw(&mut px, 40, 1, 1, 1, "I");
        // The I's top bar: columns 1..4 of the glyph, row 0.
        let lit: Vec<usize> = (0..40).filter(|&x| px[(40 + x) * 3] == 255).collect();
        assert_eq!(lit, vec![2, 3, 4]);
        // Text running past the edge is clipped, not a panic.
        draw(&mut px, 40, 35, 8, 2, "WWW");
    }
}
