/* st_config.h: the sentence-transformers layout of a checkpoint directory:
 * modules.json (Transformer, Pooling, optional Dense and Normalize modules),
 * the Pooling module's config.json, sentence_bert_config.json; read to learn
 * the pooling a checkpoint declares, and written beside a fine-tuned model so
 * that sentence_transformers.SentenceTransformer(dir) loads it.
 *
 * Poolings are named as gloss names them (model/bert.h): "cls", "mean",
 * "max", "mean_sqrt_len", and "pooler" for a cls Pooling followed by a
 * Dense(hidden -> hidden, Tanh) module, which is BERT's pooler. */
#ifndef GL_ST_CONFIG_H
#define GL_ST_CONFIG_H

#define GL_ST_PATH_MAX 256

typedef struct {
    int has_modules;              /* modules.json exists */
    char pooling[16];             /* the declared pooling, "" when none */
    char pooling_file[GL_ST_PATH_MAX]; /* where it was declared, relative to dir: "1_Pooling/config.json" */
    char dense_dir[GL_ST_PATH_MAX];    /* pooling "pooler": the Dense module's folder, relative to dir */
    int normalize;                /* modules.json lists a Normalize module after the pooling */
    char unsupported[GL_ST_PATH_MAX];  /* the first module gloss does not compute ("" when none) */
    int max_seq_length;           /* sentence_bert_config.json; 0 when absent */
    int do_lower_case;            /* sentence_bert_config.json; -1 when absent */
} gl_st_config;

/* Read dir/modules.json, or dir/1_Pooling/config.json when there is no
 * modules.json, and dir/sentence_bert_config.json; all optional (a directory
 * with none of them gives an empty config). hidden_size: the model's; a Pooling
 * config's word_embedding_dimension must equal it. Malformed JSON, a wrong
 * type, an unknown pooling mode, none or several modes true, a module path
 * that does not exist: an error naming the file and the key. */
int gl_st_config_load(gl_st_config *st, const char *dir, int hidden_size);

/* Write the sentence-transformers files into out_dir, each atomically:
 * 1_Pooling/config.json (for "pooler": cls, then 2_Dense/config.json and
 * 2_Dense/model.safetensors holding dense_w (C x C) and dense_b (C) as
 * linear.weight / linear.bias), sentence_bert_config.json (max_seq_length,
 * do_lower_case) and, last, modules.json (Transformer at "", the Pooling, the
 * Dense, a Normalize module when normalize). The Pooling config is in the
 * layout every sentence-transformers release reads (2.x to 6.x). */
int gl_st_export(const char *out_dir, const char *pooling, int normalize, int hidden_size, int max_seq_length,
                 int do_lower_case, const float *dense_w, const float *dense_b);

#endif
