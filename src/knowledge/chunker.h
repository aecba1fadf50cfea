/*
 * chunker.h - cutting an extracted document (extract.h blocks) into chunks
 * for the index, along its structure.
 *
 * Every heading starts a new chunk (so in a law, one § = one chunk); the
 * paragraphs under it are gathered up to `target` characters (bytes of
 * UTF-8); a longer section is split at paragraph boundaries (a single
 * overlong paragraph at sentence or word boundaries), and each following
 * piece starts with an overlap: the last paragraph of the previous piece if
 * it is at most `overlap` characters, else its last `overlap` characters.
 * Every chunk knows its heading path, e.g.
 * "VwVfG › Teil III › § 35 Begriff des Verwaltungsaktes" (root = the
 * document's abbreviation, else its title, else the given name; a level-1
 * heading that repeats the title is not repeated), and its page range.
 */
#ifndef RH_KNOWLEDGE_CHUNKER_H
#define RH_KNOWLEDGE_CHUNKER_H

#include <stddef.h>

#include "core/error.h"
#include "knowledge/extract.h"

#define RH_CHUNK_PATH_SEP " \xE2\x80\xBA " /* " › " */

typedef struct rh_chunk_opts {
    size_t target;     /* e.g. 1200 */
    size_t overlap;    /* e.g. 200 */
    size_t max_chunks; /* limit per document, 0 = 100000 */
} rh_chunk_opts;

typedef struct rh_kchunk {
    char *heading; /* heading path */
    char *text;
    int page_from, page_to;
} rh_kchunk;

typedef struct rh_kchunks {
    rh_kchunk *v;
    size_t n, cap;
} rh_kchunks;

void rh_chunk_opts_default(rh_chunk_opts *o);
int rh_chunk_doc(const rh_kdoc *doc, const char *name, const rh_chunk_opts *o, rh_kchunks *out,
                 rh_error *err);
void rh_kchunks_free(rh_kchunks *c);

#endif
