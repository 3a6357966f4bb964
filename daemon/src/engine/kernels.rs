//! The per-pixel inner loops, on plain slices so that they vectorize. Each is
//! compiled for several x86-64 levels (AVX-512, AVX2+FMA, baseline SSE2) and
//! the best one for the running CPU is picked once, at first use: wider
//! vectors roughly double the engine's throughput over the baseline build.

use multiversion::multiversion;

use super::Px;

/// Soft round-dab coverage along a row: `out[i]` for the pixel whose centre is
/// `fx + i` from the dab centre horizontally and `sqrt(dy2)` vertically.
#[multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx512dq", "x86_64+avx2+fma"))]
pub fn soft_coverage(out: &mut [f32], fx: f32, dy2: f32, outer: f32, inv_band: f32, peak: f32) {
    for (i, o) in out.iter_mut().enumerate() {
        let dx = fx + i as f32;
        let d = (dx * dx + dy2).sqrt();
        let t = ((outer - d) * inv_band).clamp(0.0, 1.0);
        *o = t * t * (3.0 - 2.0 * t) * peak;
    }
}

/// Wash-mode build-up: each mask value moves towards the dab's level by
/// `flow`, and never beyond it.
#[multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx512dq", "x86_64+avx2+fma"))]
pub fn build_up(mask: &mut [f32], level: &[f32], flow: f32) {
    for (a, &m) in mask.iter_mut().zip(level) {
        *a += (m - *a).max(0.0) * flow;
    }
}

/// Source-over of a solid straight colour through per-pixel alpha.
#[multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx512dq", "x86_64+avx2+fma"))]
pub fn normal(dst: &mut [Px], alpha: &[f32], c: [f32; 3]) {
    for (d, &a) in dst.iter_mut().zip(alpha) {
        let k = 1.0 - a;
        *d = [c[0] * a + d[0] * k, c[1] * a + d[1] * k, c[2] * a + d[2] * k, a + d[3] * k];
    }
}

/// Scales every premultiplied channel by `1 - alpha[i]`.
#[multiversion(targets("x86_64+avx512f+avx512bw+avx512vl+avx512dq", "x86_64+avx2+fma"))]
pub fn erase(dst: &mut [Px], alpha: &[f32]) {
    for (d, &a) in dst.iter_mut().zip(alpha) {
        let k = 1.0 - a;
        *d = [d[0] * k, d[1] * k, d[2] * k, d[3] * k];
    }
}
