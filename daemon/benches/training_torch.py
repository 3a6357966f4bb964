"""The stroke transformer in PyTorch, for `cargo bench --bench training` only.

The same model as `daemon/src/model/stroke_transformer.rs`, parameter for parameter (the
names are candle's, so the bench's starting weights load by name), written the way PyTorch
is fastest in eager fp32: its fused layer norm, scaled-dot-product attention and
cross-entropy. Reads the folder the bench wrote (batches, starting weights, a manifest of
sizes), prints the loss of the first batch, then times AdamW steps and prints one line:
`ops_per_s loss0`. PyTorch is not a dependency of the product.
"""

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class Block(nn.Module):
    def __init__(self, d, d_ff, n_heads):
        super().__init__()
        self.n_heads = n_heads
        self.ln1 = nn.LayerNorm(d)
        self.attn = nn.Module()
        self.attn.qkv = nn.Linear(d, 3 * d)
        self.attn.out = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc1 = nn.Linear(d, d_ff)
        self.fc2 = nn.Linear(d_ff, d)

    def forward(self, x):
        b, l, d = x.shape
        qkv = self.attn.qkv(self.ln1(x)).view(b, l, 3, self.n_heads, d // self.n_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.attn.out(y.transpose(1, 2).reshape(b, l, d))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class StrokeTransformer(nn.Module):
    def __init__(self, cfg, vocab, place_end):
        super().__init__()
        d, p = cfg["d_model"], cfg["patch"]
        self.cfg, self.place_end = cfg, place_end
        self.n = cfg["image_side"] // p
        glimpse_len = 2 * (2 * 3 * cfg["glimpse"] ** 2) + 1
        self.field_emb = nn.ModuleList(nn.Embedding(v, d) for v in vocab)
        self.op_pos = nn.Embedding(cfg["max_ops"], d)
        self.patch_proj = nn.Linear(3 * p * p, d)
        self.patch_pos = nn.Embedding(self.n * self.n, d)
        self.image_kind = nn.Embedding(3, d)
        self.blocks = nn.ModuleList(Block(d, cfg["d_ff"], cfg["n_heads"]) for _ in range(cfg["n_layers"]))
        self.ln_f = nn.LayerNorm(d)
        self.cond_emb = nn.ModuleList(nn.Embedding(v, d) for v in vocab[:-1])
        self.glimpse_in = nn.Linear(glimpse_len, d)
        self.glimpse_out = nn.Linear(d, d)
        self.head_ln = nn.LayerNorm(d)
        self.heads = nn.ModuleList(nn.Linear(d, v, bias=False) for v in vocab)

    def picture(self, pictures, kind):
        b, p, n = pictures.shape[0], self.cfg["patch"], self.n
        patches = pictures.reshape(b, 3, n, p, n, p).permute(0, 2, 4, 1, 3, 5)
        x = self.patch_proj(patches.reshape(b, n * n, 3 * p * p) - 0.5)
        return x + self.patch_pos.weight + self.image_kind.weight[kind]

    def loss(self, canvas, reference, inputs, targets, glimpses, mask):
        b, t, _ = inputs.shape
        if reference is None:
            ref = (self.patch_pos.weight + self.image_kind.weight[2]).expand(b, -1, -1)
        else:
            ref = self.picture(reference, 1)
        ops = self.op_pos.weight[:t] + sum(emb(inputs[..., i]) for i, emb in enumerate(self.field_emb))
        x = torch.cat([self.picture(canvas, 0), ref, ops], dim=1)
        for block in self.blocks:
            x = block(x)
        hidden = self.ln_f(x)[:, -t:]
        cond = torch.zeros_like(hidden)
        total = hidden.new_zeros(())
        for i, head in enumerate(self.heads):
            logits = head(self.head_ln(hidden + cond))
            ce = F.cross_entropy(logits.reshape(b * t, -1), targets[..., i].reshape(-1), reduction="none")
            total = total + (ce * mask[..., i].reshape(-1)).sum()
            if i < len(self.cond_emb):
                cond = cond + self.cond_emb[i](targets[..., i])
            if i == self.place_end:
                cond = cond + self.glimpse_out(F.gelu(self.glimpse_in(glimpses - 0.5)))
        return total / mask[..., 0].sum()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", type=Path, nargs="?")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--matmul", type=int, default=0, help="time this many products alone")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.matmul:
        x, wt = torch.randn(1024, 192), torch.randn(576, 192).t()
        x @ wt
        start = time.perf_counter()
        for _ in range(a.matmul):
            x @ wt
        print(2 * 1024 * 192 * 576 * a.matmul / (time.perf_counter() - start) / 1e9)
        return
    m = json.loads((a.dir / "manifest.json").read_text())
    model = StrokeTransformer(m["config"], m["vocab"], m["place_end"])
    init = np.load(a.dir / "init.npz")
    state = {name: torch.from_numpy(init[name]) for name in init.files}
    model.load_state_dict(state, strict=True)
    count = sum(p.numel() for p in model.parameters())
    assert count == m["parameters"], f"{count} parameters against candle's {m['parameters']}"

    data = np.load(a.dir / "batches.npz")

    def batch(k):
        def get(name, kind):
            key = f"b{k}.{name}"
            if key not in data.files:
                return None
            return torch.from_numpy(data[key].astype(kind))

        return (
            get("canvas", np.float32),
            get("reference", np.float32),
            get("inputs", np.int64),
            get("targets", np.int64),
            get("glimpses", np.float32),
            get("mask", np.float32),
        )

    batches = [batch(k) for k in range(m["batches"])]
    with torch.no_grad():
        loss0 = model.loss(*batches[0]).item()
    opt = torch.optim.AdamW(model.parameters(), lr=m["lr"], weight_decay=m["weight_decay"])
    start = time.perf_counter()
    for step in range(a.steps + 2):
        if step == 2:
            start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        model.loss(*batches[step % len(batches)]).backward()
        opt.step()
    secs = time.perf_counter() - start
    ops = a.steps * m["batch"] * m["window"]
    assert math.isfinite(loss0)
    print(f"{ops / secs} {loss0}")


if __name__ == "__main__":
    main()
