//! Real photographs as training pictures: a folder of PNGs (scikit-image's
//! sample images, `skimage/data/*.png`, as `daemon/scripts/fetch-data.sh` unpacks
//! them) cut into random square crops, which the teacher then paints as it
//! paints the procedural scenes.
//!
//! Only PNG is read: the binary is built with the `image` crate's PNG decoder
//! alone (DESIGN.md: it saves about 80 s of every clean build), and three of
//! scikit-image's 25 pictures are JPEGs.

use std::path::{Path, PathBuf};

use image::RgbaImage;
use image::imageops::{self, FilterType};

use crate::painters::rng::Rng;

/// The smallest crop, as a share of the picture's shorter side: small enough
/// for close-ups, large enough to keep a subject in view.
const MIN_CROP: f32 = 0.35;

/// The PNG files in `dir`, by name.
pub fn list(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let files = super::files_in(dir, |p| {
        p.is_file() && p.extension().is_some_and(|x| x.eq_ignore_ascii_case("png"))
    })?;
    if files.is_empty() {
        return Err(format!(
            "{}: no .png pictures; fetch scikit-image's with daemon/scripts/fetch-data.sh",
            dir.display()
        ));
    }
    // Histories are named after the picture (photo-NAME-007): two pictures whose names differ
    // only by the extension's case would overwrite each other's.
    let mut stems = std::collections::HashMap::new();
    for f in &files {
        let stem = f.file_stem().unwrap_or_default().to_string_lossy().into_owned();
        if let Some(other) = stems.insert(stem, f) {
            return Err(format!("{} and {}: two pictures with one name", other.display(), f.display()));
        }
    }
    Ok(files)
}

/// Reads a PNG as RGBA (grey and palette pictures are converted); errors name the file.
pub fn load(path: &Path) -> Result<RgbaImage, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    crate::canvas_view::decode_png(&bytes, crate::ops::limits::MAX_CANVAS_PIXELS)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// A random square crop (35–100 % of the shorter side, anywhere, mirrored half
/// the time), resized to `side × side`.
pub fn crop(img: &RgbaImage, side: u32, rng: &mut Rng) -> RgbaImage {
    let (w, h) = img.dimensions();
    let s = ((w.min(h) as f32 * rng.range(MIN_CROP, 1.0)).round() as u32).clamp(1, w.min(h));
    let x = (rng.unit() * (w - s + 1) as f32) as u32;
    let y = (rng.unit() * (h - s + 1) as f32) as u32;
    let square = imageops::crop_imm(img, x.min(w - s), y.min(h - s), s, s).to_image();
    let mut out = imageops::resize(&square, side, side, FilterType::Triangle);
    if rng.unit() < 0.5 {
        imageops::flip_horizontal_in_place(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: u32, h: u32) -> RgbaImage {
        RgbaImage::from_fn(w, h, |x, y| image::Rgba([(x * 255 / w) as u8, (y * 255 / h) as u8, 80, 255]))
    }

    #[test]
    fn crops_are_square_at_the_asked_size_and_follow_the_seed() {
        let img = gradient(120, 80);
        let a = crop(&img, 32, &mut Rng::new(7));
        assert_eq!(a.dimensions(), (32, 32));
        assert_eq!(a, crop(&img, 32, &mut Rng::new(7)));
        let others: Vec<RgbaImage> = (0..4).map(|s| crop(&img, 32, &mut Rng::new(s))).collect();
        assert!(others.iter().any(|o| *o != a), "different seeds, different crops");
        // A one-pixel picture still gives a crop.
        assert_eq!(crop(&gradient(1, 1), 8, &mut Rng::new(1)).dimensions(), (8, 8));
    }

    #[test]
    fn only_pngs_are_taken_and_a_broken_one_is_named() {
        let dir = tempfile::tempdir().unwrap();
        gradient(10, 10).save(dir.path().join("b.png")).unwrap();
        std::fs::write(dir.path().join("a.PNG"), b"not a png").unwrap();
        std::fs::write(dir.path().join("rocket.jpg"), b"jpeg").unwrap();
        let files = list(dir.path()).unwrap();
        let names: Vec<_> = files.iter().map(|p| p.file_name().unwrap().to_str().unwrap()).collect();
        assert_eq!(names, ["a.PNG", "b.png"]);
        assert!(
            load(&files[0]).unwrap_err().starts_with(&format!("{}: not a readable PNG", files[0].display()))
        );
        assert_eq!(load(&files[1]).unwrap().dimensions(), (10, 10));
        let empty = tempfile::tempdir().unwrap();
        assert!(list(empty.path()).unwrap_err().contains("no .png pictures"));
    }

    #[test]
    fn two_pictures_with_one_name_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["moon.png", "moon.PNG"] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        let err = list(dir.path()).unwrap_err();
        assert!(
            err.contains("moon.PNG")
                && err.contains("moon.png")
                && err.contains("two pictures with one name"),
            "{err}"
        );
    }
}
