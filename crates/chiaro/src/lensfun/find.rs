//! Finding a camera and a lens from EXIF facts, as lensfun 0.3 scores them
//! (`lfDatabase::FindCamerasExt`, `FindLenses`, `lfFuzzyStrCmp`).
//!
//! Names are compared word by word: a name splits into runs of digits (with '.'),
//! punctuation and other characters, lower-cased and sorted, without single punctuation
//! marks and a lone "f" ("AF-S DX Nikkor 35mm f/1.8G" -> `1.8 35 af dx g mm nikkor s`).
//! Every word of the EXIF name must be in the database name; the score is `200 * matched /
//! (words in both)`.

use super::{Camera, Database, Lens, norm, same};

/// Focal range (mm) and widest f-number a lens name states; 0 where it states none.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct NameFacts {
    /// (shortest, longest); the longest is 0 for a prime.
    pub focal: (f64, f64),
    pub aperture: f64,
}

/// lensfun's three name patterns (`lens.cpp`, `lens_name_regex`), with the groups that hold
/// the shortest and longest focal length and the widest f-number.
const NAME_PATTERNS: [(&str, [usize; 3]); 3] = [
    // [min focal]-[max focal]mm f/[min aperture]-[max aperture]
    (
        r"(?i)([[:space:]]+|^)([0-9]+[0-9.]*)(-[0-9]+[0-9.]*)?(mm)?[[:space:]]+(f/|f|1/|1:)?([0-9.]+)(-[0-9.]+)?",
        [2, 3, 6],
    ),
    // 1:[min aperture]-[max aperture] [min focal]-[max focal]mm
    (
        r"(?i)[[:space:]]+1:([0-9.]+)(-[0-9.]+)?[[:space:]]+([0-9.]+)(-[0-9.]+)?(mm)?",
        [3, 4, 1],
    ),
    // [min aperture]-[max aperture]/[min focal]-[max focal]
    (
        r"(?i)([0-9.]+)(-[0-9.]+)?[[:space:]]*/[[:space:]]*([0-9.]+)(-[0-9.]+)?",
        [3, 4, 1],
    ),
];

/// [`NAME_PATTERNS`] compiled once (a test checks that all of them compile, so none is
/// left out here).
fn name_patterns() -> &'static [(regex::Regex, [usize; 3])] {
    static PATTERNS: std::sync::OnceLock<Vec<(regex::Regex, [usize; 3])>> =
        std::sync::OnceLock::new();
    PATTERNS.get_or_init(|| {
        NAME_PATTERNS
            .iter()
            .filter_map(|(p, groups)| regex::Regex::new(p).ok().map(|re| (re, *groups)))
            .collect()
    })
}

/// What lensfun reads out of a lens name ("Nikkor 18-55mm f/3.5-5.6", "Leica 1:2 50mm"):
/// the first of its patterns that matches decides; 0 where the name says nothing.
pub fn guess_from_name(name: &str) -> NameFacts {
    // C's atof: the longest leading number, the separator '-' skipped.
    let number = |m: Option<regex::Match<'_>>| -> f64 {
        let Some(m) = m else { return 0.0 };
        let t = m.as_str().trim_start_matches('-');
        let mut end = 0;
        let mut dot = false;
        for (i, c) in t.char_indices() {
            match c {
                '0'..='9' => end = i + 1,
                '.' if !dot => dot = true,
                _ => break,
            }
        }
        t[..end].parse::<f64>().unwrap_or(0.0)
    };
    for (re, [lo, hi, ap]) in name_patterns() {
        if let Some(c) = re.captures(name) {
            return NameFacts {
                focal: (number(c.get(*lo)), number(c.get(*hi))),
                aperture: number(c.get(*ap)),
            };
        }
    }
    NameFacts::default()
}

/// The sorted, lower-cased words of a name.
pub fn words(s: &str) -> Vec<String> {
    #[derive(PartialEq, Clone, Copy)]
    enum Class {
        Digit,
        Punct,
        Other,
    }
    let class = |c: char| {
        if c.is_ascii_digit() || c == '.' {
            Class::Digit
        } else if c.is_ascii_punctuation() {
            Class::Punct
        } else {
            Class::Other
        }
    };
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut cur_class = Class::Other;
    let flush = |cur: &mut String, out: &mut Vec<String>| {
        let w = std::mem::take(cur).to_lowercase();
        let single_punct = w.chars().count() == 1 && w.chars().all(|c| c.is_ascii_punctuation());
        if !w.is_empty() && w != "f" && (!single_punct || w == "*" || w == "+") {
            out.push(w);
        }
    };
    for c in s.chars() {
        if c.is_whitespace() {
            flush(&mut cur, &mut out);
            continue;
        }
        let k = class(c);
        if !cur.is_empty() && k != cur_class {
            flush(&mut cur, &mut out);
        }
        cur_class = k;
        cur.push(c);
    }
    flush(&mut cur, &mut out);
    out.sort();
    out
}

/// How well `candidate` matches `pattern` (0: not every pattern word is there; up to 100
/// for the same words).
pub fn fuzzy(pattern: &str, candidate: &str) -> u32 {
    fuzzy_words(&words(pattern), candidate)
}

/// [`fuzzy`] of a pattern already split into [`words`].
fn fuzzy_words(p: &[String], candidate: &str) -> u32 {
    let mut c = words(candidate);
    if p.is_empty() {
        return 0;
    }
    let total = p.len() + c.len();
    for w in p {
        match c.iter().position(|x| x == w) {
            Some(i) => {
                c.remove(i);
            }
            None => return 0,
        }
    }
    (200 * p.len() / total) as u32
}

fn best_fuzzy(pattern: &[String], names: &[String]) -> u32 {
    names
        .iter()
        .map(|n| fuzzy_words(pattern, n))
        .max()
        .unwrap_or(0)
}

/// The EXIF lens name lensfun is asked with: darktable cuts alternatives (" or ") and
/// remarks (" (") off.
pub fn lens_query(exif_lens: &str) -> &str {
    let mut q = exif_lens.trim();
    for cut in [" or ", " ("] {
        if let Some(i) = q.find(cut) {
            q = q[..i].trim_end();
        }
    }
    q
}

impl Database {
    /// The camera EXIF's Make and Model name: an exact match (any translation, any case)
    /// first, else the best word match of both.
    pub fn camera(&self, make: &str, model: &str) -> Option<&Camera> {
        let exact = self.cameras.iter().find(|c| {
            c.makers.iter().any(|m| same(m, make)) && c.models.iter().any(|m| same(m, model))
        });
        if exact.is_some() {
            return exact;
        }
        let (make, model) = (words(make), words(model));
        self.cameras
            .iter()
            .filter_map(|c| {
                let (mk, md) = (best_fuzzy(&make, &c.makers), best_fuzzy(&model, &c.models));
                (mk > 0 && md > 0).then_some((mk + md, c))
            })
            .max_by_key(|&(score, _)| score)
            .map(|(_, c)| c)
    }

    /// The best lens for EXIF's LensMake (when given) and LensModel on `camera` (when known),
    /// with lensfun's score: crop factor, the focal range and f-number the name states,
    /// mount and maker must fit, then the words of the name decide.
    pub fn lens(&self, camera: Option<&Camera>, make: Option<&str>, model: &str) -> Option<&Lens> {
        let model = lens_query(model);
        if model.is_empty() {
            return self.fixed_lens(camera?);
        }
        let mut facts = guess_from_name(model);
        if facts.focal.1 == 0.0 {
            facts.focal.1 = facts.focal.0;
        }
        let compat: Vec<&str> = camera
            .and_then(|c| self.mounts.iter().find(|m| same(&m.name, &c.mount)))
            .map(|m| m.compat.iter().map(String::as_str).collect())
            .unwrap_or_default();
        // lensfun walks its lenses sorted by maker, model and crop factor and keeps the
        // matches sorted by score with its own binary insertion, which decides ties.
        let mut order: Vec<&Lens> = self.lenses.iter().collect();
        // Crop factors are positive: their bits sort as the numbers do.
        order.sort_by_cached_key(|l| (norm(&l.makers[0]), norm(&l.models[0]), l.crop.to_bits()));
        let pattern = words(model);
        let mut ranked: Vec<(u32, &Lens)> = Vec::new();
        for lens in order {
            if let Some(score) = score(lens, camera, &compat, make, &pattern, &facts) {
                insert_ranked(&mut ranked, (score, lens));
            }
        }
        ranked.first().map(|&(_, l)| l)
    }

    /// A fixed-lens camera (its mount name starts in lower case, as lensfun names them):
    /// the lens of that mount with the shortest name.
    fn fixed_lens(&self, camera: &Camera) -> Option<&Lens> {
        if !camera.mount.starts_with(|c: char| c.is_lowercase()) {
            return None;
        }
        self.lenses
            .iter()
            .filter(|l| l.mounts.iter().any(|m| same(m, &camera.mount)))
            .min_by_key(|l| l.models[0].len())
    }
}

/// lensfun's `_lf_ptr_array_insert_sorted` with its score order (highest first): a binary
/// search that puts an item after the first equal one it meets.
fn insert_ranked<'a>(ranked: &mut Vec<(u32, &'a Lens)>, item: (u32, &'a Lens)) {
    let (mut l, mut r, mut m) = (0isize, ranked.len() as isize - 1, 0isize);
    let mut found = false;
    while l <= r {
        m = (l + r) / 2;
        let cmp = i64::from(item.0) - i64::from(ranked[m as usize].0);
        if cmp == 0 {
            m += 1;
            found = true;
            break;
        } else if cmp < 0 {
            l = m + 1;
        } else {
            r = m - 1;
        }
    }
    if !found && r == m {
        m += 1;
    }
    ranked.insert(m as usize, item);
}

/// lensfun's `_lf_lens_compare_score`; `None` rejects the lens.
fn score(
    lens: &Lens,
    camera: Option<&Camera>,
    compat: &[&str],
    make: Option<&str>,
    pattern: &[String],
    facts: &NameFacts,
) -> Option<u32> {
    let mut score = 0;
    if let Some(cam) = camera {
        if cam.crop < lens.crop * 0.96 {
            return None;
        }
        let ratio = cam.crop / lens.crop;
        score += match ratio {
            r if r >= 1.41 => 2,
            r if r >= 1.31 => 4,
            r if r >= 1.21 => 6,
            r if r >= 1.11 => 8,
            r if r >= 1.01 => 10,
            r if r >= 1.0 => 5,
            _ => 3,
        };
    }
    // lensfun's `_lf_compare_num`: within 1 % either way, or unknown (0) on one side.
    let near = |a: f64, b: f64| {
        let r = a / b;
        r > 0.99 && r < 1.01
    };
    for (want, have) in [
        (facts.focal.0, lens.focal.0),
        (facts.focal.1, lens.focal.1),
        (facts.aperture, lens.aperture.0),
    ] {
        // Neutral when either side is unknown.
        if want > 0.0 && have > 0.0 {
            if !near(want, have) {
                return None;
            }
            score += 10;
        }
    }
    if let Some(cam) = camera {
        if lens.mounts.iter().any(|m| same(m, &cam.mount)) {
            score += 10;
        } else if lens
            .mounts
            .iter()
            .any(|m| compat.iter().any(|c| same(m, c)))
        {
            score += 9;
        } else {
            return None;
        }
    }
    if let Some(make) = make.map(str::trim).filter(|m| !m.is_empty()) {
        if !lens.makers.iter().any(|m| same(m, make)) {
            return None;
        }
        score += 10;
    }
    let words = best_fuzzy(pattern, &lens.models);
    if words == 0 {
        return None;
    }
    Some(score + (words * 4 / 10).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_into_lensfuns_words() {
        assert_eq!(
            words("AF-S DX Nikkor 35mm f/1.8G"),
            ["1.8", "35", "af", "dx", "g", "mm", "nikkor", "s"]
        );
        assert_eq!(
            words("Canon EF 70-300mm f/4.5-5.6 DO IS USM*"),
            [
                "*", "300", "4.5", "5.6", "70", "canon", "do", "ef", "is", "mm", "usm"
            ]
        );
    }

    #[test]
    fn fuzzy_scores_need_every_pattern_word() {
        assert_eq!(fuzzy("NIKON D40", "Nikon D40"), 100);
        // D40 against D40X: three of the seven words are the pattern's.
        assert_eq!(fuzzy("NIKON D40", "Nikon D40X"), 85);
        assert_eq!(fuzzy("NIKON D40X", "Nikon D40"), 0);
        assert_eq!(fuzzy("", "Nikon D40"), 0);
    }

    #[test]
    fn lens_names_give_focal_range_and_aperture_as_lensfun_reads_them() {
        let g = |s: &str| {
            let f = guess_from_name(s);
            (f.focal.0, f.focal.1, f.aperture)
        };
        assert_eq!(g("Nikon AF-S DX Nikkor 35mm f/1.8G"), (35.0, 0.0, 1.8));
        assert_eq!(
            g("Canon EF 70-300mm f/4.5-5.6 DO IS USM"),
            (70.0, 300.0, 4.5)
        );
        assert_eq!(g("Sigma 18-50mm F2.8 EX DC"), (18.0, 50.0, 2.8));
        assert_eq!(g("Leica Summicron-M 1:2 50mm"), (50.0, 0.0, 2.0));
        assert_eq!(g("Samyang 2.8/14"), (14.0, 0.0, 2.8));
        // A focal length glued to letters is not one (lensfun wants a space before it).
        assert_eq!(g("EF70-300mm f/4.5-5.6 DO IS USM"), (0.0, 0.0, 0.0));
        assert_eq!(g("Fisheye"), (0.0, 0.0, 0.0));
    }

    #[test]
    fn every_lens_name_pattern_compiles() {
        assert_eq!(name_patterns().len(), NAME_PATTERNS.len());
    }

    #[test]
    fn lens_queries_drop_alternatives_and_remarks() {
        assert_eq!(lens_query("Tamron 17-50 or Sigma 18-50"), "Tamron 17-50");
        assert_eq!(
            lens_query("Sony E 16mm F2.8 (SEL16F28)"),
            "Sony E 16mm F2.8"
        );
    }
}
