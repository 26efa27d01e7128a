"""torch_peer.py: PyTorch's side of `make bench` (bench/run_bench.sh runs it).

    python3 bench/torch_peer.py train|infer minilm|base|tiny [warmup] [steps] [batch] [seq]
    python3 bench/torch_peer.py peak [reps]

peak: torch.mm on 2048^3 and 4096x4096x1024 fp32, best of reps runs each: the
GEMM rate PyTorch's own BLAS reaches on this machine (for comparison with the
OpenBLAS peak that bench_train measures). Prints one TPEAK line.

The same work as build/bench/bench_train, on transformers' BertModel built from
a BertConfig of the same shape (random weights, default attention
implementation, fp32, no pooler):
  train: forward with dropout (model.train()), mean pooling, classifier dropout
         + nn.Linear head, class-weighted F.cross_entropy, backward,
         clip_grad_norm_(1.0), torch.optim.AdamW (decay on matrices only).
  infer: model.eval(), torch.inference_mode(), forward + mean pooling.
BENCH_BF16=1: the same step under torch.autocast("cpu", dtype=torch.bfloat16)
(PyTorch's bf16 mode: the matmuls on oneDNN's bf16 kernels, AMX where the
CPU has it; fp32 master weights and optimiser); the RESULT line says bf16=1.
Every token is real (mask all 1). Prints one line
  RESULT side=torch ... step_s=<median> seq_per_s=... maxrss_mb=... import_rss_mb=...
(import_rss_mb: the peak resident set once torch and transformers are imported,
before the model exists; others_pct / steal_pct: the share of all CPUs' time
that other processes / the hypervisor took during the timed steps).
Threads: BENCH_THREADS (default 2) for torch.set_num_threads, and for the
OMP/MKL environment variables, which must be set before torch is imported. """
import os
import sys

THREADS = int(os.environ.get("BENCH_THREADS", "2"))
BF16 = os.environ.get("BENCH_BF16", "0") == "1"
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = str(THREADS)

import contextlib  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import transformers  # noqa: E402
from transformers import BertConfig, BertModel  # noqa: E402

SHAPES = {
    "minilm": dict(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                   intermediate_size=1536),
    "base": dict(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                 intermediate_size=3072),
    "tiny": dict(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                 intermediate_size=256),
}
NUM_CLASSES = 4


def cpu_snapshot():
    """(busy, steal, own, wall) seconds: all CPUs' busy and steal time from
    /proc/stat, this process's CPU time, the monotonic clock."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        v = [0] * 8
    hz = os.sysconf("SC_CLK_TCK")
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ((v[0] + v[1] + v[2] + v[5] + v[6]) / hz, v[7] / hz, ru.ru_utime + ru.ru_stime, time.perf_counter())


def noise(a, b):
    """others_pct / steal_pct: shares of all CPUs' time between snapshots a and b
    taken by other processes / by the hypervisor."""
    cap = (b[3] - a[3]) * os.sysconf("SC_NPROCESSORS_ONLN")
    others = max(0.0, (b[0] - a[0]) - (b[2] - a[2]))
    return (f"others_pct={100 * others / cap if cap > 0 else 0:.1f} "
            f"steal_pct={100 * (b[1] - a[1]) / cap if cap > 0 else 0:.1f}")


def peak(reps):
    torch.set_num_threads(THREADS)
    out = {}
    for (M, N, K) in ((2048, 2048, 2048), (4096, 4096, 1024)):
        a, b = torch.rand(M, K), torch.rand(K, N)
        best = 0.0
        for r in range(reps + 1):  # the first run warms up
            t0 = time.perf_counter()
            torch.mm(a, b)
            gf = 2.0 * M * N * K / (time.perf_counter() - t0) / 1e9
            if r > 0:
                best = max(best, gf)
        out[f"{M}x{N}x{K}"] = best
    print(f"TPEAK threads={torch.get_num_threads()} " + " ".join(f"mm_{k}={v:.1f}" for k, v in out.items())
          + f" peak_gflops={max(out.values()):.1f}")


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "peak":
        return peak(int(sys.argv[2]) if len(sys.argv) > 2 else 5)
    if len(sys.argv) < 3 or sys.argv[1] not in ("train", "infer") or sys.argv[2] not in SHAPES:
        sys.exit(__doc__)
    mode, shape = sys.argv[1], sys.argv[2]
    warmup = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    steps = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    B = int(sys.argv[5]) if len(sys.argv) > 5 else 32
    T = int(sys.argv[6]) if len(sys.argv) > 6 else 128
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # torch + transformers imported

    cfg = BertConfig(**SHAPES[shape], max_position_embeddings=512, type_vocab_size=2, hidden_act="gelu",
                     hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, layer_norm_eps=1e-12)
    model = BertModel(cfg, add_pooling_layer=False)  # default attention implementation
    attn_impl = getattr(model.config, "_attn_implementation", "?")
    V = cfg.vocab_size
    g = torch.Generator().manual_seed(7)
    lo = 1000 if V > 2000 else 3
    ids = torch.randint(lo, V, (B, T), generator=g)
    ids[:, 0] = 101 if V > 2000 else 1
    ids[:, -1] = 102 if V > 2000 else 2
    mask = torch.ones(B, T, dtype=torch.long)
    maskf = mask.unsqueeze(-1).float()

    def pool(h):
        return (h * maskf).sum(1) / maskf.sum(1).clamp(min=1e-9)

    def autocast():
        return torch.autocast("cpu", dtype=torch.bfloat16) if BF16 else contextlib.nullcontext()

    times = []
    if mode == "infer":
        model.eval()
        with torch.inference_mode(), autocast():
            for s in range(warmup + steps):
                if s == warmup:
                    snap0 = cpu_snapshot()
                t0 = time.perf_counter()
                h = model(input_ids=ids, attention_mask=mask).last_hidden_state
                pooled = pool(h)
                dt = time.perf_counter() - t0
                print(f"  torch infer {shape} step {s + 1}{' (warm-up)' if s < warmup else ''}: {dt:.3f} s",
                      file=sys.stderr)
                if s >= warmup:
                    times.append(dt)
        del pooled
    else:
        model.train()
        head = torch.nn.Linear(cfg.hidden_size, NUM_CLASSES)
        drop = torch.nn.Dropout(cfg.hidden_dropout_prob)
        y = torch.arange(B) % NUM_CLASSES
        class_w = torch.tensor([0.5, 1.0, 1.5, 2.0])
        params = list(model.parameters()) + list(head.parameters())
        groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.01},
                  {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
        opt = torch.optim.AdamW(groups, lr=2e-5)
        for s in range(warmup + steps):
            if s == warmup:
                snap0 = cpu_snapshot()
            t0 = time.perf_counter()
            opt.zero_grad()
            with autocast():
                h = model(input_ids=ids, attention_mask=mask).last_hidden_state
                logits = head(drop(pool(h)))
            loss = F.cross_entropy(logits.float(), y, weight=class_w)
            loss.backward()
            norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            dt = time.perf_counter() - t0
            print(f"  torch train {shape} step {s + 1}{' (warm-up)' if s < warmup else ''}: {dt:.3f} s "
                  f"(loss {loss.item():.4f}, grad norm {norm.item():.3g})", file=sys.stderr)
            if s >= warmup:
                times.append(dt)
    snap1 = cpu_snapshot()
    med = statistics.median(times)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"RESULT side=torch mode={mode} shape={shape} batch={B} seq={T} threads={torch.get_num_threads()} "
          f"steps={steps} step_s={med:.4f} seq_per_s={B / med:.2f} maxrss_mb={rss:.0f} import_rss_mb={base_rss:.0f} "
          f"bf16={int(BF16)} "
          f"torch={torch.__version__} transformers={transformers.__version__} attn={attn_impl} {noise(snap0, snap1)}")


if __name__ == "__main__":
    main()
