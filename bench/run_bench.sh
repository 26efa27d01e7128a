#!/bin/sh
# run_bench.sh: gloss vs PyTorch, training step and inference, fp32 and bf16, one table.
#   sh bench/run_bench.sh [BUILD_DIR]      (what `make bench` runs)
# Runs, each in its own fresh process (so that each peak RSS is its own):
#   the sgemm peak; then for each shape and task (train, infer): gloss fp32,
#   gloss --bf16 (GLOSS_BF16=1: the kernels gloss picks on this CPU, fp32
#   where bf16 would be slower), torch fp32, torch bf16 (autocast). Progress
#   goes to stderr, the table to stdout; the raw lines are kept in
#   BUILD_DIR/bench/results.txt. See bench/README.md.
# PyTorch: BENCH_PYTHON when set; else python3 when it imports torch and
#   transformers; else a virtual environment BUILD_DIR/bench/venv, made once
#   with the PyPI torch and transformers (several GB to download); when none
#   works the table has gloss's rows alone.
# Knobs (environment): BENCH_THREADS (2), BENCH_SHAPES ("minilm base"),
#   BENCH_BATCH (32), BENCH_SEQ (128), BENCH_PYTHON, BENCH_BF16 (1: bf16 rows;
#   0: fp32 only), BENCH_TRAIN_STEPS_minilm (7), BENCH_TRAIN_STEPS_base (4),
#   BENCH_INFER_STEPS_minilm (7), BENCH_INFER_STEPS_base (4); one warm-up step each;
#   BENCH_REPORT_ONLY=1 prints the table of the last run's results.txt again.
set -eu
BUILD=${1:-build}
BIN=$BUILD/bench/bench_train
THREADS=${BENCH_THREADS:-2}
SHAPES=${BENCH_SHAPES:-minilm base}
BATCH=${BENCH_BATCH:-32}
SEQ=${BENCH_SEQ:-128}
WITH_BF16=${BENCH_BF16:-1}
export OMP_NUM_THREADS=$THREADS BENCH_THREADS=$THREADS MKL_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS
OUT=$BUILD/bench/results.txt
mkdir -p "$BUILD/bench"
flags=$(sed -n 's/^flags[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n 1)
feat=""
for f in avx512f avx512_bf16 amx_tile amx_bf16 avx512_fp16; do
    case " $flags " in *" $f "*) feat="$feat $f" ;; *) feat="$feat no-$f" ;; esac
done

precisions=fp32
[ "$WITH_BF16" = 1 ] && precisions="fp32 bf16"
if [ "${BENCH_REPORT_ONLY:-0}" != 1 ]; then
: >"$OUT"

steps_for() { # mode shape
    eval "v=\${BENCH_$(echo "$1" | tr a-z A-Z)_STEPS_$2:-}"
    if [ -n "$v" ]; then echo "$v"; elif [ "$2" = base ]; then echo 4; else echo 7; fi
}

# the PyTorch peer's interpreter, or "" (gloss alone)
has_torch() { "$1" -c "import torch, transformers" >/dev/null 2>&1; }
PY=""
if [ -n "${BENCH_PYTHON:-}" ]; then
    PY=$BENCH_PYTHON
elif has_torch python3; then
    PY=python3
else
    VENV=$BUILD/bench/venv
    if [ ! -x "$VENV/bin/python3" ] || ! has_torch "$VENV/bin/python3"; then
        echo "run_bench: PyTorch is not installed: making $VENV with the PyPI torch and transformers" >&2
        if python3 -m venv "$VENV" >&2 && "$VENV/bin/python3" -m pip install -q torch transformers >&2; then :; else
            echo "run_bench: WARNING: could not install PyTorch (offline? python3-venv missing?): gloss rows only" >&2
        fi
    fi
    has_torch "$VENV/bin/python3" && PY=$VENV/bin/python3
fi
if [ -n "$PY" ] && ! has_torch "$PY"; then
    echo "run_bench: WARNING: $PY cannot import torch and transformers: gloss rows only" >&2
    PY=""
fi

load=$(cut -d' ' -f1 /proc/loadavg)
if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
    echo "run_bench: WARNING: load average $load before starting; timings are only meaningful on an idle machine" >&2
fi
t_start=$(date +%s)
echo "run_bench: sgemm peak ($THREADS threads)" >&2
"$BIN" peak 10 | tee -a "$OUT" >&2
[ -n "$PY" ] && "$PY" bench/torch_peer.py peak 10 | tee -a "$OUT" >&2
for shape in $SHAPES; do
    for mode in train infer; do
        n=$(steps_for "$mode" "$shape")
        for prec in $precisions; do
            b=0
            [ "$prec" = bf16 ] && b=1
            echo "run_bench: $shape $mode $prec, gloss (1 warm-up + $n steps)" >&2
            if [ $b = 1 ]; then
                GLOSS_BF16=1 "$BIN" "$mode" "$shape" 1 "$n" "$BATCH" "$SEQ" >>"$OUT" ||
                    echo "run_bench: gloss --bf16 did not run (no AVX512-BF16?)" >&2
            else
                "$BIN" "$mode" "$shape" 1 "$n" "$BATCH" "$SEQ" >>"$OUT"
            fi
            if [ -n "$PY" ]; then
                echo "run_bench: $shape $mode $prec, torch (1 warm-up + $n steps)" >&2
                BENCH_BF16=$b "$PY" bench/torch_peer.py "$mode" "$shape" 1 "$n" "$BATCH" "$SEQ" >>"$OUT"
            fi
        done
    done
done
t_end=$(date +%s)
echo "META secs=$((t_end - t_start)) load=$load" >>"$OUT"
fi

cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)
awk -v cpu="${cpu:-unknown}" -v shapes="$SHAPES" -v feat="$feat" \
    -v precs="$precisions" '
function kv(line, key,    n, i, a, f) {
    n = split(line, a, " ")
    for (i = 1; i <= n; i++) { split(a[i], f, "="); if (f[1] == key) return substr(a[i], length(key) + 2) }
    return ""
}
$1 == "PEAK" { peak = kv($0, "peak_gflops"); p1 = kv($0, "sgemm_2048"); p2 = kv($0, "sgemm_4096x4096x1024")
               threads = kv($0, "threads") }
$1 == "TPEAK" { tpeak = kv($0, "peak_gflops") }
$1 == "META" { secs = kv($0, "secs"); load = kv($0, "load") }
$1 == "BF16PEAK" { bpeak = kv($0, "peak_gflops"); b1 = kv($0, "bf16_2048"); b2 = kv($0, "bf16_4096x4096x1024")
                   bkern = kv($0, "kernel"); gsub(/_/, " ", bkern) }
$1 == "RESULT" { p = kv($0, "bf16") == "1" ? "bf16" : "fp32"
                 k = kv($0, "shape") SUBSEP kv($0, "mode") SUBSEP kv($0, "side") SUBSEP p; res[k] = $0
                 if (kv($0, "side") == "gloss" && p == "bf16") kern = kv($0, "kernels")
                 if (kv($0, "side") == "gloss") gflop[kv($0, "shape") SUBSEP kv($0, "mode")] = kv($0, "gflop")
                 if (kv($0, "side") == "torch") { tv = kv($0, "torch"); trv = kv($0, "transformers"); attn = kv($0, "attn")
                                                  imp = kv($0, "import_rss_mb") }
                 batch = kv($0, "batch"); seq = kv($0, "seq") }
$1 == "PROFILE" { s = kv($0, "shape") ":" kv($0, "mode") ":" (kv($0, "bf16") == "1" ? "bf16" : "fp32")
                  c = kv($0, "cat"); prof[s, c] = kv($0, "share")
                  psec[s, c] = kv($0, "sec")
                  if (!((s, "seen") in prof)) { prof[s, "seen"] = 1; pshapes = pshapes " " s }
                  if (!(c in catseen)) { catseen[c] = 1; cats[++ncat] = c } }
END {
    name["minilm"] = "MiniLM-L6 (384x6)"; name["base"] = "BERT-base (768x12)"; name["tiny"] = "tiny (64x2)"
    if (tv != "") printf "\ngloss vs PyTorch %s (PyPI wheel; transformers %s, attention \"%s\"), %s threads, batch %s x %s tokens\n",
        tv, trv, attn, threads, batch, seq
    else printf "\ngloss (PyTorch peer not run), %s threads, batch %s x %s tokens\n", threads, batch, seq
    printf "CPU: %s; matrix features:%s\n", cpu, feat
    printf "sgemm peak (OpenBLAS cblas_sgemm, %s threads): 2048^3 %s, 4096x4096x1024 %s -> peak %s GFLOP/s\n",
        threads, p1, p2, peak
    if (tpeak != "") printf "(torch.mm on the same shapes reaches %s GFLOP/s; %% of peak below is against the OpenBLAS fp32 peak for both)\n", tpeak
    if (bpeak != "") printf "bf16 GEMM peak (%s, rounding included, %s threads): 2048^3 %s, 4096x4096x1024 %s -> peak %s GFLOP/s (%.2fx the fp32 peak); %% of peak in bf16 rows is against it, for both sides\n",
        bkern, threads, b1, b2, bpeak, bpeak / peak
    if (kern != "") { gsub(/_/, " ", kern); printf "gloss --bf16 kernels: %s\n", kern }
    printf "bf16 rows: gloss --bf16 and PyTorch under torch.autocast(\"cpu\", dtype=torch.bfloat16)\n\n"
    printf "%-19s %-6s %-5s %9s %9s %7s %7s %15s %15s %9s %9s\n", "shape", "task", "prec", "gloss", "torch", "gloss/",
        "GFLOP", "gloss GFLOP/s", "torch GFLOP/s", "gloss RSS", "torch RSS"
    printf "%-19s %-6s %-5s %9s %9s %7s %7s %15s %15s %9s %9s\n", "", "", "", "seq/s", "seq/s", "torch", "/step",
        "(% of peak)", "(% of peak)", "MiB", "MiB"
    n = split(shapes, sh, " "); np_ = split(precs, pr, " ")
    for (i = 1; i <= n; i++) for (j = 1; j <= 2; j++) for (w = 1; w <= np_; w++) {
        s = sh[i]; m = j == 1 ? "train" : "infer"; p = pr[w]
        g = res[s, m, "gloss", p]; t = res[s, m, "torch", p]
        if (g == "") continue
        gs = kv(g, "seq_per_s"); f = gflop[s, m]; gg = f * gs / batch
        pk = (p == "bf16" && bpeak != "") ? bpeak : peak
        if (t != "") {
            ts = kv(t, "seq_per_s"); tg = f * ts / batch
            printf "%-19s %-6s %-5s %9.1f %9.1f %7.2f %7.0f %7.1f (%4.1f%%) %7.1f (%4.1f%%) %9.0f %9.0f\n", name[s], m, p,
                gs, ts, gs / ts, f, gg, 100 * gg / pk, tg, 100 * tg / pk, kv(g, "maxrss_mb"), kv(t, "maxrss_mb")
        } else
            printf "%-19s %-6s %-5s %9.1f %9s %7s %7.0f %7.1f (%4.1f%%) %15s %9.0f %9s\n", name[s], m, p, gs, "-", "-",
                f, gg, 100 * gg / pk, "-", kv(g, "maxrss_mb"), "-"
    }
    for (i = 1; i <= n; i++) for (j = 1; j <= 2; j++) {
        s = sh[i]; m = j == 1 ? "train" : "infer"
        a = res[s, m, "gloss", "fp32"]; b = res[s, m, "gloss", "bf16"]
        if (a != "" && b != "") printf "gloss --bf16 / fp32, %s %s: %.2f\n", name[s], m, kv(b, "seq_per_s") / kv(a, "seq_per_s")
    }
    printf "(seq/s: median over the timed steps; GFLOP/step counted analytically (bench/README.md); RSS: peak\n"
    printf " resident set of a fresh process per shape and task; torch with torch + transformers imported alone: %s MiB)\n", imp
    printf "CPU taken from the timed steps by other processes + hypervisor steal, %% of all CPUs:"
    for (i = 1; i <= n; i++) for (j = 1; j <= 2; j++) for (k = 1; k <= 2; k++) for (w = 1; w <= np_; w++) {
        s = sh[i]; m = j == 1 ? "train" : "infer"; sd = k == 1 ? "gloss" : "torch"; r = res[s, m, sd, pr[w]]
        if (r == "") continue
        o = kv(r, "others_pct") + kv(r, "steal_pct"); if (o > worst) worst = o
        printf " %s/%s/%s/%s %.1f", s, m, sd, pr[w], o
    }
    printf "\n"
    if (worst > 3) printf "WARNING: up to %.1f%% of the CPUs were busy with other work during a measurement: rerun on an idle machine\n", worst
    np = split(pshapes, ps, " ")
    if (np) {
        printf "\ngloss per-kernel profile: share of the time (%%; seconds per step or batch in brackets)\n%-12s", "kernel"
        for (i = 1; i <= np; i++) { split(ps[i], q, ":"); printf " %24s", name[q[1]] }
        printf "\n%-12s", ""
        for (i = 1; i <= np; i++) { split(ps[i], q, ":"); printf " %24s", (q[2] == "train" ? "training step" : "inference") " " q[3] }
        printf "\n"
        for (c = 1; c <= ncat; c++) {
            printf "%-12s", cats[c]
            for (i = 1; i <= np; i++) printf " %14.1f (%7.3f)", prof[ps[i], cats[c]], psec[ps[i], cats[c]]
            printf "\n"
        }
        printf "%-12s", "GEMMs"
        for (i = 1; i <= np; i++) printf " %14.1f (%7.3f)", prof[ps[i], "linear_fwd"] + prof[ps[i], "linear_bwd"],
            psec[ps[i], "linear_fwd"] + psec[ps[i], "linear_bwd"]
        printf "  (the linear layers: linear_fwd + linear_bwd)\n"
    }
    printf "\n(bench wall time %d s; load average at start %s)\n", secs, load
}' "$OUT"
