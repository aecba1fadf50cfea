/*
 * embedder.h - dense sentence embeddings for retrieval: a GGUF embedding
 * model run by rathaus' own engine (BERT-style or Qwen3-embedding, see
 * engine_embed), or an OpenAI-compatible upstream's /v1/embeddings
 * ("upstream:NAME:MODEL" with NAME an [upstream NAME] of the
 * configuration). Vectors are L2-normalized, so cosine = dot product.
 * An embedder may be used from several threads at once.
 */
#ifndef RH_KNOWLEDGE_EMBEDDER_H
#define RH_KNOWLEDGE_EMBEDDER_H

#include <stddef.h>

#include "core/error.h"

typedef struct rh_kembedder rh_kembedder;
struct rh_config;

/* spec: a .gguf path or "upstream:NAME:MODEL" (cfg needed for upstreams;
 * may be NULL for a path). */
int rh_kembedder_open(const char *spec, const struct rh_config *cfg, rh_kembedder **out,
                      rh_error *err);
void rh_kembedder_free(rh_kembedder *e);
/* Model name stored with the vectors (e.g. the file's base name). */
const char *rh_kembedder_name(const rh_kembedder *e);
/* Vector length (known after open for engine models; after the first call
 * for upstreams). */
int rh_kembedder_dim(const rh_kembedder *e);
/* n texts -> n * dim floats (rh_malloc'ed into *out), normalized. Texts
 * longer than the model's context are cut. */
int rh_kembed(rh_kembedder *e, const char *const *texts, size_t n, float **out, int *dim,
              rh_error *err);

#endif
