/* train.c: `gloss train`: fine-tune an encoder and classifier on a data directory. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "gloss.h"
#include "train/trainer.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/progress.h"

static const char *HELP =
    "usage: gloss train --model DIR --data DIR --out DIR [options]\n"
    "\n"
    "Fine-tune a BERT-family encoder with a linear classification head and\n"
    "report accuracy and macro-F1. Writes into --out: metrics.json (with the\n"
    "silhouette of the test embeddings), epochs.csv, training.svg, the test\n"
    "embeddings (test_embeddings.npy) and their maps (embedding_map.svg, t-SNE;\n"
    "embedding_pca.svg), checkpoint.safetensors (for --resume) and the fine-tuned\n"
    "model in Hugging Face layout (config.json with id2label, model.safetensors,\n"
    "vocab.txt, tokenizer_config.json) that transformers loads with\n"
    "AutoModelForSequenceClassification, with the sentence-transformers files\n"
    "(modules.json, 1_Pooling/, sentence_bert_config.json) that\n"
    "SentenceTransformer loads: its embeddings are gloss embed's.\n"
    "\n"
    "data:\n"
    "  --model DIR          checkpoint to start from (config.json, model.safetensors, vocab.txt)\n"
    "  --data DIR           train.csv|.tsv|.jsonl, optional val.* (otherwise a seeded,\n"
    "                       stratified --val-fraction of train) and optional test.*\n"
    "  --out DIR            output directory (created)\n"
    "  --text-col NAME      text column (default text)\n"
    "  --label-col NAME     label column (default label); labels are strings\n"
    "  --val-fraction F     share of train used for validation without val.* (default 0.1)\n"
    "  --limit-train N      use only the first N training documents (quick trials)\n"
    "\n"
    "objective:\n"
    "  --loss L             ce (default), gloss, supcon, triplet or cosine. Except for\n"
    "                       ce, the embedding loss E is combined with cross-entropy,\n"
    "                       unless --standalone\n"
    "  --balance R          combine as CE + beta E, beta set at every step so that the\n"
    "                       gradient of beta E at the pooled vector has R times the\n"
    "                       norm of cross-entropy's: E shapes the encoder without\n"
    "                       swamping the classifier's loss (default for --loss gloss:\n"
    "                       R = " GL_STR(GL_GLOSS_BALANCE_DEFAULT) "; 0: off). The training loss logged is then\n"
    "                       CE + beta E with each step's beta (epochs.csv: the mean\n"
    "                       beta as embedding_weight): compare runs and epochs by\n"
    "                       validation macro-F1, not by that loss\n"
    "  --lambda X           the fixed combination (1 - lambda) CE + lambda E instead\n"
    "                       (default 0.8 for supcon, triplet, cosine; for gloss when\n"
    "                       given). epochs.csv logs the ratio of the two gradients\n"
    "                       (grad_ratio) every epoch, whichever is used\n"
    "  --standalone         train the encoder with E alone; the classifier is then a\n"
    "                       linear probe (logistic regression) fitted to convergence\n"
    "                       on frozen training embeddings after each epoch\n"
    "  --gamma X            G-Loss: labelled (visible) fraction of each batch (default 0.7)\n"
    "  --sigma S            G-Loss kernel width: knn:K (default knn:" GL_STR(GL_GLOSS_KNN_DEFAULT) "): the sigma at\n"
    "                       which the median row of T has K effective neighbours\n"
    "                       (1 / sum_j T_ij^2) in batches of --batch-size; a number;\n"
    "                       dicm (smallest distance between classes / 3) or root\n"
    "                       (sqrt(median distance / 3)), both raised where needed to\n"
    "                       leave at least 2 effective neighbours (logged). All on\n"
    "                       the normalised training embeddings of the initial model\n"
    "                       with the pooling used (a seeded sample of --sigma-sample\n"
    "                       documents; the value used is logged and in metrics.json)\n"
    "  --sigma-sample N     documents for the sigma heuristics (default 2000)\n"
    "  --sigma-floor N      effective neighbours dicm and root are raised to (default 2;\n"
    "                       0: off, as before this floor existed)\n"
    "  --gloss-variant V    paper (default): T = D^-1 W and the negative\n"
    "                       log-likelihood of the propagated labels of the hidden\n"
    "                       nodes. reference: exactly the authors' code: their\n"
    "                       normalisation of W (symmetric, then column, then row),\n"
    "                       softmax cross-entropy on F_U taken as logits, and in\n"
    "                       combined mode an extra 1/|U| on G (it does not rerun the\n"
    "                       encoder for G as their code does)\n"
    "  --temperature X      SupCon temperature (default 0.1)\n"
    "  --margin X           triplet margin on Euclidean distances (default 5)\n"
    "  --triplet-mining M   all (default: batch-all) or hard (batch-hard)\n"
    "  --probe-l2 LIST      standalone: the probe's L2 penalties, comma-separated, on\n"
    "                       standardised embeddings (default 1e-4,1e-3,1e-2,1e-1); one\n"
    "                       probe is fitted per value, the best by validation\n"
    "                       macro-F1 becomes the head (a tie: the larger penalty)\n"
    "  --probe-iters N      standalone: at most N L-BFGS iterations per probe fit\n"
    "                       (default 1000; the fit stops earlier when it converges)\n"
    "\n"
    "model:\n"
    "  --pool MODE          auto (default): the checkpoint's own pooling where it\n"
    "                       declares one (sentence-transformers' modules.json /\n"
    "                       1_Pooling/config.json), else the tanh pooler where it has\n"
    "                       trained pooler weights, else mean; the choice is logged.\n"
    "                       pooler: tanh(W h_[CLS] + b), exactly what\n"
    "                       BertForSequenceClassification computes; mean; cls;\n"
    "                       max (per channel over the tokens); mean_sqrt_len\n"
    "                       (sum over the tokens / sqrt(their number)).\n"
    "                       The head sits on the pooled vector, before any L2\n"
    "                       normalisation the checkpoint declares (a Normalize\n"
    "                       module, which the export keeps). The pooling is recorded\n"
    "                       as gloss_pooling in config.json (gloss eval and predict\n"
    "                       honour it; transformers' class always uses the pooler)\n"
    "                       and as modules.json, 1_Pooling/ (and 2_Dense/ for the\n"
    "                       pooler), so that sentence-transformers loads --out\n"
    "                       with it.\n"
    "  --class-weights W    balanced (default: N / (K * N_k), as sklearn) or none\n"
    "  --max-length N       tokens per document incl. [CLS]/[SEP] (default 128)\n"
    "\n"
    "optimisation:\n"
    "  --epochs N           maximum epochs (default 4)\n"
    "  --batch-size N       documents per step (default 32)\n"
    "  --lr X               peak learning rate of AdamW (default 1e-4)\n"
    "  --head-lr X          peak learning rate of the classification head, on the same\n"
    "                       schedule (default 3e-3: a freshly initialised linear head\n"
    "                       needs larger steps than the pre-trained encoder; 'lr':\n"
    "                       the same as --lr). The defaults of --lr, --head-lr,\n"
    "                       --epochs and --pool come from the study in docs/defaults.md\n"
    "  --weight-decay X     decoupled weight decay, not on biases/LayerNorm (default 0.01)\n"
    "  --schedule S         linear (default: warm-up then linear decay to 0),\n"
    "                       constant, or step (x --step-gamma from --step-epoch on)\n"
    "  --warmup F           warm-up share of all steps for linear (default 0.1)\n"
    "  --step-epoch N       first epoch (1-based) at the reduced rate for step (default 30)\n"
    "  --step-gamma X       factor for step (default 0.1)\n"
    "  --clip X             global gradient-norm clip (default 1.0; 0 = off)\n"
    "  --bucket             length bucketing: batches of documents of similar length\n"
    "                       (sorted within chunks of 50 batches), visited in random\n"
    "                       order; less padding, faster epochs. Every batch is always\n"
    "                       padded only to its longest document\n"
    "  --pad-to-max         pad every training batch to --max-length (slow; for comparison)\n"
    "  --bf16               the encoder's matrix products in training steps take\n"
    "                       bf16 inputs (fp32 sums, fp32 master weights and optimiser\n"
    "                       state): about 1.6x faster steps; needs AVX512-BF16. Results\n"
    "                       differ slightly from fp32. Validation, test and the\n"
    "                       exported model stay fp32\n"
    "  --patience N         stop after N epochs without a better validation macro-F1\n"
    "                       (default 3; 0 = never); the best epoch's weights are kept\n"
    "  --seed N             seed for head init, data order, dropout, val split (default 42)\n"
    "  --eval-batch-size N  documents per evaluation pass (default 64)\n"
    "\n"
    "runs:\n"
    "  --resume             continue from --out/checkpoint.safetensors (same options);\n"
    "                       ends with exactly the weights of an uninterrupted run\n"
    "  --stop-after N       stop after epoch N with a checkpoint (exit status 3)\n"
    "  Ctrl-C / SIGTERM     finish the current step, write a checkpoint, exit with\n"
    "                       status 3 (a second signal stops at once)\n"
    "  --map-points N       at most N points in the t-SNE map embedding_map.svg\n"
    "                       (default 2000; 0: no maps)\n"
    "  --quiet              no progress display\n"
    "  -h, --help           this help\n"
    "\n"
    "Same seed and same OMP_NUM_THREADS give the same numbers, run after run.\n"
    "A step with a NaN/Inf loss or gradient is skipped with a warning and counted\n"
    "in metrics.json; 5 in a row stop the run (exit status 1).\n"
    "Exit status: 0 done, 1 error, 2 usage, 3 stopped with a checkpoint (resumable).\n";

/* Set by SIGINT/SIGTERM; the progress callback hands it to gl_train, which
 * stops at the next step boundary with a checkpoint. */
static volatile sig_atomic_t g_stop = 0;

static void on_signal(int sig) {
    (void)sig;
    g_stop = 1; /* a second signal gets the default action (SA_RESETHAND) */
}

/* The run's messages and progress on stderr (--quiet: warnings only). */
typedef struct {
    int quiet;
    int active; /* a bar is drawn */
    gl_stage stage;
    int epoch;
    gl_progress bar;
} train_ui;

static void ui_log(gl_log_level level, const char *msg, void *user) {
    train_ui *u = user;
    if (level == GL_LOG_INFO && u->quiet) return;
    if (u->active && u->bar.tty) fputc('\n', stderr); /* off the bar's line */
    fprintf(stderr, "%s\n", msg);
}

static int ui_progress(const gl_progress_event *e, void *user) {
    train_ui *u = user;
    if (u->quiet) return g_stop != 0;
    if (!u->active || e->stage != u->stage || e->epoch != u->epoch) {
        static const char *const names[] = {"train", "validate", "test", "predict", "embed"};
        char label[32];
        if (e->stage == GL_STAGE_TRAIN) snprintf(label, sizeof label, "epoch %d/%d", e->epoch, e->epochs);
        else snprintf(label, sizeof label, "%s", names[e->stage]);
        gl_progress_start(&u->bar, stderr, label, e->total, e->stage == GL_STAGE_TRAIN ? "steps" : "docs", 0);
        u->bar.t0 -= e->elapsed_s; /* the pass began before its first event */
        u->active = 1, u->stage = e->stage, u->epoch = e->epoch;
    }
    char status[96];
    if (e->stage == GL_STAGE_TRAIN && e->done < e->total)
        snprintf(status, sizeof status, "loss %.4f  lr %.2e  %.1f seq/s", e->loss, e->lr, e->docs_per_s);
    else snprintf(status, sizeof status, "loss %.4f", e->loss);
    if (e->done < e->total) {
        gl_progress_update(&u->bar, e->done, e->stage == GL_STAGE_TRAIN ? status : NULL);
    } else {
        u->bar.done = e->done;
        if (e->stage == GL_STAGE_TRAIN) gl_progress_finish(&u->bar, status);
        else if (e->total >= 256) gl_progress_finish(&u->bar, NULL);
        u->active = 0;
    }
    return g_stop != 0;
}

/* When --out already exists, check that a file can be created in it now,
 * not after the first epoch when the checkpoint is written: a read-only
 * directory or file system then fails in a second, not in an hour. A missing
 * --out is created by gl_train, which reports its own errors. */
static int check_out_dir(const char *dir) {
    struct stat st;
    if (stat(dir, &st) != 0) return 0;
    if (!S_ISDIR(st.st_mode)) return gl_error("--out %s: exists and is not a directory", dir);
    char *probe = gl_path_join(dir, ".gloss-write-check");
    if (!probe) return -1;
    gl_atomic_file af;
    int rc = 0;
    if (gl_atomic_open(&af, probe) != 0)
        rc = gl_error("--out %s: cannot create files there: %s", dir, strerror(errno));
    else
        gl_atomic_abort(&af); /* removes the probe's temporary file */
    free(probe);
    return rc;
}

static int parse_double(const char *opt, const char *s, double lo, double hi, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "gloss: %s expects a number in [%g, %g], got '%s'\n", opt, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* --probe-l2: comma-separated penalties, each in [0, 1e3], at most GL_PROBE_L2_MAX */
static int parse_l2_list(const char *s, gl_train_opts *o) {
    int n = 0;
    for (const char *p = s;; n++) {
        char item[64];
        size_t len = strcspn(p, ",");
        if (n == GL_PROBE_L2_MAX || len == 0 || len >= sizeof item) {
            fprintf(stderr, "gloss: --probe-l2 expects 1 to %d comma-separated numbers, got '%s'\n", GL_PROBE_L2_MAX,
                    s);
            return -1;
        }
        memcpy(item, p, len);
        item[len] = 0;
        if (parse_double("--probe-l2", item, 0, 1e3, &o->probe_l2[n]) != 0) return -1;
        if (!p[len]) break;
        p += len + 1;
    }
    o->n_probe_l2 = n + 1;
    return 0;
}

int cmd_train(int argc, char **argv) {
    gl_train_opts o;
    train_ui ui = {0};
    gl_train_opts_default(&o);
    enum {
        O_MODEL = 256, O_DATA, O_OUT, O_TEXT, O_LABEL, O_VALF, O_LIMIT, O_POOL, O_CW, O_MAXLEN, O_EPOCHS, O_BATCH,
        O_LR, O_WD, O_SCHED, O_WARM, O_STEPE, O_STEPG, O_CLIP, O_PAT, O_SEED, O_EBATCH, O_RESUME, O_STOP, O_QUIET,
        O_LOSS, O_LAMBDA, O_STANDALONE, O_GAMMA, O_SIGMA, O_SIGSAMPLE, O_VARIANT, O_TEMP, O_MARGIN, O_MINING, O_PROBE, O_PROBE_L2,
        O_MAPPTS, O_BUCKET, O_PADMAX, O_BF16, O_HEADLR, O_BALANCE, O_SIGFLOOR
    };
    static const struct option opts[] = {
        {"model", required_argument, 0, O_MODEL}, {"data", required_argument, 0, O_DATA},
        {"out", required_argument, 0, O_OUT}, {"text-col", required_argument, 0, O_TEXT},
        {"label-col", required_argument, 0, O_LABEL}, {"val-fraction", required_argument, 0, O_VALF},
        {"limit-train", required_argument, 0, O_LIMIT}, {"pool", required_argument, 0, O_POOL},
        {"class-weights", required_argument, 0, O_CW}, {"max-length", required_argument, 0, O_MAXLEN},
        {"epochs", required_argument, 0, O_EPOCHS}, {"batch-size", required_argument, 0, O_BATCH},
        {"lr", required_argument, 0, O_LR}, {"head-lr", required_argument, 0, O_HEADLR}, {"weight-decay", required_argument, 0, O_WD},
        {"schedule", required_argument, 0, O_SCHED}, {"warmup", required_argument, 0, O_WARM},
        {"step-epoch", required_argument, 0, O_STEPE}, {"step-gamma", required_argument, 0, O_STEPG},
        {"clip", required_argument, 0, O_CLIP}, {"patience", required_argument, 0, O_PAT},
        {"seed", required_argument, 0, O_SEED}, {"eval-batch-size", required_argument, 0, O_EBATCH},
        {"resume", no_argument, 0, O_RESUME}, {"stop-after", required_argument, 0, O_STOP},
        {"quiet", no_argument, 0, O_QUIET}, {"loss", required_argument, 0, O_LOSS},
        {"lambda", required_argument, 0, O_LAMBDA}, {"balance", required_argument, 0, O_BALANCE},
        {"standalone", no_argument, 0, O_STANDALONE},
        {"gamma", required_argument, 0, O_GAMMA}, {"sigma", required_argument, 0, O_SIGMA},
        {"sigma-sample", required_argument, 0, O_SIGSAMPLE}, {"sigma-floor", required_argument, 0, O_SIGFLOOR}, {"gloss-variant", required_argument, 0, O_VARIANT},
        {"temperature", required_argument, 0, O_TEMP}, {"margin", required_argument, 0, O_MARGIN},
        {"triplet-mining", required_argument, 0, O_MINING}, {"probe-iters", required_argument, 0, O_PROBE},
        {"probe-l2", required_argument, 0, O_PROBE_L2},
        {"map-points", required_argument, 0, O_MAPPTS}, {"bucket", no_argument, 0, O_BUCKET},
        {"pad-to-max", no_argument, 0, O_PADMAX}, {"bf16", no_argument, 0, O_BF16}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    optind = 1;
    int c, bad = 0, iv, lambda_set = 0, balance_set = 0, head_lr_set = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1 && !bad) {
        switch (c) {
        case O_MODEL: o.model_dir = optarg; break;
        case O_DATA: o.data_dir = optarg; break;
        case O_OUT: o.out_dir = optarg; break;
        case O_TEXT: o.text_col = optarg; break;
        case O_LABEL: o.label_col = optarg; break;
        case O_VALF: bad = parse_double("--val-fraction", optarg, 0.001, 0.9, &o.val_frac); break;
        case O_LIMIT:
            bad = cli_int("--limit-train", optarg, 1, 1 << 30, &iv);
            o.limit_train = (size_t)iv;
            break;
        case O_POOL:
            if (gl_pool_parse(optarg, &o.pool) != 0) fprintf(stderr, "gloss train: --pool: %s\n", gloss_last_error()), bad = 1;
            break;
        case O_CW:
            if (!strcmp(optarg, "balanced")) o.class_weights = 1;
            else if (!strcmp(optarg, "none")) o.class_weights = 0;
            else fprintf(stderr, "gloss train: --class-weights must be balanced or none\n"), bad = 1;
            break;
        case O_MAXLEN: bad = cli_int("--max-length", optarg, 3, 1 << 20, &o.max_length); break;
        case O_EPOCHS: bad = cli_int("--epochs", optarg, 1, 100000, &o.epochs); break;
        case O_BATCH: bad = cli_int("--batch-size", optarg, 1, 1 << 16, &o.batch_size); break;
        case O_LR: bad = parse_double("--lr", optarg, 0, 10, &o.lr); break;
        case O_HEADLR:
            head_lr_set = 1;
            if (!strcmp(optarg, "lr")) o.head_lr = 0; /* the library's "same as --lr" */
            else bad = parse_double("--head-lr", optarg, 1e-12, 10, &o.head_lr);
            break;
        case O_WD: bad = parse_double("--weight-decay", optarg, 0, 10, &o.weight_decay); break;
        case O_SCHED:
            if (gl_schedule_parse(optarg, &o.schedule) != 0) fprintf(stderr, "gloss train: --schedule: %s\n", gloss_last_error()), bad = 1;
            break;
        case O_WARM: bad = parse_double("--warmup", optarg, 0, 1, &o.warmup); break;
        case O_STEPE: bad = cli_int("--step-epoch", optarg, 1, 100000, &o.step_epoch); break;
        case O_STEPG: bad = parse_double("--step-gamma", optarg, 0, 1, &o.step_gamma); break;
        case O_CLIP: bad = parse_double("--clip", optarg, 0, 1e9, &o.clip); break;
        case O_PAT: bad = cli_int("--patience", optarg, 0, 100000, &o.patience); break;
        case O_SEED:
            bad = cli_int("--seed", optarg, 0, 2147483647, &iv);
            o.seed = (uint64_t)iv;
            break;
        case O_EBATCH: bad = cli_int("--eval-batch-size", optarg, 1, 1 << 16, &o.eval_batch_size); break;
        case O_RESUME: o.resume = 1; break;
        case O_STOP: bad = cli_int("--stop-after", optarg, 1, 100000, &o.stop_after); break;
        case O_QUIET: ui.quiet = 1; break; /* o.quiet would silence the progress callback that cancels */
        case O_LOSS:
            if (gl_loss_parse(optarg, &o.obj.kind) != 0) fprintf(stderr, "gloss train: --loss: %s\n", gloss_last_error()), bad = 1;
            break;
        case O_LAMBDA: bad = parse_double("--lambda", optarg, 0, 1, &o.obj.lambda), lambda_set = 1; break;
        case O_BALANCE: bad = parse_double("--balance", optarg, 0, 1e3, &o.obj.balance), balance_set = 1; break;
        case O_STANDALONE: o.obj.standalone = 1; break;
        case O_GAMMA: bad = parse_double("--gamma", optarg, 0.01, 0.99, &o.obj.gamma); break;
        case O_SIGMA:
            if (!strncmp(optarg, "knn:", 4)) {
                o.obj.sigma_mode = GL_SIGMA_KNN;
                bad = parse_double("--sigma knn:K", optarg + 4, 1, 1e6, &o.obj.sigma_knn);
            } else if (!strcmp(optarg, "dicm")) o.obj.sigma_mode = GL_SIGMA_DICM;
            else if (!strcmp(optarg, "root")) o.obj.sigma_mode = GL_SIGMA_ROOT;
            else {
                o.obj.sigma_mode = GL_SIGMA_VALUE;
                bad = parse_double("--sigma", optarg, 1e-6, 1e6, &o.obj.gloss.sigma);
            }
            break;
        case O_SIGFLOOR: bad = parse_double("--sigma-floor", optarg, 0, 1e6, &o.obj.sigma_floor); break;
        case O_SIGSAMPLE:
            bad = cli_int("--sigma-sample", optarg, 2, 100000, &iv);
            o.sigma_sample = (size_t)iv;
            break;
        case O_VARIANT:
            if (!strcmp(optarg, "paper")) o.obj.gloss.variant = GL_GLOSS_VARIANT_PAPER;
            else if (!strcmp(optarg, "reference")) o.obj.gloss.variant = GL_GLOSS_VARIANT_REFERENCE;
            else fprintf(stderr, "gloss train: --gloss-variant must be paper or reference\n"), bad = 1;
            break;
        case O_TEMP: bad = parse_double("--temperature", optarg, 1e-3, 100, &o.obj.temperature); break;
        case O_MARGIN: bad = parse_double("--margin", optarg, 0, 1e6, &o.obj.margin); break;
        case O_MINING:
            if (!strcmp(optarg, "all")) o.obj.batch_hard = 0;
            else if (!strcmp(optarg, "hard")) o.obj.batch_hard = 1;
            else fprintf(stderr, "gloss train: --triplet-mining must be all or hard\n"), bad = 1;
            break;
        case O_PROBE: bad = cli_int("--probe-iters", optarg, 1, 100000, &o.probe_iters); break;
        case O_PROBE_L2: bad = parse_l2_list(optarg, &o); break;
        case O_MAPPTS: bad = cli_int("--map-points", optarg, 0, 20000, &o.map_points); break;
        case O_BUCKET: o.bucket = 1; break;
        case O_PADMAX: o.pad_to_max = 1; break;
        case O_BF16: o.bf16 = 1; break;
        case 'h': fputs(HELP, stdout); return EXIT_OK;
        default: fputs("(gloss train --help lists the options)\n", stderr); return EXIT_USAGE;
        }
    }
    if (bad) return EXIT_USAGE;
    if (optind < argc) {
        fprintf(stderr, "gloss train: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    if (!o.model_dir || !o.data_dir || !o.out_dir) {
        fprintf(stderr, "gloss train: --model, --data and --out are required (gloss train --help)\n");
        return EXIT_USAGE;
    }
    if (o.obj.standalone && o.obj.kind == GL_LOSS_CE) {
        fprintf(stderr, "gloss train: --standalone needs an embedding loss (--loss gloss, supcon, triplet or cosine)\n");
        return EXIT_USAGE;
    }
    /* an explicit --lambda means the fixed combination; --balance 0 turns the balance off too */
    if (lambda_set && balance_set && o.obj.balance > 0) {
        fprintf(stderr, "gloss train: --lambda and --balance are two ways of weighting the embedding loss; give one\n");
        return EXIT_USAGE;
    }
    if (lambda_set) o.obj.balance = 0; /* otherwise GL_BALANCE_AUTO or the value given */
    if (!head_lr_set && (o.obj.standalone || !(o.lr > 0))) o.head_lr = 0; /* the default does not apply */
    if (o.head_lr > 0 && !(o.lr > 0)) {
        fprintf(stderr, "gloss train: --head-lr scales with the schedule of --lr, which must then be above 0\n");
        return EXIT_USAGE;
    }
    if (o.obj.standalone && o.head_lr > 0) {
        fprintf(stderr, "gloss train: --head-lr has no effect with --standalone (the head is a linear probe fitted "
                        "after each epoch)\n");
        return EXIT_USAGE;
    }
    if (check_out_dir(o.out_dir) != 0) {
        fprintf(stderr, "gloss train: %s\n", gl_error_message());
        return EXIT_ERROR;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    o.hooks = (gl_hooks){ui_log, ui_progress, &ui};
    int rc = gl_train(&o);
    if (rc == GL_TRAIN_STOPPED || rc == GL_TRAIN_CANCELLED) return 3;
    if (rc != 0) {
        fprintf(stderr, "gloss train: %s\n", gl_error_message());
        return EXIT_ERROR;
    }
    return EXIT_OK;
}
