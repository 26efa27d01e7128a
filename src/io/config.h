/* config.h: a BERT-family checkpoint's config.json and tokenizer_config.json.
 *
 * config.json's model_type chooses the architecture: "bert" (or absent),
 * "distilbert" or "roberta". The fields below are the same for all three;
 * DistilBERT's own names (dim, n_layers, n_heads, hidden_dim, activation,
 * dropout, attention_dropout, seq_classif_dropout) are mapped onto them. A
 * zeroed gl_bert_config is a BERT one (every enum's 0 is BERT's choice). */
#ifndef GL_CONFIG_H
#define GL_CONFIG_H

typedef enum {
    GL_ARCH_BERT = 0,       /* BertModel: token types, optional tanh pooler */
    GL_ARCH_DISTILBERT = 1, /* DistilBertModel: no token types, no pooler, no dropout after attention */
    GL_ARCH_ROBERTA = 2     /* RobertaModel: positions from pad_token_id + 1, one token type */
} gl_arch;

typedef enum { GL_ACT_GELU = 0, GL_ACT_RELU = 1 } gl_act; /* the feed-forward activation */

typedef struct {
    gl_arch arch;
    int vocab_size;
    int hidden_size;
    int num_layers;
    int num_heads;
    int intermediate_size;
    /* The longest sequence the position table serves. The table has
     * max_position_embeddings + position_offset rows (config.json's
     * max_position_embeddings); token t of a sequence reads row
     * position_offset + t: offset 0, RoBERTa's pad_token_id + 1 (its padding
     * tokens read row pad_token_id). */
    int max_position_embeddings;
    int position_offset;
    int type_vocab_size; /* 0: no token-type table (DistilBERT) */
    gl_act hidden_act;
    float layer_norm_eps;
    float head_dropout;  /* the classification head's dropout (DistilBERT seq_classif_dropout, RoBERTa
                          * classifier_dropout or hidden_dropout_prob); BERT's head uses 0.1, as the encoder */
    int pad_token_id;
    int do_lower_case; /* from tokenizer_config.json; if absent 1 (RoBERTa: 0) */
    int lowercase_declared; /* 1 when tokenizer_config.json gives do_lower_case */
    int strip_accents; /* -1: follow do_lower_case (HF default), 0/1 explicit */
    int model_max_length; /* from tokenizer_config.json, 0 if absent */
} gl_bert_config;

/* "bert", "distilbert", "roberta" */
const char *gl_arch_name(gl_arch a);

/* Load <dir>/config.json (required) and <dir>/tokenizer_config.json (optional).
 * Checks that model_type is one gloss computes (an unknown one is an error
 * naming it), architectures match it, the activation is GELU (DistilBERT: GELU
 * or ReLU), positions are absolute (DistilBERT: learned, not sinusoidal), and
 * that every size is positive and consistent (hidden divisible by heads).
 * Errors name the file and the key. */
int gl_config_load(gl_bert_config *cfg, const char *dir);

#endif
