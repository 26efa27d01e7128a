/* config.h: a BERT-family checkpoint's config.json and tokenizer_config.json. */
#ifndef GL_CONFIG_H
#define GL_CONFIG_H

typedef struct {
    int vocab_size;
    int hidden_size;
    int num_layers;
    int num_heads;
    int intermediate_size;
    int max_position_embeddings;
    int type_vocab_size;
    float layer_norm_eps;
    int pad_token_id;
    int do_lower_case; /* from tokenizer_config.json; 1 if absent */
    int strip_accents; /* -1: follow do_lower_case (HF default), 0/1 explicit */
    int model_max_length; /* from tokenizer_config.json, 0 if absent */
} gl_bert_config;

/* Load <dir>/config.json (required) and <dir>/tokenizer_config.json (optional).
 * Checks model_type/architecture is BERT-like, hidden_act is "gelu", and that
 * every size is positive and consistent (hidden divisible by heads).
 * Errors name the file and the key. */
int gl_config_load(gl_bert_config *cfg, const char *dir);

#endif
