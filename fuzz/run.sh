#!/bin/sh
# fuzz/run.sh TARGET SECONDS [extra libFuzzer options...]
#
# Runs one libFuzzer target (table, config, safetensors, vocab, tokenizer,
# st_config, bpe_files, bpe_json; built
# by `make fuzz-build` into build-fuzz/fuzz_TARGET) for SECONDS on a working
# copy of its seed corpus: fuzz/corpus/TARGET is copied into
# build-fuzz/corpus/TARGET (kept between runs), and new entries go there, never
# into the repository. Crash / leak / timeout / OOM reproducers go to
# build-fuzz/artifacts/TARGET/, the log to build-fuzz/logs/TARGET.log.
# A token dictionary for the format is written to build-fuzz/dict/TARGET.dict.
#
# One process, one worker (the same as -jobs=1 -workers=1, without libFuzzer's
# fuzz-N.log redirection). Exit status: 0 when nothing was found, else non-zero.
# Environment: GLOSS_FUZZ_TMP: directory for the targets' per-process temp dirs
# (default: a fresh directory under /dev/shm, else $TMPDIR or /tmp, removed
# when the run ends).
set -eu

if [ $# -lt 2 ]; then
    echo "usage: $0 TARGET SECONDS [libFuzzer options...]" >&2
    echo "targets: table config safetensors vocab tokenizer st_config bpe_files bpe_json" >&2
    exit 2
fi
target=$1
seconds=$2
shift 2

cd "$(dirname "$0")/.."
bin=build-fuzz/fuzz_$target
case $target in
table | safetensors) max_len=1048576 ;; # 1 MB
config | vocab | tokenizer | st_config) max_len=65536 ;;
bpe_files | bpe_json) max_len=262144 ;; # 256 KB
*)
    echo "$0: unknown target '$target' (table config safetensors vocab tokenizer st_config bpe_files bpe_json)" >&2
    exit 2
    ;;
esac
if [ ! -x "$bin" ]; then
    echo "$0: $bin is missing: run 'make fuzz-build' first" >&2
    exit 2
fi

corpus=build-fuzz/corpus/$target
artifacts=build-fuzz/artifacts/$target
dict=build-fuzz/dict/$target.dict
log=build-fuzz/logs/$target.log
mkdir -p "$corpus" "$artifacts" build-fuzz/dict build-fuzz/logs
# working copy of the seeds (never overwrite entries already there)
for f in fuzz/corpus/"$target"/*; do
    [ -f "$f" ] || continue
    [ -e "$corpus/$(basename "$f")" ] || cp "$f" "$corpus/"
done

# token dictionaries (libFuzzer -dict format: one "quoted" token a line)
json_dict() {
    cat <<'EOF'
"{"
"}"
"["
"]"
":"
","
"\""
"true"
"false"
"null"
"-0"
"1e30"
"1e-300"
"1e-50"
"0.9999999999"
"\\u0000"
"\\ud800"
"\\u00e9"
"9223372036854775807"
"-9223372036854775808"
"18446744073709551616"
EOF
}
text_dict() {
    cat <<'EOF'
"\x0a"
"\x0d\x0a"
"\x0d"
" "
"\x09"
"\xef\xbb\xbf"
"\xc2\xa0"
"\xe3\x80\x80"
"\xe2\x80\xa8"
"\xcc\x81"
"\xcc\x96"
"\xcd\x85"
"\xc3\xa9"
"\xc4\xb0"
"\xe4\xb8\xad"
"\xea\xb0\x80"
"\xf0\xa0\x80\x80"
"\xef\xbf\xbd"
"\xe2\x80\x8b"
"\xc2\xad"
"\xe2\x80\xa6"
"\xed\xa0\x80"
"\xf4\x90\x80\x80"
"\xc0\xaf"
"\x00"
EOF
}
{
    case $target in
    table)
        json_dict
        text_dict
        printf '"%s"\n' '\"\"' text label
        ;;
    config)
        json_dict
        printf '"\\"%s\\""\n' architectures model_type hidden_act position_embedding_type vocab_size \
            hidden_size num_hidden_layers num_attention_heads intermediate_size max_position_embeddings \
            type_vocab_size pad_token_id layer_norm_eps do_lower_case strip_accents model_max_length \
            bert gelu absolute BertModel
        echo '"\x00"'
        ;;
    safetensors)
        json_dict
        printf '"\\"%s\\""\n' dtype shape data_offsets __metadata__ F32 F16 BF16 F64 I64 I32 U8 F8_E4M3 BOOL
        echo '"\x00"'
        echo '"\x00\x00\x00\x00\x00\x00\x00"'
        echo '"\xff\xff\xff\xff\xff\xff\xff\x7f"'
        ;;
    st_config)
        json_dict
        printf '"\\"%s\\""\n' idx name path type sentence_transformers.models.Transformer \
            sentence_transformers.models.Pooling sentence_transformers.models.Dense \
            sentence_transformers.models.Normalize word_embedding_dimension embedding_dimension pooling_mode \
            pooling_mode_cls_token pooling_mode_mean_tokens pooling_mode_max_tokens \
            pooling_mode_mean_sqrt_len_tokens mean_sqrt_len_tokens in_features out_features bias \
            activation_function torch.nn.modules.activation.Tanh max_seq_length do_lower_case
        echo '"\x00"'
        ;;
    bpe_files | bpe_json)
        json_dict
        text_dict
        printf '"\\"%s\\""\n' model type BPE WordPiece vocab merges added_tokens content id lstrip rstrip \
            single_word normalized special normalizer BertNormalizer clean_text handle_chinese_chars strip_accents \
            lowercase pre_tokenizer ByteLevel BertPreTokenizer add_prefix_space use_regex post_processor \
            RobertaProcessing BertProcessing TemplateProcessing Sequence processors single SpecialToken \
            special_tokens ids cls sep padding pad_id unk_token fuse_unk byte_fallback ignore_merges dropout \
            continuing_subword_prefix end_of_word_suffix max_input_chars_per_word added_tokens_decoder \
            bos_token eos_token cls_token sep_token pad_token unk_token mask_token additional_special_tokens \
            '<s>' '</s>' '<pad>' '<unk>' '<mask>' '[CLS]' '[SEP]' '[UNK]' '##'
        printf '"%s"\n' '#version: 0.2' '\xc4\xa0' '\xc4\x8a' '<0x0A>'
        echo '"\x00"'
        ;;
    vocab | tokenizer)
        text_dict
        printf '"%s"\n' '[PAD]' '[UNK]' '[CLS]' '[SEP]' '[MASK]' '##'
        ;;
    esac
} >"$dict"

# the targets' per-process temp dirs go under one directory for this run,
# removed afterwards (a crashed or killed process cannot clean up after itself)
if [ -z "${GLOSS_FUZZ_TMP:-}" ]; then
    shm=/dev/shm
    [ -d "$shm" ] && [ -w "$shm" ] || shm=${TMPDIR:-/tmp}
    GLOSS_FUZZ_TMP=$(mktemp -d "$shm/gloss-fuzz-run.XXXXXX")
    export GLOSS_FUZZ_TMP
    trap 'rm -rf "$GLOSS_FUZZ_TMP"' EXIT
    trap 'exit 130' INT TERM
fi

echo "fuzz/run.sh: $target for ${seconds}s (corpus $corpus, artifacts $artifacts/, log $log)"
set +e
"$bin" "$corpus" \
    -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb=2048 -timeout=20 \
    -detect_leaks=1 -dict="$dict" -artifact_prefix="$artifacts/" -print_final_stats=1 "$@" \
    >"$log" 2>&1
rc=$?
set -e
# the summary: last status line, final stats, and any failure report
grep -E '^#[0-9]+.*(pulse|DONE|NEW|REDUCE|INITED)' "$log" | tail -n 1
grep -E '^(stat::|Done )' "$log" || true
if [ $rc -ne 0 ]; then
    echo "fuzz/run.sh: $target FAILED (exit $rc); report:" >&2
    grep -E -A 30 'ERROR: |runtime error|invariant violated|Test unit written' "$log" | head -n 60 >&2
    ls -l "$artifacts" >&2
fi
exit $rc
