#!/usr/bin/env python3
"""A random LLaMA-shaped HF checkpoint (config.json + model.safetensors, F32) for the scaling bench,
with no dependency beyond the standard library: make_model.py OUT_DIR [--dim D] [--layers L]
[--ffn F] [--heads H] [--kv-heads K] [--vocab V] [--seed S]. Weights ~ N(0, 0.02^2), norms 1."""
import argparse, array, json, os, random, struct

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--dim", type=int, default=256)
p.add_argument("--layers", type=int, default=4)
p.add_argument("--ffn", type=int, default=768)
p.add_argument("--heads", type=int, default=8)
p.add_argument("--kv-heads", type=int, default=4)
p.add_argument("--vocab", type=int, default=64)
p.add_argument("--seed", type=int, default=1)
a = p.parse_args()
rng = random.Random(a.seed)
d, f, hd = a.dim, a.ffn, a.dim // a.heads
shapes = {"model.embed_tokens.weight": (a.vocab, d), "model.norm.weight": (d,), "lm_head.weight": (a.vocab, d)}
for l in range(a.layers):
    pre = f"model.layers.{l}."
    shapes.update({pre + "input_layernorm.weight": (d,), pre + "post_attention_layernorm.weight": (d,),
                   pre + "self_attn.q_proj.weight": (a.heads * hd, d),
                   pre + "self_attn.k_proj.weight": (a.kv_heads * hd, d),
                   pre + "self_attn.v_proj.weight": (a.kv_heads * hd, d),
                   pre + "self_attn.o_proj.weight": (d, a.heads * hd),
                   pre + "mlp.gate_proj.weight": (f, d), pre + "mlp.up_proj.weight": (f, d),
                   pre + "mlp.down_proj.weight": (d, f)})
header, blobs, off = {}, [], 0
for name, shape in shapes.items():
    n = 1
    for s in shape:
        n *= s
    if name.endswith("norm.weight"):
        x = array.array("f", [1.0]) * n
    else:
        x = array.array("f", (rng.gauss(0.0, 0.02) for _ in range(n)))
    b = x.tobytes()
    header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [off, off + len(b)]}
    blobs.append(b)
    off += len(b)
h = json.dumps(header).encode()
h += b" " * ((8 - len(h) % 8) % 8)
os.makedirs(a.out, exist_ok=True)
with open(os.path.join(a.out, "model.safetensors"), "wb") as fo:
    fo.write(struct.pack("<Q", len(h)))
    fo.write(h)
    for b in blobs:
        fo.write(b)
cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": d,
       "intermediate_size": f, "num_hidden_layers": a.layers, "num_attention_heads": a.heads,
       "num_key_value_heads": a.kv_heads, "vocab_size": a.vocab, "rms_norm_eps": 1e-5,
       "rope_theta": 10000.0, "max_position_embeddings": 2048, "tie_word_embeddings": False,
       "hidden_act": "silu", "torch_dtype": "float32", "bos_token_id": 1, "eos_token_id": 2}
with open(os.path.join(a.out, "config.json"), "w") as fo:
    json.dump(cfg, fo, indent=1)
print(sum(len(b) for b in blobs) // 4, "parameters")
