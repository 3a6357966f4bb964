//! A canvas-sized coverage buffer for one stroke or fill, with the dirty span
//! of each row, so that clearing and compositing touch only what was painted.

pub struct StrokeMask {
    width: usize,
    values: Vec<f32>,
    /// Per row: the dirty columns `lo..hi` (empty when `lo >= hi`).
    spans: Vec<(u32, u32)>,
}

const CLEAN: (u32, u32) = (u32::MAX, 0);

impl StrokeMask {
    pub fn new(width: usize, height: usize) -> StrokeMask {
        StrokeMask { width, values: vec![0.0; width * height], spans: vec![CLEAN; height] }
    }

    /// The row `y`, columns `x0..x1`, marked dirty.
    pub fn row_mut(&mut self, y: usize, x0: usize, x1: usize) -> &mut [f32] {
        let s = &mut self.spans[y];
        s.0 = s.0.min(x0 as u32);
        s.1 = s.1.max(x1 as u32);
        let start = y * self.width;
        &mut self.values[start + x0..start + x1]
    }

    /// Each dirty row as `(y, x0, values)`.
    pub fn dirty_rows(&self) -> impl Iterator<Item = (usize, usize, &[f32])> {
        self.spans.iter().enumerate().filter(|(_, s)| s.0 < s.1).map(|(y, &(lo, hi))| {
            let start = y * self.width;
            (y, lo as usize, &self.values[start + lo as usize..start + hi as usize])
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
