/*
 * sampler.h - choosing the next token from the logits, and stop strings.
 *
 * rh_sampling holds the parameters of one request. An rh_sampler is the
 * per-sequence state: its own random generator (xoshiro256** seeded through
 * splitmix64, so a given seed reproduces a run exactly on every machine), the
 * window of recent tokens for the penalties, and scratch space for the
 * candidate list.
 *
 * Order of operations (as in common engines):
 *   penalties (repetition, frequency, presence over the last-N window)
 *   -> top-k -> top-p -> min-p -> temperature -> softmax -> draw.
 * temperature <= 0 means greedy: the argmax after penalties (ties go to the
 * lowest token id), no randomness.
 *
 * Cost on large vocabularies (150k): penalties touch only the window; a
 * top-k up to 2048 is one pass with a small heap over the logits (larger k:
 * quickselect plus a sort of the k survivors); top-p on a long unsorted list
 * buckets the candidates by logit in one pass and sorts only the bucket where
 * the probability mass is reached; min-p is one pass. No full sort per token.
 * (About 0.3 ms per token with the defaults on 152k logits.)
 *
 * rh_stop watches generated text for stop strings, also when a stop string is
 * split across tokens: text that could be the beginning of a stop string is
 * held back and never emitted if the stop string completes.
 */
#ifndef RH_ENGINE_SAMPLER_H
#define RH_ENGINE_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"

#define RH_MAX_STOP 8                /* stop strings per request */
#define RH_STOP_MAX_LEN 256          /* bytes per stop string */
#define RH_PENALTY_WINDOW_MAX 4096   /* largest repeat_last_n */
#define RH_SEED_RANDOM UINT64_MAX    /* seed: take one from the OS */

/* Parameters of one request. Set defaults with rh_sampling_default(). */
typedef struct rh_sampling {
    float temperature;       /* <= 0: greedy (default 0.8) */
    int32_t top_k;           /* <= 0: off (default 40) */
    float top_p;             /* >= 1: off (default 0.95) */
    float min_p;             /* <= 0: off (default 0.05) */
    float repeat_penalty;    /* 1: off (default 1.0); > 1 discourages repeats */
    int32_t repeat_last_n;   /* window of all three penalties (default 64, 0: off) */
    float frequency_penalty; /* 0: off; subtracted once per occurrence in the window */
    float presence_penalty;  /* 0: off; subtracted once if present in the window */
    uint64_t seed;           /* RH_SEED_RANDOM (default): from the OS */
    int32_t max_tokens;      /* <= 0: until end of turn or context full (default 0) */
    int n_stop;              /* number of stop strings (<= RH_MAX_STOP) */
    /* Stop strings (NUL-terminated, 1..RH_STOP_MAX_LEN bytes). Owned by the
     * caller; whoever keeps an rh_sampling beyond the call copies them. */
    const char *stop[RH_MAX_STOP];
} rh_sampling;

void rh_sampling_default(rh_sampling *p);
/* Check ranges (temperature 0..100, top_p 0..1, min_p 0..1, penalties
 * 0..100/-100..100, window 0..RH_PENALTY_WINDOW_MAX, stop strings). RH_EINVAL
 * with a message naming the bad field. */
int rh_sampling_validate(const rh_sampling *p, rh_error *err);

/* ---- candidate lists (exposed for tests and custom chains) -------------- */

typedef struct rh_cand {
    int32_t id;
    float logit;
    float p; /* probability, valid after rh_cands_softmax */
} rh_cand;

typedef struct rh_cands {
    rh_cand *data;
    size_t n;
    bool sorted; /* data[0..n) in descending logit order (ties: lower id first) */
} rh_cands;

/* Keep the k highest logits, sorted. k <= 0 or k >= n: no change. */
void rh_cands_top_k(rh_cands *c, int32_t k);
/* Keep the smallest set of most probable candidates (at temperature 1)
 * whose mass reaches p; at least one. p >= 1: no change. On long unsorted
 * lists the kept set is left unsorted. */
void rh_cands_top_p(rh_cands *c, float p);
/* Keep candidates whose probability is >= p * the largest probability. */
void rh_cands_min_p(rh_cands *c, float p);
/* Divide logits by t (t > 0). */
void rh_cands_temperature(rh_cands *c, float t);
/* Fill p with the softmax of the logits. */
void rh_cands_softmax(rh_cands *c);
/* Pick by cumulative probability with u in [0, 1) (needs p). */
int32_t rh_cands_draw(const rh_cands *c, double u);

/* Apply the penalties of `p` to logits[0..n_vocab) for the tokens in
 * recent[0..n_recent) (token ids out of range are ignored). `scratch` must
 * hold n_recent int32 values. */
void rh_apply_penalties(const rh_sampling *p, const int32_t *recent, size_t n_recent,
                        int32_t *scratch, float *logits, int32_t n_vocab);

/* ---- per-sequence sampler ------------------------------------------------ */

typedef struct rh_sampler rh_sampler;

/* Stop strings in `p` are not kept (see rh_stop). */
int rh_sampler_new(const rh_sampling *p, int32_t n_vocab, rh_sampler **out, rh_error *err);
void rh_sampler_free(rh_sampler *s);
/* Note a token of the sequence (prompt or generated) for the penalties. */
void rh_sampler_accept(rh_sampler *s, int32_t tok);
/* Choose the next token from logits[0..n_vocab) (not modified). Returns the
 * token id, or RH_ENOMEM. */
int32_t rh_sampler_sample(rh_sampler *s, const float *logits);
/* Next raw 64-bit value of the sampler's generator (tests). */
uint64_t rh_sampler_rand(rh_sampler *s);
/* The seed actually used (after RH_SEED_RANDOM was resolved). */
uint64_t rh_sampler_seed(const rh_sampler *s);

/* ---- stop strings -------------------------------------------------------- */

typedef struct rh_stop {
    int n;
    size_t len[RH_MAX_STOP];
    char str[RH_MAX_STOP][RH_STOP_MAX_LEN + 1];
    rh_buf held;  /* text held back: may be the start of a stop string */
    bool matched; /* a stop string was found; later input is ignored */
    int which;    /* index of the matched stop string */
} rh_stop;

/* Copy the stop strings (empty ones are skipped). RH_EINVAL if more than
 * RH_MAX_STOP or one is longer than RH_STOP_MAX_LEN. */
int rh_stop_init(rh_stop *s, const char *const *stop, int n, rh_error *err);
void rh_stop_free(rh_stop *s);
/* Add one more stop string (e.g. a chat end marker); RH_ELIMIT when full. */
int rh_stop_add(rh_stop *s, const char *str);
/* Feed generated text. Appends to `out` the text that can be emitted now.
 * Returns 1 when a stop string completed (the text before it was appended;
 * the stop string and whatever follows is dropped), 0 otherwise, or a
 * negative error (RH_ENOMEM, RH_ELIMIT from `out`). */
int rh_stop_push(rh_stop *s, const char *text, size_t len, rh_buf *out);
/* End of generation without a match: append the held-back text to `out`. */
int rh_stop_flush(rh_stop *s, rh_buf *out);

#endif
