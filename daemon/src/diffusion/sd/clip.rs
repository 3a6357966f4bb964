//! The CLIP text encoder Stable Diffusion conditions on, with the tensor names of
//! Hugging Face's `CLIPTextModel` (`text_model.embeddings.token_embedding.weight`, …).
//!
//! Written here rather than taken from candle-transformers because its
//! `stable_diffusion::clip::Config` keeps its sizes private (only the released
//! models' presets can be built, so no other or tiny encoder), and its general
//! `clip` model knows only quick-GELU (not OpenCLIP's GELU for SD 2 and SDXL).

use candle_core::{Device, Module, Result, Tensor};
use candle_nn::{Embedding, LayerNorm, Linear, VarBuilder};
use serde::Deserialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// OpenAI CLIP's `x·σ(1.702x)`.
    QuickGelu,
    /// OpenCLIP's exact (erf) GELU.
    Gelu,
}

/// Which hidden state the UNet is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hidden {
    /// The last layer's output, after the final layer norm (SD 1 and 2).
    Last,
    /// The last layer's input, without the final norm (SDXL).
    Penultimate,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub vocab_size: usize,
    pub embed_dim: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    #[serde(default = "quick_gelu")]
    pub activation: Activation,
    /// The token prompts are padded with; absent: `<|endoftext|>`.
    #[serde(default)]
    pub pad_with: Option<String>,
    #[serde(default = "last")]
    pub hidden: Hidden,
}

fn quick_gelu() -> Activation {
    Activation::QuickGelu
}

fn last() -> Hidden {
    Hidden::Last
}

impl Config {
    /// OpenAI's ViT-L/14 text tower (SD 1.x).
    pub fn vit_l() -> Config {
        Config {
            vocab_size: 49408,
            embed_dim: 768,
            intermediate_size: 3072,
            max_position_embeddings: 77,
            num_hidden_layers: 12,
            num_attention_heads: 12,
            activation: Activation::QuickGelu,
            pad_with: None,
            hidden: Hidden::Last,
        }
    }

    /// OpenCLIP ViT-H/14 as SD 2.x ships it (23 of its 24 layers).
    pub fn open_clip_h() -> Config {
        Config {
            embed_dim: 1024,
            intermediate_size: 4096,
            num_hidden_layers: 23,
            num_attention_heads: 16,
            activation: Activation::Gelu,
            pad_with: Some("!".into()),
            ..Config::vit_l()
        }
    }

    /// SDXL's first encoder: ViT-L/14, penultimate layer.
    pub fn sdxl() -> Config {
        Config { hidden: Hidden::Penultimate, ..Config::vit_l() }
    }

    /// SDXL's second encoder: OpenCLIP ViT-bigG/14, penultimate layer.
    pub fn sdxl2() -> Config {
        Config {
            embed_dim: 1280,
            intermediate_size: 5120,
            num_hidden_layers: 32,
            num_attention_heads: 20,
            activation: Activation::Gelu,
            pad_with: Some("!".into()),
            hidden: Hidden::Penultimate,
            ..Config::vit_l()
        }
    }

    pub fn check(&self, what: &str) -> std::result::Result<(), String> {
        let sizes = [
            self.vocab_size,
            self.embed_dim,
            self.intermediate_size,
            self.max_position_embeddings,
            self.num_hidden_layers,
            self.num_attention_heads,
        ];
        if sizes.contains(&0) {
            return Err(format!("{what}: sizes must be positive"));
        }
        if self.embed_dim % self.num_attention_heads != 0 {
            return Err(format!(
                "{what}: num_attention_heads {} does not divide embed_dim {}",
                self.num_attention_heads, self.embed_dim
            ));
        }
        Ok(())
    }
}

struct Attention {
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    heads: usize,
}

impl Attention {
    fn new(vb: VarBuilder, c: &Config) -> Result<Attention> {
        let d = c.embed_dim;
        Ok(Attention {
            q: candle_nn::linear(d, d, vb.pp("q_proj"))?,
            k: candle_nn::linear(d, d, vb.pp("k_proj"))?,
            v: candle_nn::linear(d, d, vb.pp("v_proj"))?,
            out: candle_nn::linear(d, d, vb.pp("out_proj"))?,
            heads: c.num_attention_heads,
        })
    }

    fn forward(&self, x: &Tensor, causal: &Tensor) -> Result<Tensor> {
        let (b, t, d) = x.dims3()?;
        let hd = d / self.heads;
        let split = |y: Tensor| y.reshape((b, t, self.heads, hd))?.transpose(1, 2)?.contiguous();
        let q = (split(self.q.forward(x)?)? * (hd as f64).powf(-0.5))?;
        let k = split(self.k.forward(x)?)?;
        let v = split(self.v.forward(x)?)?;
        let scores = q.matmul(&k.t()?)?.broadcast_add(causal)?;
        let attn = candle_nn::ops::softmax_last_dim(&scores)?;
        let y = attn.matmul(&v)?.transpose(1, 2)?.reshape((b, t, d))?;
        self.out.forward(&y)
    }
}

struct Layer {
    norm1: LayerNorm,
    attn: Attention,
    norm2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
    activation: Activation,
}

impl Layer {
    fn new(vb: VarBuilder, c: &Config) -> Result<Layer> {
        Ok(Layer {
            norm1: candle_nn::layer_norm(c.embed_dim, 1e-5, vb.pp("layer_norm1"))?,
            attn: Attention::new(vb.pp("self_attn"), c)?,
            norm2: candle_nn::layer_norm(c.embed_dim, 1e-5, vb.pp("layer_norm2"))?,
            fc1: candle_nn::linear(c.embed_dim, c.intermediate_size, vb.pp("mlp").pp("fc1"))?,
            fc2: candle_nn::linear(c.intermediate_size, c.embed_dim, vb.pp("mlp").pp("fc2"))?,
            activation: c.activation,
        })
    }

    fn forward(&self, x: &Tensor, causal: &Tensor) -> Result<Tensor> {
        let x = (x + self.attn.forward(&self.norm1.forward(x)?, causal)?)?;
        let h = self.fc1.forward(&self.norm2.forward(&x)?)?;
        let h = match self.activation {
            Activation::QuickGelu => (&h * candle_nn::ops::sigmoid(&(&h * 1.702)?)?)?,
            Activation::Gelu => h.gelu_erf()?,
        };
        x + self.fc2.forward(&h)?
    }
}

/// The text encoder: token ids `(b, t)` → embeddings `(b, t, embed_dim)`.
pub struct ClipTextTransformer {
    tokens: Embedding,
    positions: Embedding,
    layers: Vec<Layer>,
    final_norm: LayerNorm,
    hidden: Hidden,
}

impl ClipTextTransformer {
    pub fn new(vb: VarBuilder, c: &Config) -> Result<ClipTextTransformer> {
        let vb = vb.pp("text_model");
        let emb = vb.pp("embeddings");
        let layers = (0..c.num_hidden_layers)
            .map(|i| Layer::new(vb.pp("encoder").pp("layers").pp(i), c))
            .collect::<Result<Vec<_>>>()?;
        Ok(ClipTextTransformer {
            tokens: candle_nn::embedding(c.vocab_size, c.embed_dim, emb.pp("token_embedding"))?,
            positions: candle_nn::embedding(
                c.max_position_embeddings,
                c.embed_dim,
                emb.pp("position_embedding"),
            )?,
            layers,
            final_norm: candle_nn::layer_norm(c.embed_dim, 1e-5, vb.pp("final_layer_norm"))?,
            hidden: c.hidden,
        })
    }

    fn causal_mask(t: usize, device: &Device) -> Result<Tensor> {
        let m: Vec<f32> =
            (0..t).flat_map(|i| (0..t).map(move |j| if j > i { f32::NEG_INFINITY } else { 0.0 })).collect();
        Tensor::from_vec(m, (1, 1, t, t), device)
    }

    pub fn forward(&self, ids: &Tensor) -> Result<Tensor> {
        let (_, t) = ids.dims2()?;
        let pos = Tensor::arange(0u32, t as u32, ids.device())?;
        let mut x = self.tokens.forward(ids)?.broadcast_add(&self.positions.forward(&pos)?)?;
        let causal = Self::causal_mask(t, ids.device())?.to_dtype(x.dtype())?;
        let n = self.layers.len();
        for (i, layer) in self.layers.iter().enumerate() {
            if self.hidden == Hidden::Penultimate && i + 1 == n {
                return Ok(x);
            }
            x = layer.forward(&x, &causal)?;
        }
        self.final_norm.forward(&x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::DType;

    #[test]
    fn a_token_sees_only_the_tokens_before_it() {
        let c = Config {
            vocab_size: 10,
            embed_dim: 8,
            intermediate_size: 16,
            max_position_embeddings: 6,
            num_hidden_layers: 2,
            num_attention_heads: 2,
            activation: Activation::Gelu,
            pad_with: None,
            hidden: Hidden::Last,
        };
        let varmap = candle_nn::VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let m = ClipTextTransformer::new(vb, &c).unwrap();
        let a = Tensor::new(&[[1u32, 2, 3, 4]], &Device::Cpu).unwrap();
        let b = Tensor::new(&[[1u32, 2, 5, 6]], &Device::Cpu).unwrap();
        let (ya, yb) = (m.forward(&a).unwrap(), m.forward(&b).unwrap());
        assert_eq!(ya.dims(), [1, 4, 8]);
        let first = |y: &Tensor| y.narrow(1, 0, 2).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(first(&ya), first(&yb));
        assert_ne!(
            ya.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            yb.flatten_all().unwrap().to_vec1::<f32>().unwrap()
        );
    }
}
