/*
 * synonyms.h - German synonyms for query expansion: OpenThesaurus (Debian
 * package openthesaurus-de-text: one synonym set per line, terms separated
 * by ';', annotations in parentheses) plus a small hand-made table of
 * everyday words -> the words statutes use (docs/knowledge.md lists it).
 *
 * Loaded once per process on first use (RATHAUS_THESAURUS or
 * /usr/share/openthesaurus-de/openthesaurus.txt; bounded: 16 MiB, 200,000
 * sets); only single-word terms are kept, keyed by their analysed term
 * (folded + stemmed, as analyzer.h makes it). Thread-safe after loading.
 */
#ifndef RH_KNOWLEDGE_SYNONYMS_H
#define RH_KNOWLEDGE_SYNONYMS_H

#include <stddef.h>

/* Called with each synonym term (analysed) of `term`; set_size is the size
 * of the synonym set it came from (smaller = more specific). Return
 * non-zero to stop. */
typedef int (*rh_ksyn_fn)(void *ctx, const char *syn, size_t set_size);

/* OpenThesaurus synonyms of an analysed term (at most max_sets sets). */
void rh_ksyn_thesaurus(const char *term, size_t max_sets, rh_ksyn_fn fn, void *ctx);
/* The everyday -> statute table: analysed statute terms for `term`. */
void rh_ksyn_legal(const char *term, rh_ksyn_fn fn, void *ctx);
/* Number of synonym sets loaded (loads on first call). */
size_t rh_ksyn_sets(void);

#endif
