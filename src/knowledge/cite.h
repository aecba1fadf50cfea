/*
 * cite.h - citation post-processing for grounded answers: the model was
 * given passages numbered 1..max and told to cite them as [1], [2]; a
 * citation of a number that was not given ("[7]" with five passages, "[0]")
 * is removed. Works on a stream: text arrives in arbitrary pieces, so a "["
 * and what follows is held back until the bracket is complete (or clearly
 * no citation), then released or dropped. "[1, 3]" keeps its valid numbers.
 */
#ifndef RH_KNOWLEDGE_CITE_H
#define RH_KNOWLEDGE_CITE_H

#include <stddef.h>

#include "core/buf.h"
#include "core/error.h"

#define RH_CITE_HOLD_MAX 24

typedef struct rh_cite_filter {
    int max;                        /* highest valid number (0: all removed) */
    char hold[RH_CITE_HOLD_MAX + 1];
    size_t n_hold;
} rh_cite_filter;

void rh_cite_init(rh_cite_filter *f, int max);
/* Filter text[0..len) and append what may be shown to out. */
int rh_cite_feed(rh_cite_filter *f, const char *text, size_t len, rh_buf *out);
/* End of the answer: release what is held (an unfinished bracket is text). */
int rh_cite_flush(rh_cite_filter *f, rh_buf *out);
/* Whole text at once (rh_malloc'ed result). */
char *rh_cite_clean(const char *text, int max);

#endif
