//! The built-in inpainting model: a small convolutional U-Net in pixel space at
//! a fixed working side (64 px), trained by flow matching to predict the clean
//! picture (x0) from a noisy one.
//!
//! Input channels: the noisy picture (3), the known picture with the hole
//! filled harmonically (3), the mask (1). The noise level `t` and a style vector
//! (a style picture's colour statistics, or zeros for none) are embedded
//! together and added to every residual block. The output is a correction added
//! to the harmonic fill, so an untrained model already answers the classical
//! baseline and training only has to learn what it misses.
//!
//! Everything here has a backward pass: candle's conv2d and nearest upsampling,
//! and a group norm and SiLU written from basic ops (DESIGN.md's candle-nn trap);
//! a test checks that every parameter gets a gradient.

use candle_core::{D, DType, Device, Module, Result, Tensor};
use candle_nn::{Conv2d, Conv2dConfig, Linear, VarBuilder, conv2d, linear};
use serde::{Deserialize, Serialize};

use super::style::STYLE_FEATURES;

/// Input channels: noisy picture, harmonic-filled known picture, mask.
pub const IN_CHANNELS: usize = 7;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Working side length in pixels; a multiple of 2^(levels − 1).
    pub side: usize,
    /// Channels per resolution level, finest first.
    pub channels: Vec<usize>,
    /// Groups of the group norms; divides every level's channels.
    pub groups: usize,
    /// Width of the noise-level and style embedding.
    pub embed: usize,
    /// Side of the pixel blocks folded into channels before the first level (1: none):
    /// the network runs at `side / patch`, a quarter of the cost per halving, and the
    /// output is unfolded back to `side`.
    pub patch: usize,
}

impl Config {
    /// A few thousand parameters at 16 px: for tests.
    pub fn tiny() -> Config {
        Config { side: 16, channels: vec![8, 16], groups: 4, embed: 16, patch: 2 }
    }

    /// The shipped size: trains on one CPU core in under half an hour.
    pub fn small() -> Config {
        Config { side: 64, channels: vec![32, 64, 128, 128], groups: 8, embed: 64, patch: 2 }
    }

    pub fn check(&self) -> std::result::Result<(), String> {
        if self.channels.is_empty() {
            return Err("channels: at least one level".into());
        }
        let scale = self.patch.max(1) << (self.channels.len() - 1);
        if self.patch == 0 || self.side == 0 || self.side % scale != 0 {
            return Err(format!("side {} is not a multiple of {scale}", self.side));
        }
        if let Some(c) = self.channels.iter().find(|&&c| self.groups == 0 || c % self.groups != 0) {
            return Err(format!("channels {c} is not a multiple of groups {}", self.groups));
        }
        Ok(())
    }
}

fn silu(x: &Tensor) -> Result<Tensor> {
    // x · σ(x), σ from exp so that it has a backward pass.
    x.broadcast_div(&(x.neg()?.exp()? + 1.0)?)
}

/// Group normalization from basic ops, so that it trains.
struct GroupNorm {
    groups: usize,
    weight: Tensor,
    bias: Tensor,
}

impl GroupNorm {
    fn new(channels: usize, groups: usize, vb: VarBuilder) -> Result<GroupNorm> {
        Ok(GroupNorm {
            groups,
            weight: vb.get_with_hints((1, channels, 1, 1), "weight", candle_nn::Init::Const(1.0))?,
            bias: vb.get_with_hints((1, channels, 1, 1), "bias", candle_nn::Init::Const(0.0))?,
        })
    }
}

impl Module for GroupNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        let g = x.reshape((b, self.groups, (c / self.groups) * h * w))?;
        let centred = g.broadcast_sub(&g.mean_keepdim(D::Minus1)?)?;
        let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
        let normed = centred.broadcast_div(&(var + 1e-5)?.sqrt()?)?.reshape((b, c, h, w))?;
        normed.broadcast_mul(&self.weight)?.broadcast_add(&self.bias)
    }
}

fn conv3(cin: usize, cout: usize, stride: usize, vb: VarBuilder) -> Result<Conv2d> {
    conv2d(cin, cout, 3, Conv2dConfig { padding: 1, stride, ..Default::default() }, vb)
}

/// A 3×3 conv with small initial weights: the model starts near the harmonic fill.
fn small_conv3(cin: usize, cout: usize, vb: VarBuilder) -> Result<Conv2d> {
    let init = candle_nn::Init::Randn { mean: 0.0, stdev: 0.01 };
    let weight = vb.get_with_hints((cout, cin, 3, 3), "weight", init)?;
    let bias = vb.get_with_hints(cout, "bias", candle_nn::Init::Const(0.0))?;
    Ok(Conv2d::new(weight, Some(bias), Conv2dConfig { padding: 1, ..Default::default() }))
}

/// Norm, SiLU, conv; the embedding added as a per-channel shift; norm, SiLU, conv; plus the input.
struct ResBlock {
    norm1: GroupNorm,
    conv1: Conv2d,
    emb: Linear,
    norm2: GroupNorm,
    conv2: Conv2d,
    skip: Option<Conv2d>,
}

impl ResBlock {
    fn new(cin: usize, cout: usize, cfg: &Config, vb: VarBuilder) -> Result<ResBlock> {
        let skip =
            if cin == cout { None } else { Some(conv2d(cin, cout, 1, Default::default(), vb.pp("skip"))?) };
        Ok(ResBlock {
            norm1: GroupNorm::new(cin, cfg.groups, vb.pp("norm1"))?,
            conv1: conv3(cin, cout, 1, vb.pp("conv1"))?,
            emb: linear(cfg.embed, cout, vb.pp("emb"))?,
            norm2: GroupNorm::new(cout, cfg.groups, vb.pp("norm2"))?,
            conv2: conv3(cout, cout, 1, vb.pp("conv2"))?,
            skip,
        })
    }

    fn forward(&self, x: &Tensor, emb: &Tensor) -> Result<Tensor> {
        let h = self.conv1.forward(&silu(&self.norm1.forward(x)?)?)?;
        let shift = self.emb.forward(emb)?.unsqueeze(2)?.unsqueeze(3)?;
        let h = h.broadcast_add(&shift)?;
        let h = self.conv2.forward(&silu(&self.norm2.forward(&h)?)?)?;
        let skip = match &self.skip {
            Some(s) => s.forward(x)?,
            None => x.clone(),
        };
        h + skip
    }
}

pub struct InpaintUnet {
    cfg: Config,
    time1: Linear,
    time2: Linear,
    style: Linear,
    conv_in: Conv2d,
    down: Vec<ResBlock>,
    downsample: Vec<Conv2d>,
    mid: ResBlock,
    up: Vec<ResBlock>,
    upsample: Vec<Conv2d>,
    norm_out: GroupNorm,
    conv_out: Conv2d,
}

impl InpaintUnet {
    pub fn new(vb: VarBuilder, cfg: &Config) -> Result<InpaintUnet> {
        cfg.check().map_err(candle_core::Error::msg)?;
        let ch = &cfg.channels;
        let levels = ch.len();
        let mut down = Vec::new();
        let mut downsample = Vec::new();
        let mut up = Vec::new();
        let mut upsample = Vec::new();
        for i in 0..levels {
            let cin = if i == 0 { ch[0] } else { ch[i - 1] };
            down.push(ResBlock::new(cin, ch[i], cfg, vb.pp(format!("down.{i}")))?);
            up.push(ResBlock::new(2 * ch[i], ch[i], cfg, vb.pp(format!("up.{i}")))?);
            if i + 1 < levels {
                downsample.push(conv3(ch[i], ch[i], 2, vb.pp(format!("downsample.{i}")))?);
                upsample.push(conv3(ch[i + 1], ch[i], 1, vb.pp(format!("upsample.{i}")))?);
            }
        }
        let last = ch[levels - 1];
        Ok(InpaintUnet {
            cfg: cfg.clone(),
            time1: linear(cfg.embed, cfg.embed, vb.pp("time1"))?,
            time2: linear(cfg.embed, cfg.embed, vb.pp("time2"))?,
            style: linear(STYLE_FEATURES, cfg.embed, vb.pp("style"))?,
            conv_in: conv3(IN_CHANNELS * cfg.patch * cfg.patch, ch[0], 1, vb.pp("conv_in"))?,
            down,
            downsample,
            mid: ResBlock::new(last, last, cfg, vb.pp("mid"))?,
            up,
            upsample,
            norm_out: GroupNorm::new(ch[0], cfg.groups, vb.pp("norm_out"))?,
            conv_out: small_conv3(ch[0], 3 * cfg.patch * cfg.patch, vb.pp("conv_out"))?,
        })
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Sinusoidal features of the noise level `t` in [0, 1], shape `(b, embed)`.
    fn time_features(&self, t: &Tensor) -> Result<Tensor> {
        let half = self.cfg.embed / 2;
        let freqs: Vec<f32> = (0..half).map(|i| (1000f32).powf(i as f32 / half as f32)).collect();
        let freqs = Tensor::from_vec(freqs, (1, half), t.device())?;
        let angles = t.unsqueeze(1)?.broadcast_mul(&freqs)?;
        Tensor::cat(&[angles.sin()?, angles.cos()?], 1)
    }

    /// The predicted clean picture, `(b, 3, side, side)`, from the noisy picture `x_t`,
    /// the harmonic-filled known picture `known` (both `(b, 3, side, side)`), the mask
    /// `(b, 1, side, side)`, the noise levels `t` `(b,)` and the style vectors `(b, STYLE_FEATURES)`.
    pub fn forward(
        &self,
        x_t: &Tensor,
        known: &Tensor,
        mask: &Tensor,
        t: &Tensor,
        style: &Tensor,
    ) -> Result<Tensor> {
        let emb = (self.time1.forward(&self.time_features(t)?)? + self.style.forward(style)?)?;
        let emb = self.time2.forward(&silu(&emb)?)?;
        let input = fold(&Tensor::cat(&[x_t, known, mask], 1)?, self.cfg.patch)?;
        let mut h = self.conv_in.forward(&input)?;
        let mut skips = Vec::new();
        for (i, block) in self.down.iter().enumerate() {
            h = block.forward(&h, &emb)?;
            skips.push(h.clone());
            if let Some(ds) = self.downsample.get(i) {
                h = ds.forward(&h)?;
            }
        }
        h = self.mid.forward(&h, &emb)?;
        for i in (0..self.up.len()).rev() {
            h = self.up[i].forward(&Tensor::cat(&[&h, &skips[i]], 1)?, &emb)?;
            if i > 0 {
                let (_, _, hh, ww) = h.dims4()?;
                h = self.upsample[i - 1].forward(&h.upsample_nearest2d(hh * 2, ww * 2)?)?;
            }
        }
        let correction = self.conv_out.forward(&silu(&self.norm_out.forward(&h)?)?)?;
        known + unfold(&correction, self.cfg.patch)?
    }
}

/// `(b, c, h, w)` → `(b, c·p², h/p, w/p)`: each p×p block of pixels as channels.
fn fold(x: &Tensor, p: usize) -> Result<Tensor> {
    if p == 1 {
        return Ok(x.clone());
    }
    let (b, c, h, w) = x.dims4()?;
    x.reshape((b, c, h / p, p, w / p, p))?.permute((0, 1, 3, 5, 2, 4))?.reshape((b, c * p * p, h / p, w / p))
}

/// The inverse of [`fold`].
fn unfold(x: &Tensor, p: usize) -> Result<Tensor> {
    if p == 1 {
        return Ok(x.clone());
    }
    let (b, cpp, h, w) = x.dims4()?;
    let c = cpp / (p * p);
    x.reshape((b, c, p, p, h, w))?.permute((0, 1, 4, 2, 5, 3))?.reshape((b, c, h * p, w * p))
}

/// A model with fresh random weights and its variables (for training and tests).
pub fn fresh(cfg: &Config, device: &Device) -> Result<(candle_nn::VarMap, InpaintUnet)> {
    let varmap = candle_nn::VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
    let model = InpaintUnet::new(vb, cfg)?;
    Ok((varmap, model))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(cfg: &Config, b: usize) -> [Tensor; 5] {
        let dev = Device::Cpu;
        let s = cfg.side;
        let r = |shape: (usize, usize, usize, usize)| Tensor::randn(0f32, 1.0, shape, &dev).unwrap();
        [
            r((b, 3, s, s)),
            r((b, 3, s, s)),
            Tensor::ones((b, 1, s, s), DType::F32, &dev).unwrap(),
            Tensor::new(&[0.3f32, 0.9][..b], &dev).unwrap(),
            Tensor::randn(0f32, 1.0, (b, STYLE_FEATURES), &dev).unwrap(),
        ]
    }

    #[test]
    fn the_output_is_a_picture_of_the_working_size() {
        let cfg = Config::tiny();
        let (_, model) = fresh(&cfg, &Device::Cpu).unwrap();
        let [x, k, m, t, s] = inputs(&cfg, 2);
        assert_eq!(model.forward(&x, &k, &m, &t, &s).unwrap().dims(), [2, 3, cfg.side, cfg.side]);
    }

    #[test]
    fn every_parameter_gets_a_gradient() {
        let cfg = Config::tiny();
        let (varmap, model) = fresh(&cfg, &Device::Cpu).unwrap();
        let [x, k, m, t, s] = inputs(&cfg, 2);
        let loss = model.forward(&x, &k, &m, &t, &s).unwrap().sqr().unwrap().mean_all().unwrap();
        let grads = loss.backward().unwrap();
        let vars = varmap.data().lock().unwrap();
        assert!(vars.len() > 40, "{} parameters", vars.len());
        for (name, var) in vars.iter() {
            let g = grads.get(var.as_tensor()).unwrap_or_else(|| panic!("{name} gets no gradient"));
            let norm = g.sqr().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap();
            assert!(norm > 0.0, "{name}: zero gradient");
        }
    }

    #[test]
    fn the_group_norm_normalises_each_group() {
        let varmap = candle_nn::VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let gn = GroupNorm::new(4, 2, vb).unwrap();
        let x = (Tensor::randn(0f32, 3.0, (1, 4, 5, 5), &Device::Cpu).unwrap() + 7.0).unwrap();
        let y = gn.forward(&x).unwrap().reshape((2, 50)).unwrap();
        let mean = y.mean_keepdim(1).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let var = y.sqr().unwrap().mean_keepdim(1).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert!(mean.iter().all(|m| m.abs() < 1e-4) && var.iter().all(|v| (v - 1.0).abs() < 1e-3));
    }

    #[test]
    fn unfold_undoes_fold() {
        let x =
            Tensor::arange(0f32, 2.0 * 3.0 * 4.0 * 4.0, &Device::Cpu).unwrap().reshape((2, 3, 4, 4)).unwrap();
        let f = fold(&x, 2).unwrap();
        assert_eq!(f.dims(), [2, 12, 2, 2]);
        let back = unfold(&f, 2).unwrap();
        assert_eq!(
            back.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            x.flatten_all().unwrap().to_vec1::<f32>().unwrap()
        );
    }

    #[test]
    fn configs_that_cannot_be_built_are_refused() {
        assert!(Config::small().check().is_ok());
        assert!(Config { side: 30, ..Config::small() }.check().unwrap_err().contains("multiple of 16"));
        assert!(Config { groups: 5, ..Config::small() }.check().unwrap_err().contains("groups 5"));
    }
}
