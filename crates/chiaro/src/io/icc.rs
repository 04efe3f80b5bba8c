//! ICC profiles describing the output colour space, built and serialised with moxcms.

use moxcms::{
    ColorDateTime, ColorProfile, DataColorSpace, LocalizableString, ProfileClass, ProfileText,
    RenderingIntent, ToneReprCurve, Xyzd,
};

use crate::color::matrix::Mat3;
use crate::color::spaces::OutputProfile;
use crate::color::transfer::Transfer;
use crate::error::{Error, Result};

/// The ICC profile connection space white (D50), as the header illuminant and `wtpt` carry it.
const PCS_D50: Xyzd = Xyzd {
    x: 0.9642,
    y: 1.0,
    z: 0.8249,
};

/// A fixed creation date: moxcms would stamp the wall clock, and a profile that changes with
/// every run would make otherwise identical outputs differ.
const CREATED: ColorDateTime = ColorDateTime {
    year: 2025,
    month: 1,
    day_of_the_month: 1,
    hours: 0,
    minutes: 0,
    seconds: 0,
};

/// The ICC profile of a development's output ([`OutputProfile`]).
pub fn for_output(p: &OutputProfile) -> Result<Vec<u8>> {
    rgb_profile(&p.rgb_to_xyz_d50, p.transfer, &p.description)
}

/// A matrix/TRC ICC v4 RGB display profile whose colourants are the columns of
/// `rgb_to_xyz_d50` (already chromatically adapted to D50, the PCS white) and whose tone curve
/// is `transfer` (Linear: gamma 1.0; Srgb: the sRGB parametric curve; Rec709: the BT.709
/// parametric curve; Gamma(g): a pure power law). Media white point D50; description
/// `description`.
///
/// No `chad` tag is written: the matrix is handed over already adapted, so the source white is
/// not known here, and colorimetric intents do not need it.
pub fn rgb_profile(
    rgb_to_xyz_d50: &Mat3,
    transfer: Transfer,
    description: &str,
) -> Result<Vec<u8>> {
    // s15Fixed16Number covers [-32768, 32768); real colourants are within a few units.
    if rgb_to_xyz_d50
        .iter()
        .flatten()
        .any(|v| !v.is_finite() || v.abs() > 1000.0)
    {
        return Err(Error::parameter(format!(
            "ICC profile: colourant matrix {rgb_to_xyz_d50:?} is not finite or out of range"
        )));
    }
    let curve = tone_curve(transfer)?;
    let column = |c: usize| Xyzd {
        x: rgb_to_xyz_d50[0][c],
        y: rgb_to_xyz_d50[1][c],
        z: rgb_to_xyz_d50[2][c],
    };
    let text = |s: &str| {
        Some(ProfileText::Localizable(vec![LocalizableString::new(
            "en".to_string(),
            "US".to_string(),
            s.to_string(),
        )]))
    };
    // Built by assignment: ColorProfile has a private field, so no struct literal.
    let mut profile = ColorProfile::default();
    profile.profile_class = ProfileClass::DisplayDevice;
    profile.rendering_intent = RenderingIntent::Perceptual;
    profile.color_space = DataColorSpace::Rgb;
    profile.pcs = DataColorSpace::Xyz;
    profile.red_colorant = column(0);
    profile.green_colorant = column(1);
    profile.blue_colorant = column(2);
    profile.white_point = PCS_D50;
    profile.media_white_point = Some(PCS_D50);
    profile.red_trc = Some(curve.clone());
    profile.green_trc = Some(curve.clone());
    profile.blue_trc = Some(curve);
    profile.description = text(description);
    profile.copyright = text("No copyright, use freely");
    profile.creation_date_time = CREATED;
    profile.chromatic_adaptation = None;
    profile.cicp = None;
    profile
        .encode()
        .map_err(|e| Error::encode(format!("ICC profile: {e:?}")))
}

/// Whether `icc` describes sRGB (sRGB primaries adapted to D50 and the sRGB curve), so EXIF
/// ColorSpace may say sRGB rather than "uncalibrated".
pub(crate) fn is_srgb(icc: &[u8]) -> bool {
    /// IEC 61966-2-1 primaries, Bradford-adapted to D50 (as in the ICC's sRGB v4 profile).
    const SRGB_D50: Mat3 = [
        [0.436_074_7, 0.385_064_9, 0.143_080_4],
        [0.222_504_5, 0.716_878_6, 0.060_616_9],
        [0.013_932_2, 0.097_104_5, 0.714_173_3],
    ];
    let Ok(p) = ColorProfile::new_from_slice(icc) else {
        return false;
    };
    let colourants_match = [p.red_colorant, p.green_colorant, p.blue_colorant]
        .iter()
        .enumerate()
        .all(|(c, xyz)| {
            [xyz.x, xyz.y, xyz.z]
                .iter()
                .zip(SRGB_D50.iter().map(|row| row[c]))
                .all(|(v, want)| (v - want).abs() < 2e-3)
        });
    let srgb_curve = |t: &Option<ToneReprCurve>| match t {
        Some(ToneReprCurve::Parametric(v)) => v.len() == 5 && (v[0] - 2.4).abs() < 1e-3,
        _ => false,
    };
    p.color_space == DataColorSpace::Rgb
        && colourants_match
        && srgb_curve(&p.red_trc)
        && srgb_curve(&p.green_trc)
        && srgb_curve(&p.blue_trc)
}

/// The ICC tone curve (device value -> linear) of a transfer function, as a parametric curve so
/// it keeps full s15Fixed16 precision (a one-entry `curv` gamma only has u8Fixed8).
fn tone_curve(transfer: Transfer) -> Result<ToneReprCurve> {
    Ok(match transfer {
        Transfer::Linear => ToneReprCurve::Parametric(vec![1.0]),
        // IEC 61966-2-1: Y = ((X + 0.055) / 1.055)^2.4 above 0.04045, X / 12.92 below.
        Transfer::Srgb => {
            ToneReprCurve::Parametric(vec![2.4, 1.0 / 1.055, 0.055 / 1.055, 1.0 / 12.92, 0.040_45])
        }
        // Inverse of the BT.709 OETF; constants as in `Transfer::decode`.
        Transfer::Rec709 => {
            const ALPHA: f64 = 1.099_296_826_809_44;
            const BETA: f64 = 0.018_053_968_510_807;
            ToneReprCurve::Parametric(vec![
                (1.0 / 0.45) as f32,
                (1.0 / ALPHA) as f32,
                ((ALPHA - 1.0) / ALPHA) as f32,
                (1.0 / 4.5) as f32,
                (4.5 * BETA) as f32,
            ])
        }
        Transfer::Gamma(g) => {
            if !(g.is_finite() && g > 0.0 && g < 100.0) {
                return Err(Error::parameter(format!(
                    "ICC profile: gamma {g} must be a positive number below 100"
                )));
            }
            ToneReprCurve::Parametric(vec![g as f32])
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// sRGB primaries adapted to D50 (Bradford), as in the ICC sRGB v4 profile.
    const SRGB_D50: Mat3 = [
        [0.436_074, 0.385_064, 0.143_080],
        [0.222_504, 0.716_879, 0.060_617],
        [0.013_932, 0.097_105, 0.714_173],
    ];

    #[test]
    fn profile_parses_back_with_matching_colourants_and_curve() {
        let bytes = rgb_profile(&SRGB_D50, Transfer::Srgb, "chiaro sRGB").expect("encode");
        let p = ColorProfile::new_from_slice(&bytes).expect("parse");
        assert_eq!(p.color_space, DataColorSpace::Rgb);
        assert_eq!(p.profile_class, ProfileClass::DisplayDevice);
        for (c, xyz) in [p.red_colorant, p.green_colorant, p.blue_colorant]
            .iter()
            .enumerate()
        {
            assert!((xyz.x - SRGB_D50[0][c]).abs() < 1e-4);
            assert!((xyz.y - SRGB_D50[1][c]).abs() < 1e-4);
            assert!((xyz.z - SRGB_D50[2][c]).abs() < 1e-4);
        }
        match &p.red_trc {
            Some(ToneReprCurve::Parametric(v)) => {
                assert_eq!(v.len(), 5);
                assert!((v[0] - 2.4).abs() < 1e-4);
            }
            other => panic!("{other:?}"),
        }
        match &p.description {
            Some(ProfileText::Localizable(v)) => assert_eq!(v[0].value, "chiaro sRGB"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn srgb_profiles_are_recognised() {
        let srgb = rgb_profile(&SRGB_D50, Transfer::Srgb, "s").expect("encode");
        assert!(is_srgb(&srgb));
        let linear = rgb_profile(&SRGB_D50, Transfer::Linear, "l").expect("encode");
        assert!(!is_srgb(&linear));
        assert!(!is_srgb(&[]));
    }

    #[test]
    fn rec709_curve_matches_transfer_decode() {
        let Ok(ToneReprCurve::Parametric(p)) = tone_curve(Transfer::Rec709) else {
            panic!("parametric")
        };
        let (g, a, b, c, d) = (p[0], p[1], p[2], p[3], p[4]);
        for i in 0..=20 {
            let x = i as f32 / 20.0;
            let y = if x >= d { (a * x + b).powf(g) } else { c * x };
            assert!((y - Transfer::Rec709.decode(x)).abs() < 1e-5, "{x}");
        }
    }

    #[test]
    fn bad_parameters_are_rejected() {
        assert!(rgb_profile(&SRGB_D50, Transfer::Gamma(0.0), "x").is_err());
        let mut m = SRGB_D50;
        m[1][1] = f64::NAN;
        assert!(rgb_profile(&m, Transfer::Linear, "x").is_err());
    }
}
