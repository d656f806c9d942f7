"""Tiny checkpoints of each supported MoE family in its exact Hugging Face format, with golden outputs.

Written from the Hugging Face transformers modeling code (models/<family>/modeling_<family>.py and
configuration_<family>.py; packages/model/FAMILIES.md lists each convention and where it comes from),
not from the TypeScript runtime. Each fixture directory gets config.json (the keys of the family's HF
config class), safetensors with the tensor names of the HF modules (some bf16, some sharded with an
index), a character-level tokenizer.json, and golden/: logits of two prompts, routing, a greedy decode
recomputed from scratch at every step, and the chunked mean NLL of a text (the rule of `expertmesh score`).

    OMP_NUM_THREADS=1 /usr/bin/python3 models/sotu-moe/family_fixtures.py   # writes packages/model/fixtures/families/

Letters (glossary: docs/ARCHITECTURE.md): T tokens per sequence (this script's meaning), D hidden, H heads, K kv
heads, Dh head dim, E experts, k experts per token, V vocabulary.
"""
import json, math, os, struct

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "packages", "model", "fixtures", "families")

CHARS = ["<s>", "<unk>"] + list(" abcdefghijklmnopqrstuvwxyz.,'\n;:-")
V = len(CHARS)
PROMPTS = ["the union is strong", "we hold these truths to be self-evident, that"]
SCORE_TEXT = (
    "government of the people, by the people, for the people, shall not perish from the earth.\n"
    "four score and seven years ago our fathers brought forth on this continent a new nation, conceived in liberty."
)
GREEDY_STEPS = 6


def encode(text):
    return [0] + [CHARS.index(c) if c in CHARS else 1 for c in text]


# ---------------------------------------------------------------------------------------------------
# Building blocks, as the HF modules compute them (fp32 throughout: weights are upcast after any bf16
# rounding, as HF does when loaded with torch_dtype=float32).


def rms_norm(x, w, eps):  # LlamaRMSNorm / Qwen3MoeRMSNorm / DeepseekV3RMSNorm.forward
    x = x.float()
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def linear(x, P, name, bias=False):
    y = x @ P[name + ".weight"].t()
    return y + P[name + ".bias"] if bias else y


def swiglu(x, P, prefix):  # Qwen3MoeMLP / DeepseekV3MLP: down(silu(gate(x)) * up(x))
    return linear(F.silu(linear(x, P, prefix + ".gate_proj")) * linear(x, P, prefix + ".up_proj"), P, prefix + ".down_proj")


def rotate_half(x):
    return torch.cat((-x[..., x.shape[-1] // 2 :], x[..., : x.shape[-1] // 2]), -1)


def get_mscale(scale, mscale=1):  # modeling_rope_utils._compute_yarn_parameters.get_mscale
    return 1.0 if scale <= 1 else 0.1 * mscale * math.log(scale) + 1.0


def inv_freq_and_factor(dim, theta, scaling):
    """modeling_rope_utils: _compute_default_rope_parameters, or _compute_yarn_parameters."""
    if scaling is None:
        return 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim)), 1.0
    factor = scaling["factor"]
    af = scaling.get("attention_factor")
    ms, ms_all = scaling.get("mscale"), scaling.get("mscale_all_dim")
    if af is None:
        af = get_mscale(factor, ms) / get_mscale(factor, ms_all) if ms and ms_all else get_mscale(factor)
    beta_fast, beta_slow = scaling.get("beta_fast") or 32, scaling.get("beta_slow") or 1
    orig = scaling["original_max_position_embeddings"]

    def corr_dim(rot):
        return (dim * math.log(orig / (rot * 2 * math.pi))) / (2 * math.log(theta))

    low, high = math.floor(corr_dim(beta_fast)), math.ceil(corr_dim(beta_slow))
    low, high = max(low, 0), min(high, dim - 1)
    if low == high:
        high += 0.001
    pos_freqs = theta ** (torch.arange(0, dim, 2).float() / dim)
    extra, inter = 1.0 / pos_freqs, 1.0 / (factor * pos_freqs)
    ramp = torch.clamp((torch.arange(dim // 2, dtype=torch.float32) - low) / (high - low), 0, 1)
    extra_factor = 1 - ramp
    return inter * (1 - extra_factor) + extra * extra_factor, af


def rope_cos_sin(T, dim, theta, scaling):  # *RotaryEmbedding.forward
    inv, af = inv_freq_and_factor(dim, theta, scaling)
    freqs = torch.arange(T).float()[:, None] * inv[None, :]
    emb = torch.cat((freqs, freqs), -1)
    return emb.cos() * af, emb.sin() * af  # [T, dim]


def attend(q, k, v, scale):  # eager_attention_forward with a causal mask; q [H, T, Dq], k/v [H, T, .]
    T = q.shape[1]
    s = (q @ k.transpose(1, 2)) * scale + torch.full((T, T), float("-inf")).triu(1)
    return torch.softmax(s, -1) @ v  # [H, T, Dv]


def gqa_attention(x, P, p, c, qk_norm, qkv_bias, o_bias, clip):
    """Qwen2MoeAttention / Qwen3MoeAttention / OlmoeAttention.forward."""
    T = x.shape[0]
    H, K = c["num_attention_heads"], c["num_key_value_heads"]
    Dh = c.get("head_dim") or c["hidden_size"] // H
    eps = c["rms_norm_eps"]
    q, k, v = (linear(x, P, f"{p}.self_attn.{n}_proj", qkv_bias) for n in "qkv")
    if qk_norm == "projection":  # OLMoE: q_norm over hidden_size, k_norm over (D/H)*K, before the view
        q, k = rms_norm(q, P[f"{p}.self_attn.q_norm.weight"], eps), rms_norm(k, P[f"{p}.self_attn.k_norm.weight"], eps)
    if clip is not None:
        q, k, v = q.clamp(-clip, clip), k.clamp(-clip, clip), v.clamp(-clip, clip)
    q, k, v = q.view(T, H, Dh), k.view(T, K, Dh), v.view(T, K, Dh)
    if qk_norm == "head":  # Qwen3: RMSNorm over head_dim, after the view, before the transpose
        q, k = rms_norm(q, P[f"{p}.self_attn.q_norm.weight"], eps), rms_norm(k, P[f"{p}.self_attn.k_norm.weight"], eps)
    q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)
    cos, sin = rope_cos_sin(T, Dh, c["rope_theta"], c.get("rope_scaling"))
    q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
    k, v = k.repeat_interleave(H // K, 0), v.repeat_interleave(H // K, 0)  # repeat_kv
    o = attend(q, k, v, Dh ** -0.5).transpose(0, 1).reshape(T, H * Dh)
    return linear(o, P, f"{p}.self_attn.o_proj", o_bias)


def mla_attention(x, P, p, c):
    """DeepseekV3Attention.forward (multi-head latent attention)."""
    T = x.shape[0]
    H = c["num_attention_heads"]
    Dn, Dr, Dv, R = c["qk_nope_head_dim"], c["qk_rope_head_dim"], c["v_head_dim"], c["kv_lora_rank"]
    bias = c["attention_bias"]
    a = f"{p}.self_attn"
    if c["q_lora_rank"] is None:
        q = linear(x, P, f"{a}.q_proj")
    else:  # q_a_layernorm = DeepseekV3RMSNorm(q_lora_rank): its default eps 1e-6
        q = linear(rms_norm(linear(x, P, f"{a}.q_a_proj", bias), P[f"{a}.q_a_layernorm.weight"], 1e-6), P, f"{a}.q_b_proj")
    q = q.view(T, H, Dn + Dr).transpose(0, 1)
    q_pass, q_rot = torch.split(q, [Dn, Dr], -1)
    ckv = linear(x, P, f"{a}.kv_a_proj_with_mqa", bias)
    k_pass, k_rot = torch.split(ckv, [R, Dr], -1)
    k_pass = linear(rms_norm(k_pass, P[f"{a}.kv_a_layernorm.weight"], 1e-6), P, f"{a}.kv_b_proj").view(T, H, Dn + Dv).transpose(0, 1)
    k_pass, value = torch.split(k_pass, [Dn, Dv], -1)
    k_rot = k_rot.view(1, T, Dr)
    scaling = c.get("rope_scaling")
    cos, sin = rope_cos_sin(T, Dr, c["rope_theta"], scaling)
    if c["rope_interleave"]:  # apply_rotary_pos_emb_interleave
        q_rot = q_rot.reshape(H, T, Dr // 2, 2).transpose(3, 2).reshape(H, T, Dr)
        k_rot = k_rot.reshape(1, T, Dr // 2, 2).transpose(3, 2).reshape(1, T, Dr)
    q_rot, k_rot = q_rot * cos + rotate_half(q_rot) * sin, k_rot * cos + rotate_half(k_rot) * sin
    k_rot = k_rot.expand(H, T, Dr)
    query, key = torch.cat((q_pass, q_rot), -1), torch.cat((k_pass, k_rot), -1)
    scale = (Dn + Dr) ** -0.5
    if scaling is not None and scaling.get("mscale_all_dim", 0):
        scale = scale * get_mscale(scaling["factor"], scaling["mscale_all_dim"]) ** 2
    o = attend(query, key, value, scale).transpose(0, 1).reshape(T, H * Dv)
    return linear(o, P, f"{a}.o_proj", bias)


def softmax_moe(x, P, p, c, norm_topk):
    """Qwen3MoeSparseMoeBlock / Qwen2MoeSparseMoeBlock / OlmoeSparseMoeBlock routing and expert sum."""
    logits = linear(x, P, f"{p}.mlp.gate")
    w = F.softmax(logits, dim=1, dtype=torch.float)
    w, idx = torch.topk(w, c["num_experts_per_tok"], dim=-1)
    if norm_topk:
        w = w / w.sum(-1, keepdim=True)
    return expert_sum(x, P, p, idx, w), idx, logits


def deepseek_moe(x, P, p, c):
    """DeepseekV3TopkRouter + DeepseekV3MoE.moe."""
    E, G, Gk, k = c["n_routed_experts"], c["n_group"], c["topk_group"], c["num_experts_per_tok"]
    logits = F.linear(x.float(), P[f"{p}.mlp.gate.weight"].float())
    scores = logits.sigmoid()
    choice = scores + P[f"{p}.mlp.gate.e_score_correction_bias"][None]
    group_scores = choice.view(-1, G, E // G).topk(2, dim=-1)[0].sum(-1)
    group_idx = torch.topk(group_scores, k=Gk, dim=-1, sorted=False)[1]
    group_mask = torch.zeros_like(group_scores).scatter_(1, group_idx, 1)
    score_mask = group_mask.unsqueeze(-1).expand(-1, G, E // G).reshape(-1, E)
    choice = choice.masked_fill(~score_mask.bool(), 0.0)
    idx = torch.topk(choice, k=k, dim=-1, sorted=False)[1]
    w = scores.gather(1, idx)
    if c["norm_topk_prob"]:
        w = w / (w.sum(-1, keepdim=True) + 1e-20)
    w = w * c["routed_scaling_factor"]
    return expert_sum(x, P, p, idx, w), idx, choice


def expert_sum(x, P, p, idx, w):
    out = torch.zeros_like(x)
    for t in range(x.shape[0]):
        for j in range(idx.shape[1]):
            e = int(idx[t, j])
            out[t] += w[t, j] * swiglu(x[t : t + 1], P, f"{p}.mlp.experts.{e}")[0]
    return out


def forward(family, c, P, ids):
    """The whole model on one sequence: logits [T, V] and, per MoE layer, the chosen experts [T, k]."""
    x = P["model.embed_tokens.weight"][torch.tensor(ids)]
    eps = c["rms_norm_eps"]
    routes, margins = [], []
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}"
        h = rms_norm(x, P[f"{p}.input_layernorm.weight"], eps)
        if family in ("deepseek_v3", "kimi_k2"):
            a = mla_attention(h, P, p, c)
        elif family == "qwen3_moe":
            a = gqa_attention(h, P, p, c, "head", c["attention_bias"], c["attention_bias"], None)
        elif family == "qwen2_moe":
            a = gqa_attention(h, P, p, c, "none", c["qkv_bias"], False, None)
        else:  # olmoe
            a = gqa_attention(h, P, p, c, "projection", c["attention_bias"], c["attention_bias"], c["clip_qkv"])
        x = x + a
        h = rms_norm(x, P[f"{p}.post_attention_layernorm.weight"], eps)
        if is_moe_layer(family, c, i):
            if family in ("deepseek_v3", "kimi_k2"):
                y, idx, choice = deepseek_moe(h, P, p, c)
                y = y + swiglu(h, P, f"{p}.mlp.shared_experts")
                margins.append(selection_margin(choice, c["num_experts_per_tok"]))
            else:
                y, idx, logits = softmax_moe(h, P, p, c, c["norm_topk_prob"])
                margins.append(selection_margin(logits, c["num_experts_per_tok"]))
                if family == "qwen2_moe":  # shared expert scaled by sigmoid(shared_expert_gate(x))
                    y = y + torch.sigmoid(linear(h, P, f"{p}.mlp.shared_expert_gate")) * swiglu(h, P, f"{p}.mlp.shared_expert")
            routes.append(idx.sort(-1)[0])
        else:
            y = swiglu(h, P, f"{p}.mlp")
        x = x + y
    x = rms_norm(x, P["model.norm.weight"], eps)
    head = P["model.embed_tokens.weight"] if c.get("tie_word_embeddings") else P["lm_head.weight"]
    return x @ head.t(), routes, min(margins)


def selection_margin(scores, k):
    """Smallest gap between the k-th and (k+1)-th selection score: near ties would make routing fragile."""
    top = scores.topk(k + 1, dim=-1)[0]
    return float((top[:, k - 1] - top[:, k]).min())


def is_moe_layer(family, c, i):
    if family in ("deepseek_v3", "kimi_k2"):  # DeepseekV3DecoderLayer: i >= first_k_dense_replace
        return i >= c["first_k_dense_replace"]
    if family == "olmoe":
        return True
    # Qwen2MoeDecoderLayer / Qwen3MoeDecoderLayer
    return i not in c["mlp_only_layers"] and c["num_experts"] > 0 and (i + 1) % c["decoder_sparse_step"] == 0


# ---------------------------------------------------------------------------------------------------
# The fixtures: configs with the HF config classes' keys, and tensors named as the HF modules name them.

BASE = dict(vocab_size=V, hidden_act="silu", max_position_embeddings=64, initializer_range=0.02, use_cache=True,
            tie_word_embeddings=False, bos_token_id=0, eos_token_id=None, pad_token_id=None, attention_dropout=0.0)
# eos_token_id None: a random tiny model would end greedy decodes early at an arbitrary step.

FAMILIES = {
    "qwen3_moe": dict(
        dtype="float32", shards=1,
        config=dict(BASE, architectures=["Qwen3MoeForCausalLM"], model_type="qwen3_moe", hidden_size=32,
                    intermediate_size=48, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
                    head_dim=16, rms_norm_eps=1e-6, rope_theta=10000.0, attention_bias=False,
                    rope_scaling=dict(rope_type="yarn", factor=2.0, original_max_position_embeddings=32),
                    use_sliding_window=False, sliding_window=None, max_window_layers=3, decoder_sparse_step=1,
                    moe_intermediate_size=16, num_experts_per_tok=2, num_experts=8, norm_topk_prob=True,
                    output_router_logits=False, router_aux_loss_coef=0.001, mlp_only_layers=[1])),
    "qwen2_moe": dict(
        dtype="bfloat16", shards=2,
        config=dict(BASE, architectures=["Qwen2MoeForCausalLM"], model_type="qwen2_moe", hidden_size=32,
                    intermediate_size=48, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                    rms_norm_eps=1e-6, rope_theta=10000.0, rope_scaling=None, use_sliding_window=False,
                    sliding_window=4096, max_window_layers=2, decoder_sparse_step=1, moe_intermediate_size=16,
                    shared_expert_intermediate_size=32, num_experts_per_tok=4, num_experts=8, norm_topk_prob=False,
                    output_router_logits=False, router_aux_loss_coef=0.001, mlp_only_layers=[], qkv_bias=True)),
    "olmoe": dict(
        dtype="float32", shards=3,
        config=dict(BASE, architectures=["OlmoeForCausalLM"], model_type="olmoe", hidden_size=32,
                    intermediate_size=16, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                    rms_norm_eps=1e-5, rope_theta=10000.0, rope_scaling=None, attention_bias=False, clip_qkv=2.0,
                    num_experts_per_tok=2, num_experts=8, norm_topk_prob=False, output_router_logits=False,
                    router_aux_loss_coef=0.01)),
    "deepseek_v3": dict(
        dtype="bfloat16", shards=1,
        config=dict(BASE, architectures=["DeepseekV3ForCausalLM"], model_type="deepseek_v3", hidden_size=32,
                    intermediate_size=48, moe_intermediate_size=8, num_hidden_layers=3, num_attention_heads=4,
                    num_key_value_heads=4, n_shared_experts=1, n_routed_experts=16, routed_scaling_factor=2.5,
                    kv_lora_rank=16, q_lora_rank=12, qk_rope_head_dim=8, v_head_dim=12, qk_nope_head_dim=8,
                    n_group=4, topk_group=2, num_experts_per_tok=4, first_k_dense_replace=1, norm_topk_prob=True,
                    rms_norm_eps=1e-6, rope_theta=10000.0, rope_interleave=True, attention_bias=False,
                    rope_scaling=dict(type="yarn", factor=4.0, original_max_position_embeddings=16, beta_fast=32,
                                      beta_slow=1, mscale=1.0, mscale_all_dim=0.8),
                    pretraining_tp=1)),
    "kimi_k2": dict(  # Kimi-K2's config: the DeepSeek-V3 architecture, model_type kimi_k2, no groups
        dtype="float32", shards=2,
        config=dict(BASE, architectures=["DeepseekV3ForCausalLM"], model_type="kimi_k2", hidden_size=32,
                    intermediate_size=48, moe_intermediate_size=8, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=4, n_shared_experts=1, n_routed_experts=16, routed_scaling_factor=2.827,
                    kv_lora_rank=16, q_lora_rank=None, qk_rope_head_dim=8, v_head_dim=8, qk_nope_head_dim=8,
                    n_group=1, topk_group=1, num_experts_per_tok=8, first_k_dense_replace=1, norm_topk_prob=True,
                    rms_norm_eps=1e-6, rope_theta=50000.0, rope_interleave=True, attention_bias=False,
                    rope_scaling=None, pretraining_tp=1)),
}


def make_params(family, c, gen):
    D, L = c["hidden_size"], c["num_hidden_layers"]
    P = {}

    def lin(name, out_f, in_f, bias=False, gain=1.0):
        P[name + ".weight"] = torch.randn(out_f, in_f, generator=gen) * gain / math.sqrt(in_f)
        if bias:
            P[name + ".bias"] = torch.randn(out_f, generator=gen) * 0.2

    def norm(name, n):
        P[name] = 1 + 0.2 * torch.randn(n, generator=gen)

    def mlp(prefix, F_):
        lin(prefix + ".gate_proj", F_, D)
        lin(prefix + ".up_proj", F_, D)
        lin(prefix + ".down_proj", D, F_)

    P["model.embed_tokens.weight"] = torch.randn(V, D, generator=gen)
    norm("model.norm.weight", D)
    lin("lm_head", V, D, gain=2.0)
    H, K = c["num_attention_heads"], c["num_key_value_heads"]
    for i in range(L):
        p = f"model.layers.{i}"
        norm(f"{p}.input_layernorm.weight", D)
        norm(f"{p}.post_attention_layernorm.weight", D)
        a = f"{p}.self_attn"
        if family in ("deepseek_v3", "kimi_k2"):
            Dq = c["qk_nope_head_dim"] + c["qk_rope_head_dim"]
            if c["q_lora_rank"] is None:
                lin(f"{a}.q_proj", H * Dq, D)
            else:
                lin(f"{a}.q_a_proj", c["q_lora_rank"], D, c["attention_bias"])
                norm(f"{a}.q_a_layernorm.weight", c["q_lora_rank"])
                lin(f"{a}.q_b_proj", H * Dq, c["q_lora_rank"])
            lin(f"{a}.kv_a_proj_with_mqa", c["kv_lora_rank"] + c["qk_rope_head_dim"], D, c["attention_bias"])
            norm(f"{a}.kv_a_layernorm.weight", c["kv_lora_rank"])
            lin(f"{a}.kv_b_proj", H * (c["qk_nope_head_dim"] + c["v_head_dim"]), c["kv_lora_rank"])
            lin(f"{a}.o_proj", D, H * c["v_head_dim"], c["attention_bias"])
        else:
            Dh = c.get("head_dim") or D // H
            qkv_bias = c["qkv_bias"] if family == "qwen2_moe" else c["attention_bias"]
            o_bias = False if family == "qwen2_moe" else c["attention_bias"]
            lin(f"{a}.q_proj", H * Dh, D, qkv_bias, gain=2.0)
            lin(f"{a}.k_proj", K * Dh, D, qkv_bias, gain=2.0)
            lin(f"{a}.v_proj", K * Dh, D, qkv_bias)
            lin(f"{a}.o_proj", D, H * Dh, o_bias)
            if family == "qwen3_moe":
                norm(f"{a}.q_norm.weight", Dh)
                norm(f"{a}.k_norm.weight", Dh)
            if family == "olmoe":
                norm(f"{a}.q_norm.weight", D)
                norm(f"{a}.k_norm.weight", (D // H) * K)
        if not is_moe_layer(family, c, i):
            mlp(f"{p}.mlp", c["intermediate_size"])
            continue
        if family in ("deepseek_v3", "kimi_k2"):
            E, Fm = c["n_routed_experts"], c["moe_intermediate_size"]
            lin(f"{p}.mlp.gate", E, D, gain=3.0)
            P[f"{p}.mlp.gate.e_score_correction_bias"] = 0.1 * torch.randn(E, generator=gen)
            mlp(f"{p}.mlp.shared_experts", Fm * c["n_shared_experts"])
        else:
            E = c["num_experts"]
            Fm = c["intermediate_size"] if family == "olmoe" else c["moe_intermediate_size"]
            lin(f"{p}.mlp.gate", E, D, gain=3.0)
            if family == "qwen2_moe":
                mlp(f"{p}.mlp.shared_expert", c["shared_expert_intermediate_size"])
                lin(f"{p}.mlp.shared_expert_gate", 1, D)
        for e in range(E):
            mlp(f"{p}.mlp.experts.{e}", Fm)
    return P


def write_safetensors(path, tensors, metadata=None):
    header, offset, blobs = {}, 0, []
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        if t.dtype == torch.bfloat16:
            dtype, raw = "BF16", t.view(torch.int16).numpy().tobytes()
        else:
            dtype, raw = {torch.float32: "F32", torch.int32: "I32"}[t.dtype], t.numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for b in blobs:
            f.write(b)


def write_checkpoint(d, P, dtype, shards):
    store = {k: (v.to(torch.bfloat16) if dtype == "bfloat16" else v) for k, v in P.items()}
    if shards == 1:
        write_safetensors(os.path.join(d, "model.safetensors"), store, {"format": "pt"})
        return
    names = sorted(store)
    weight_map = {}
    for s in range(shards):
        file = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        part = names[s::shards]
        weight_map.update({n: file for n in part})
        write_safetensors(os.path.join(d, file), {n: store[n] for n in part}, {"format": "pt"})
    size = sum(t.numel() * t.element_size() for t in store.values())
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": size}, "weight_map": weight_map}, f, indent=2)


def write_tokenizer(d):
    vocab = {ch: i for i, ch in enumerate(CHARS)}
    special = lambda i, s: dict(id=i, content=s, single_word=False, lstrip=False, rstrip=False, normalized=False, special=True)
    tok = dict(version="1.0", truncation=None, padding=None, added_tokens=[special(0, "<s>"), special(1, "<unk>")],
               normalizer=None, pre_tokenizer=None, post_processor=None, decoder=dict(type="Fuse"),
               model=dict(type="BPE", dropout=None, unk_token="<unk>", continuing_subword_prefix=None,
                          end_of_word_suffix=None, fuse_unk=False, byte_fallback=False, ignore_merges=False,
                          vocab=vocab, merges=[]))
    with open(os.path.join(d, "tokenizer.json"), "w") as f:
        json.dump(tok, f, ensure_ascii=False)


@torch.no_grad()
def chunked_nll(family, c, P, ids, T):  # the rule of `expertmesh score` (and train.py's chunked_nll)
    total, count = 0.0, 0
    for s in range(0, len(ids) - 1, T):
        w = ids[s : s + T + 1]
        logits, _, _ = forward(family, c, P, w[:-1])
        total += F.cross_entropy(logits.double(), torch.tensor(w[1:]), reduction="sum").item()
        count += len(w) - 1
    return total / count, count


@torch.no_grad()
def build(family, spec, seed):
    c = spec["config"]
    d = os.path.join(OUT, family)
    os.makedirs(os.path.join(d, "golden"), exist_ok=True)
    gen = torch.Generator().manual_seed(seed)
    P = make_params(family, c, gen)
    if spec["dtype"] == "bfloat16":  # the golden run sees exactly the stored weights
        P = {k: v.to(torch.bfloat16).float() for k, v in P.items()}
    cfg = dict(c, torch_dtype=spec["dtype"])
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    write_checkpoint(d, P, spec["dtype"], spec["shards"])
    write_tokenizer(d)
    gold, margin = {}, float("inf")
    prompt_ids = [encode(p) for p in PROMPTS]
    for i, ids in enumerate(prompt_ids):
        logits, routes, m = forward(family, c, P, ids)
        margin = min(margin, m)
        gold[f"prompt{i}.logits"] = logits.float()  # [T, V]
        gold[f"prompt{i}.experts"] = torch.stack(routes, 0).int()  # [L, T, k], each token's experts ascending
    ids = list(prompt_ids[0])
    steps = []
    for _ in range(GREEDY_STEPS):  # recomputed from scratch each step (no cache in the reference)
        logits, _, m = forward(family, c, P, ids)
        margin = min(margin, m)
        steps.append(logits[-1])
        ids.append(int(logits[-1].argmax()))
    gold["greedy.logits"] = torch.stack(steps).float()
    gold["greedy.ids"] = torch.tensor(ids, dtype=torch.int32)
    write_safetensors(os.path.join(d, "golden", "golden.safetensors"), gold)
    with open(os.path.join(d, "golden", "score.txt"), "w") as f:
        f.write(SCORE_TEXT)
    score_ids = encode(SCORE_TEXT)
    nll, n = chunked_nll(family, c, P, score_ids, c["max_position_embeddings"])
    ref = dict(family=family, seed=seed, prompts=[dict(text=t, ids=x) for t, x in zip(PROMPTS, prompt_ids)],
               greedy_steps=GREEDY_STEPS, score=dict(file="golden/score.txt", ids=score_ids, tokens=n, mean_nll=nll,
                                                     perplexity=math.exp(nll)),
               min_selection_margin=margin, logit_std=float(gold["prompt1.logits"].std()))
    with open(os.path.join(d, "golden", "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")
    return margin, ref


def main():
    torch.set_num_threads(1)
    for family, spec in FAMILIES.items():
        seed = 1
        while True:  # a fixture whose routing has a near tie would test rounding, not conventions
            margin, ref = build(family, spec, seed)
            if margin > 1e-3:
                break
            seed += 1
        print(f"{family}: seed {seed}, min selection margin {margin:.2e}, logit std {ref['logit_std']:.2f}, "
              f"score {ref['score']['tokens']} tokens, mean NLL {ref['score']['mean_nll']:.4f}")


if __name__ == "__main__":
    main()
