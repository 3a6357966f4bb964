//! Style guidance for the built-in brush: a style picture is summarised by its
//! colour statistics (mean and spread of each channel) and a "present" flag;
//! no style is all zeros, which the model learned as "none". Style pictures are
//! PNGs in the data folder's `styles/`, named by their file stem.

use std::path::{Path, PathBuf};

use super::picture::Picture;

/// Mean RGB, standard deviation RGB, present.
pub const STYLE_FEATURES: usize = 7;

/// No style: what the model was trained to read as "none".
pub const NONE: [f32; STYLE_FEATURES] = [0.0; STYLE_FEATURES];

/// The style vector of a picture (or of the pixels of it where `weights > 0`, weighted).
pub fn features(pic: &Picture, weights: Option<&[f32]>) -> [f32; STYLE_FEATURES] {
    let (mut sum, mut sq, mut n) = ([0.0f64; 3], [0.0f64; 3], 0.0f64);
    for (i, c) in pic.rgb.iter().enumerate() {
        let w = f64::from(weights.map_or(1.0, |w| w[i]));
        if w <= 0.0 {
            continue;
        }
        for k in 0..3 {
            sum[k] += w * f64::from(c[k]);
            sq[k] += w * f64::from(c[k]).powi(2);
        }
        n += w;
    }
    if n == 0.0 {
        return NONE;
    }
    let mean = sum.map(|s| s / n);
    let std: Vec<f64> = (0..3).map(|k| (sq[k] / n - mean[k] * mean[k]).max(0.0).sqrt()).collect();
    [mean[0] as f32, mean[1] as f32, mean[2] as f32, std[0] as f32, std[1] as f32, std[2] as f32, 1.0]
}

/// Moves the colours of `pic` where `weights > 0` towards a style's statistics (each
/// channel's mean and spread, Reinhard-style colour transfer), by `amount` in [0, 1]. The
/// built-in model reads its style input only faintly, so the brush also does this; a flat
/// fill (spread under 0.02) only has its mean moved, so that noise is never blown up.
pub fn transfer(pic: &mut Picture, weights: &[f32], style: &[f32; STYLE_FEATURES], amount: f32) {
    if style[6] <= 0.0 || amount <= 0.0 {
        return;
    }
    let own = features(pic, Some(weights));
    if own[6] <= 0.0 {
        return;
    }
    for (c, &w) in pic.rgb.iter_mut().zip(weights) {
        if w <= 0.0 {
            continue;
        }
        for k in 0..3 {
            let scale = if own[3 + k] < 0.02 { 1.0 } else { (style[3 + k] / own[3 + k]).clamp(0.25, 4.0) };
            let moved = (c[k] - own[k]) * scale + style[k];
            c[k] += (moved - c[k]) * amount;
        }
    }
}

/// Where style pictures live: `DATA_DIR/styles/NAME.png`.
pub fn styles_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("styles")
}

/// The names of the styles in `dir` (PNG file stems), sorted; none when it does not exist.
pub fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")))
        .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_owned))
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// The style vector of the style named `name` in `dir`; errors name the file or the name.
pub fn load(dir: &Path, name: &str) -> Result<[f32; STYLE_FEATURES], String> {
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(format!("style: {name:?} is not a style name (a file stem in {})", dir.display()));
    }
    let path = dir.join(format!("{name}.png"));
    if !path.exists() {
        return Err(format!("style: no style {name:?} ({} does not exist)", path.display()));
    }
    let img = crate::training::photos::load(&path)?;
    let (w, h) = img.dimensions();
    Ok(features(&Picture::from_rgba8(w as usize, h as usize, img.as_raw()), None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_picture_has_its_colour_and_no_spread() {
        let f = features(&Picture::new(4, 4, [0.2, 0.4, 0.8]), None);
        assert!((f[0] - 0.2).abs() < 1e-6 && (f[2] - 0.8).abs() < 1e-6);
        assert!(f[3..6].iter().all(|s| s.abs() < 1e-3));
        assert_eq!(f[6], 1.0, "present");
        assert_eq!(features(&Picture::new(2, 2, [1.0; 3]), Some(&[0.0; 4])), NONE);
    }

    #[test]
    fn transfer_moves_the_masked_colours_to_the_style_and_leaves_the_rest() {
        let mut pic = Picture::new(4, 1, [0.5, 0.5, 0.5]);
        pic.rgb[1] = [0.7, 0.5, 0.5];
        let red = features(&Picture::new(2, 2, [0.9, 0.1, 0.1]), None);
        transfer(&mut pic, &[1.0, 1.0, 0.0, 0.0], &red, 1.0);
        assert!(pic.rgb[0][0] > 0.75 && pic.rgb[0][1] < 0.2, "{:?}", pic.rgb[0]);
        assert_eq!(pic.rgb[2], [0.5; 3], "unmasked pixels keep their colour");
        let before = pic.clone();
        transfer(&mut pic, &[1.0; 4], &NONE, 1.0);
        assert_eq!(pic, before, "no style, no change");
    }

    #[test]
    fn styles_are_found_by_name_and_a_missing_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        image::RgbaImage::from_pixel(3, 3, image::Rgba([255, 0, 0, 255]))
            .save(dir.path().join("red.png"))
            .unwrap();
        assert_eq!(load(dir.path(), "red").unwrap()[0], 1.0);
        assert!(load(dir.path(), "blue").unwrap_err().contains("no style \"blue\""));
        assert!(load(dir.path(), "../red").unwrap_err().contains("not a style name"));
    }

    #[test]
    fn style_names_are_the_png_stems_sorted() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["red.png", "dusk.PNG", "notes.txt", ".hidden.png"] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        assert_eq!(names(dir.path()), ["dusk", "red"]);
        assert!(names(&dir.path().join("absent")).is_empty());
    }
}
