"""Trains the bundled Mixtral-architecture model and writes it in Hugging Face format.

The model is exactly transformers' MixtralForCausalLM: RMSNorm (eps 1e-5), rotary embeddings that
rotate halves, grouped-query attention, a softmax gate with top-k renormalisation, SwiGLU experts
w2(silu(w1 x) * w3 x), untied LM head. Tensor names are Mixtral's.

Letters (glossary: docs/ARCHITECTURE.md): B sequences per batch, T tokens per sequence (this script's meaning),
D hidden, H heads, K kv heads, Dh head dim, E experts, F expert hidden, k experts per token, V vocabulary, L
layers.

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 /usr/bin/python3 models/sotu-moe/train.py --steps 1500
    /usr/bin/python3 models/sotu-moe/train.py --export-only     # rewrite outputs from the checkpoint
"""
import argparse, json, math, os, struct, time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")

CONFIG = dict(
    architectures=["MixtralForCausalLM"], model_type="mixtral", torch_dtype="float32",
    vocab_size=4096, hidden_size=128, intermediate_size=256, num_hidden_layers=4,
    num_attention_heads=4, num_key_value_heads=2, head_dim=32, hidden_act="silu",
    max_position_embeddings=512, rms_norm_eps=1e-5, rope_theta=10000.0, sliding_window=None,
    attention_dropout=0.0, num_local_experts=16, num_experts_per_tok=2,
    output_router_logits=False, router_aux_loss_coef=0.04, router_jitter_noise=0.0,
    initializer_range=0.02, tie_word_embeddings=False, use_cache=True,
    bos_token_id=0, eos_token_id=0, pad_token_id=None,
)


class RMSNorm(torch.nn.Module):
    def __init__(self, d, eps):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):  # [.., D]
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rope(T, dh, theta, offset=0):
    inv = 1.0 / (theta ** (torch.arange(0, dh, 2, dtype=torch.float32) / dh))  # [Dh/2]
    freqs = torch.outer(torch.arange(offset, offset + T, dtype=torch.float32), inv)  # [T, Dh/2]
    emb = torch.cat([freqs, freqs], -1)  # [T, Dh]
    return emb.cos(), emb.sin()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], -1)


class Attention(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        D, H, K, Dh = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
        self.H, self.K, self.Dh = H, K, Dh
        self.q_proj = torch.nn.Linear(D, H * Dh, bias=False)
        self.k_proj = torch.nn.Linear(D, K * Dh, bias=False)
        self.v_proj = torch.nn.Linear(D, K * Dh, bias=False)
        self.o_proj = torch.nn.Linear(H * Dh, D, bias=False)

    def forward(self, x, cos, sin):  # x [B, T, D]
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.H, self.Dh).transpose(1, 2)  # [B, H, T, Dh]
        k = self.k_proj(x).view(B, T, self.K, self.Dh).transpose(1, 2)  # [B, K, T, Dh]
        v = self.v_proj(x).view(B, T, self.K, self.Dh).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.H // self.K
        k = k.repeat_interleave(rep, dim=1)  # [B, H, T, Dh]
        v = v.repeat_interleave(rep, dim=1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(self.Dh)  # [B, H, T, T]
        mask = torch.ones(T, T, dtype=torch.bool).triu(1)
        s = s.masked_fill(mask, float("-inf"))
        o = torch.softmax(s.float(), -1) @ v  # [B, H, T, Dh]
        return self.o_proj(o.transpose(1, 2).reshape(B, T, self.H * self.Dh))


class Expert(torch.nn.Module):
    def __init__(self, D, Fh):
        super().__init__()
        self.w1 = torch.nn.Linear(D, Fh, bias=False)
        self.w2 = torch.nn.Linear(Fh, D, bias=False)
        self.w3 = torch.nn.Linear(D, Fh, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class SparseMoe(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        D, E = c["hidden_size"], c["num_local_experts"]
        self.k = c["num_experts_per_tok"]
        self.gate = torch.nn.Linear(D, E, bias=False)
        self.experts = torch.nn.ModuleList([Expert(D, c["intermediate_size"]) for _ in range(E)])

    def forward(self, x):  # [B, T, D] -> [B, T, D], gate logits [B*T, E], chosen [B*T, k]
        B, T, D = x.shape
        x = x.reshape(-1, D)
        logits = self.gate(x)  # [N, E]
        probs = torch.softmax(logits.float(), -1)
        w, idx = torch.topk(probs, self.k, -1)  # [N, k]
        w = (w / w.sum(-1, keepdim=True)).to(x.dtype)
        out = torch.zeros_like(x)
        for e, expert in enumerate(self.experts):
            tok, slot = torch.where(idx == e)
            if tok.numel():
                out.index_add_(0, tok, expert(x[tok]) * w[tok, slot, None])
        return out.view(B, T, D), logits, idx


class Block(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.block_sparse_moe = SparseMoe(c)

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        m, logits, idx = self.block_sparse_moe(self.post_attention_layernorm(x))
        return x + m, logits, idx


class Mixtral(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed_tokens = torch.nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = torch.nn.ModuleList([Block(c) for _ in range(c["num_hidden_layers"])])
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.lm_head = torch.nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        std = c["initializer_range"]
        for name, p in self.named_parameters():
            if p.dim() == 2:
                scale = 1 / math.sqrt(2 * c["num_hidden_layers"]) if name.endswith(("o_proj.weight", "w2.weight")) else 1.0
                torch.nn.init.normal_(p, 0.0, std * scale)

    def forward(self, ids):  # [B, T] -> logits [B, T, V], per-layer gate logits and chosen experts
        cos, sin = rope(ids.shape[1], self.c["head_dim"], self.c["rope_theta"])
        x = self.embed_tokens(ids)
        gates, chosen = [], []
        for layer in self.layers:
            x, g, i = layer(x, cos, sin)
            gates.append(g)
            chosen.append(i)
        return self.lm_head(self.norm(x)), gates, chosen


def load_balancing_loss(gate_logits, k):
    """The Switch / Mixtral balancing loss E * sum_e(fraction routed to e * mean gate prob of e), computed
    for each layer and averaged. (transformers' load_balancing_loss_func concatenates the layers first,
    which pools expert e of every layer into one count and let whole experts of single layers die in a
    first run of this script.) Balanced routing gives k."""
    total = 0.0
    for logits in gate_logits:  # [N, E] per layer
        E = logits.shape[-1]
        probs = torch.softmax(logits.float(), -1)
        _, sel = torch.topk(probs, k, -1)
        mask = F.one_hot(sel, E).float()  # [N, k, E]
        total = total + E * torch.sum(mask.mean(0) * probs.mean(0).unsqueeze(0))
    return total / len(gate_logits)


def min_load(chosen, E):
    """Per layer, the smallest share of routing slots any expert received (0 means a dead expert)."""
    return [round(float(torch.bincount(c.flatten(), minlength=E).min()) / c.numel(), 4) for c in chosen]


def batches(ids, B, T, gen):
    while True:
        start = torch.randint(0, len(ids) - T - 1, (B,), generator=gen)
        chunk = torch.stack([ids[s : s + T + 1] for s in start.tolist()]).long()
        yield chunk[:, :-1], chunk[:, 1:]


def read_ids(name):
    with open(os.path.join(DATA, name), "rb") as f:
        raw = f.read()
    return torch.tensor(struct.unpack(f"<{len(raw) // 2}H", raw), dtype=torch.int32)


@torch.no_grad()
def chunked_nll(model, ids, T):
    """Mean NLL per predicted token over consecutive non-overlapping windows of T+1 tokens sharing one
    token at the seams (the same rule as `expertmesh score`)."""
    total, count = 0.0, 0
    for s in range(0, len(ids) - 1, T):
        w = ids[s : s + T + 1].long()[None]
        if w.shape[1] < 2:
            break
        logits, _, _ = model(w[:, :-1])
        total += F.cross_entropy(logits[0].double(), w[0, 1:], reduction="sum").item()
        count += w.shape[1] - 1
    return total / count, count


def write_safetensors(path, tensors, metadata=None):
    header, offset, blobs = {}, 0, []
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        dtype = {torch.float32: "F32", torch.int32: "I32"}[t.dtype]
        raw = t.numpy().tobytes()
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


def export(model, args):
    c = model.c
    sd = {("model." + k if not k.startswith("lm_head") else k): v.detach().float() for k, v in model.state_dict().items()}
    write_safetensors(os.path.join(HERE, "model.safetensors"), sd, {"format": "pt"})
    with open(os.path.join(HERE, "config.json"), "w") as f:
        json.dump(c, f, indent=2)
        f.write("\n")
    model.eval()
    gold = {}
    with open(os.path.join(HERE, "golden", "prompts.json")) as f:
        prompts = json.load(f)
    with torch.no_grad():
        for i, p in enumerate(prompts["prompts"]):
            ids = torch.tensor(p["ids"])[None]
            logits, _, chosen = model(ids)
            gold[f"prompt{i}.logits"] = logits[0, -8:].float()  # [min(T, 8), V]: the last positions
            gold[f"prompt{i}.experts"] = torch.stack(chosen, 0).int()  # [L, T, k]
        # Greedy decode of prompt 0, recomputed from scratch each step (no cache in the reference).
        ids = torch.tensor(prompts["prompts"][0]["ids"])[None]
        steps = []
        for _ in range(prompts["greedy_steps"]):
            logits, _, _ = model(ids)
            steps.append(logits[0, -1])
            ids = torch.cat([ids, logits[0, -1].argmax()[None, None]], 1)
        gold["greedy.logits"] = torch.stack(steps).float()  # [steps, V]
        gold["greedy.ids"] = ids[0].int()
        score_ids = torch.tensor(prompts["score"]["ids"])
        nll, n = chunked_nll(model, score_ids, c["max_position_embeddings"])
    write_safetensors(os.path.join(HERE, "golden", "golden.safetensors"), gold)
    heldout = read_ids("heldout.bin")
    h_nll, h_n = chunked_nll(model, heldout[: args.eval_tokens], c["max_position_embeddings"])
    # Per-layer expert-load entropy on held-out text (max is ln E).
    with torch.no_grad():
        w = heldout[: 16 * 512].long().view(16, 512)
        _, _, chosen = model(w)
    entropy, load = [], []
    for i in chosen:
        counts = torch.bincount(i.flatten(), minlength=c["num_local_experts"]).double()
        pr = counts / counts.sum()
        entropy.append(float(-(pr[pr > 0] * pr[pr > 0].log()).sum()))
        load.append([round(float(x), 4) for x in pr])
    report = {
        "score": {"file": prompts["score"]["file"], "tokens": n, "mean_nll": nll, "perplexity": math.exp(nll)},
        "heldout": {"tokens": h_n, "mean_nll": h_nll, "perplexity": math.exp(h_nll)},
        "expert_load_entropy_nats": entropy, "max_entropy_nats": math.log(c["num_local_experts"]),
        "expert_load": load, "training": args.__dict__,
    }
    with open(os.path.join(HERE, "golden", "reference.json"), "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    print(json.dumps({k: report[k] for k in ("score", "heldout", "expert_load_entropy_nats")}, indent=1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--eval-tokens", type=int, default=40000)
    ap.add_argument("--export-only", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    model = Mixtral(CONFIG)
    ckpt = os.path.join(DATA, "checkpoint.pt")
    if args.export_only:
        model.load_state_dict(torch.load(ckpt)["model"])
        return export(model, args)
    train = read_ids("train.bin")
    gen = torch.Generator().manual_seed(args.seed)
    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    other = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95))
    warm = 100
    sched = lambda s: min(1.0, (s + 1) / warm) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, s / args.steps))))
    T = CONFIG["max_position_embeddings"]
    it = batches(train, args.batch, T, gen)
    t0 = time.time()
    for step in range(args.steps):
        x, y = next(it)
        for g in opt.param_groups:
            g["lr"] = args.lr * sched(step)
        logits, gates, chosen = model(x)
        ce = F.cross_entropy(logits.view(-1, logits.shape[-1]), y.reshape(-1))
        aux = load_balancing_loss(gates, CONFIG["num_experts_per_tok"])
        loss = ce + CONFIG["router_aux_loss_coef"] * aux
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 25 == 0 or step == args.steps - 1:
            el = time.time() - t0
            print(f"step {step} ce {ce.item():.4f} aux {aux.item():.4f} lr {args.lr * sched(step):.2e} "
                  f"{(step + 1) * x.numel() / el:.0f} tok/s {el / 60:.1f} min min-load {min_load(chosen, CONFIG['num_local_experts'])}", flush=True)
        if step % 200 == 199 or step == args.steps - 1:
            torch.save({"model": model.state_dict(), "step": step}, ckpt)
    export(model, args)


if __name__ == "__main__":
    main()
