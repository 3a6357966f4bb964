//! A canvas-sized coverage buffer for one stroke or fill, with the dirty span
//! of each row, so that clearing and compositing touch only what was painted.
//! Cut into bands of rows ([`StrokeMask::bands`]) it serves strokes painted band
//! by band on several threads, each band its own rows of the one buffer.

pub struct StrokeMask {
    width: usize,
    values: Vec<f32>,
    /// Per row: the dirty columns `lo..hi` (empty when `lo >= hi`).
    spans: Vec<(u32, u32)>,
}

/// Rows `y0..` of a [`StrokeMask`], addressed by canvas row.
pub struct MaskRows<'a> {
    width: usize,
    y0: usize,
    values: &'a mut [f32],
    spans: &'a mut [(u32, u32)],
}

const CLEAN: (u32, u32) = (u32::MAX, 0);

/// Rows per band when `height` rows are cut into `n` bands (the last may be shorter).
pub fn band_rows(height: usize, n: usize) -> usize {
    height.div_ceil(n.clamp(1, height.max(1))).max(1)
}

impl StrokeMask {
    pub fn new(width: usize, height: usize) -> StrokeMask {
        StrokeMask { width, values: vec![0.0; width * height], spans: vec![CLEAN; height] }
    }

    /// All rows.
    pub fn rows_mut(&mut self) -> MaskRows<'_> {
        MaskRows { width: self.width, y0: 0, values: &mut self.values, spans: &mut self.spans }
    }

    /// The mask cut into bands of `per` rows, top to bottom (as [`super::Canvas::bands`]).
    pub fn bands(&mut self, per: usize) -> Vec<MaskRows<'_>> {
        let w = self.width;
        self.values
            .chunks_mut(per * w)
            .zip(self.spans.chunks_mut(per))
            .enumerate()
            .map(|(i, (values, spans))| MaskRows { width: w, y0: i * per, values, spans })
            .collect()
    }
}

fn mark(span: &mut (u32, u32), x0: usize, x1: usize) {
    span.0 = span.0.min(x0 as u32);
    span.1 = span.1.max(x1 as u32);
}

impl MaskRows<'_> {
    /// The canvas row `y` (one of these rows), columns `x0..x1`, marked dirty.
    pub fn row_mut(&mut self, y: usize, x0: usize, x1: usize) -> &mut [f32] {
        let y = y - self.y0;
        mark(&mut self.spans[y], x0, x1);
        let start = y * self.width;
        &mut self.values[start + x0..start + x1]
    }

    /// Each dirty row as `(canvas row, x0, values)`.
    pub fn dirty_rows(&self) -> impl Iterator<Item = (usize, usize, &[f32])> {
        self.spans.iter().enumerate().filter(|(_, s)| s.0 < s.1).map(|(y, &(lo, hi))| {
            let start = y * self.width;
            (self.y0 + y, lo as usize, &self.values[start + lo as usize..start + hi as usize])
        })
    }

    /// Zeroes what was painted.
    pub fn clear(&mut self) {
        for (y, s) in self.spans.iter_mut().enumerate() {
            if s.0 < s.1 {
                let start = y * self.width;
                self.values[start + s.0 as usize..start + s.1 as usize].fill(0.0);
            }
            *s = CLEAN;
        }
    }
}
