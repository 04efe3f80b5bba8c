//! Correlated colour temperature and tint <-> chromaticity, by Robertson's method.
//!
//! # References
//! A. R. Robertson, "Computation of correlated color temperature and distribution
//! temperature", JOSA 58 (1968); isotemperature table from Wyszecki & Stiles, Color Science
//! (1982), table 1(3.11). Tint follows the DNG SDK convention (positive = magenta, 1/3000
//! of a uv unit per step) so Kelvin/tint values mean what they mean in other raw tools.

/// (reciprocal megakelvin, u, v, slope of the isotemperature line) in CIE 1960 uv.
const TABLE: [[f64; 4]; 31] = [
    [0.0, 0.18006, 0.26352, -0.24341],
    [10.0, 0.18066, 0.26589, -0.25479],
    [20.0, 0.18133, 0.26846, -0.26876],
    [30.0, 0.18208, 0.27119, -0.28539],
    [40.0, 0.18293, 0.27407, -0.30470],
    [50.0, 0.18388, 0.27709, -0.32675],
    [60.0, 0.18494, 0.28021, -0.35156],
    [70.0, 0.18611, 0.28342, -0.37915],
    [80.0, 0.18740, 0.28668, -0.40955],
    [90.0, 0.18880, 0.28997, -0.44278],
    [100.0, 0.19032, 0.29326, -0.47888],
    [125.0, 0.19462, 0.30141, -0.58204],
    [150.0, 0.19962, 0.30921, -0.70471],
    [175.0, 0.20525, 0.31647, -0.84901],
    [200.0, 0.21142, 0.32312, -1.0182],
    [225.0, 0.21807, 0.32909, -1.2168],
    [250.0, 0.22511, 0.33439, -1.4512],
    [275.0, 0.23247, 0.33904, -1.7298],
    [300.0, 0.24010, 0.34308, -2.0637],
    [325.0, 0.24792, 0.34655, -2.4681],
    [350.0, 0.25591, 0.34951, -2.9641],
    [375.0, 0.26400, 0.35200, -3.5814],
    [400.0, 0.27218, 0.35407, -4.3633],
    [425.0, 0.28039, 0.35577, -5.3762],
    [450.0, 0.28863, 0.35714, -6.7262],
    [475.0, 0.29685, 0.35823, -8.5955],
    [500.0, 0.30505, 0.35907, -11.324],
    [525.0, 0.31320, 0.35968, -15.628],
    [550.0, 0.32129, 0.36011, -23.325],
    [575.0, 0.32931, 0.36038, -40.770],
    [600.0, 0.33724, 0.36051, -116.45],
];

const TINT_SCALE: f64 = -3000.0;

/// Unit direction of the isotemperature line of table row `i`.
fn direction(i: usize) -> (f64, f64) {
    let len = (1.0 + TABLE[i][3] * TABLE[i][3]).sqrt();
    (1.0 / len, TABLE[i][3] / len)
}

/// Correlated colour temperature (K) and tint of a chromaticity.
pub fn xy_to_temperature(xy: [f64; 2]) -> (f64, f64) {
    let denom = 1.5 - xy[0] + 6.0 * xy[1];
    let (u, v) = (2.0 * xy[0] / denom, 3.0 * xy[1] / denom);
    let (mut last_dt, mut last_du, mut last_dv) = (0.0, 0.0, 0.0);
    for i in 1..TABLE.len() {
        let (du, dv) = direction(i);
        let (uu, vv) = (u - TABLE[i][1], v - TABLE[i][2]);
        let mut dt = -uu * dv + vv * du;
        if dt <= 0.0 || i == TABLE.len() - 1 {
            dt = -dt.min(0.0);
            let f = if i == 1 { 0.0 } else { dt / (last_dt + dt) };
            let temperature = 1.0e6 / (TABLE[i - 1][0] * f + TABLE[i][0] * (1.0 - f)).max(1e-3);
            let uu = u - (TABLE[i - 1][1] * f + TABLE[i][1] * (1.0 - f));
            let vv = v - (TABLE[i - 1][2] * f + TABLE[i][2] * (1.0 - f));
            let (mut du, mut dv) = (du * (1.0 - f) + last_du * f, dv * (1.0 - f) + last_dv * f);
            let len = (du * du + dv * dv).sqrt();
            du /= len;
            dv /= len;
            return (temperature, (uu * du + vv * dv) * TINT_SCALE);
        }
        (last_dt, last_du, last_dv) = (dt, du, dv);
    }
    (5000.0, 0.0)
}

/// Chromaticity of a colour temperature (K, clamped to 1667..infinity) and tint.
pub fn temperature_to_xy(temperature: f64, tint: f64) -> [f64; 2] {
    let r = 1.0e6 / temperature.max(1667.0);
    let offset = tint / TINT_SCALE;
    let last = TABLE.len() - 2;
    for i in 0..=last {
        if r < TABLE[i + 1][0] || i == last {
            let f = ((TABLE[i + 1][0] - r) / (TABLE[i + 1][0] - TABLE[i][0])).clamp(0.0, 1.0);
            let mut u = TABLE[i][1] * f + TABLE[i + 1][1] * (1.0 - f);
            let mut v = TABLE[i][2] * f + TABLE[i + 1][2] * (1.0 - f);
            let (d1, d2) = (direction(i), direction(i + 1));
            let (mut du, mut dv) = (d1.0 * f + d2.0 * (1.0 - f), d1.1 * f + d2.1 * (1.0 - f));
            let len = (du * du + dv * dv).sqrt();
            du /= len;
            dv /= len;
            u += du * offset;
            v += dv * offset;
            let d = u - 4.0 * v + 2.0;
            return [1.5 * u / d, v / d];
        }
    }
    super::xy::D50_XY
}

/// CCT in kelvin of an EXIF LightSource code (the DNG SDK's values), or `None` when unknown.
pub fn illuminant_temperature(code: u16) -> Option<f64> {
    Some(match code {
        17 | 3 => 2850.0,
        24 => 3200.0,
        23 => 5000.0,
        20 | 1 | 9 | 4 | 18 => 5500.0,
        21 | 19 | 10 => 6500.0,
        22 | 11 => 7500.0,
        12 => 6400.0,
        13 => 5050.0,
        14 | 2 => 4150.0,
        15 => 3525.0,
        16 => 2925.0,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn d65_and_illuminant_a_temperatures_are_known() {
        let (t, _) = xy_to_temperature(super::super::xy::D65_XY);
        assert!((t - 6504.0).abs() < 15.0, "{t}");
        let (t, _) = xy_to_temperature([0.44757, 0.40745]);
        assert!((t - 2856.0).abs() < 10.0, "{t}");
    }

    #[test]
    fn temperature_and_tint_round_trip() {
        for &t in &[2000.0, 2856.0, 4200.0, 5003.0, 6504.0, 9000.0, 15000.0] {
            for &tint in &[-30.0, 0.0, 25.0] {
                let xy = temperature_to_xy(t, tint);
                let (t2, tint2) = xy_to_temperature(xy);
                assert!((t2 - t).abs() / t < 2e-3, "{t} -> {t2}");
                assert!((tint2 - tint).abs() < 0.2, "{tint} -> {tint2}");
            }
        }
    }
}
