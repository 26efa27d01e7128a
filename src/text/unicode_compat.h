/* unicode_compat.h: where Hugging Face tokenizers' Unicode data differs from
 * utf8proc's. HF's category tables (Cc/Cf/Co, P*, Mn) come from an old Unicode
 * version, its lowercasing from Rust's std (a newer one), its NFD from yet
 * another crate. These functions give the corrections, measured by probing
 * every code point (see tools/make_tokenizer_fixture.py). */
#ifndef GL_UNICODE_COMPAT_H
#define GL_UNICODE_COMPAT_H

#include <stddef.h>
#include <stdint.h>
#include <utf8proc.h>

/* 1 when HF's answer to "is c Cc/Cf/Co", "is c punctuation (P*)", "is c Mn"
 * differs from utf8proc's category. */
int gl_ucompat_flip_other(uint32_t c);
int gl_ucompat_flip_punct(uint32_t c);
int gl_ucompat_flip_mn(uint32_t c);
/* Canonical combining class as HF's NFD sees it (0 for marks it does not know). */
int gl_ucompat_ccc(uint32_t c);
/* HF's lowercase of c where utf8proc's simple mapping differs, else 0. */
uint32_t gl_ucompat_lower(uint32_t c);
/* Adjust utf8proc's canonical decomposition d[0..n) of c to HF's; returns the
 * new length. */
utf8proc_ssize_t gl_ucompat_decompose(uint32_t c, utf8proc_int32_t *d, utf8proc_ssize_t n);

/* The byte-level pre-tokenizer's classes of a non-ASCII, non-White_Space
 * character c, as Hugging Face's Oniguruma sees them: \p{L}, \p{N}, or
 * neither. */
enum { GL_UCLASS_OTHER, GL_UCLASS_LETTER, GL_UCLASS_NUMBER };
int gl_ucompat_regex_class(uint32_t c);
/* 1 when c is a word character for an added token's single_word (Rust
 * regex's Unicode \w: Alphabetic, marks, Nd, Pc, Join_Control). */
int gl_ucompat_is_word(uint32_t c);

#endif
