/*
 * fts_tokenizer.h - the SQLite FTS5 tokenizer "rathaus_de" (German analysis
 * from analyzer.h), registered per connection.
 *
 * Table option: tokenize='rathaus_de [stem] [compound]'. Without options
 * both are on. Documents are analysed (folding, umlaut spellings, stemming,
 * compound parts as FTS5_TOKEN_COLOCATED tokens). Query strings are NOT
 * analysed again: the search module analyses the user's question itself
 * and passes finished terms, separated by white space, in "quoted" strings.
 */
#ifndef RH_KNOWLEDGE_FTS_TOKENIZER_H
#define RH_KNOWLEDGE_FTS_TOKENIZER_H

#include <sqlite3.h>

#include "core/error.h"

/* Register "rathaus_de" on db. */
int rh_fts_register(sqlite3 *db, rh_error *err);

#endif
