/*
 * analyzer.h - German text analysis for the knowledge index and queries.
 *
 * A text is cut into words (runs of letters, digits and combining marks);
 * each word is normalised to a canonical form and reduced to a term:
 *
 *   1. case folding (Unicode simple lower-casing from engine/unicode.h),
 *      accents other than the umlauts dropped (é -> e);
 *   2. umlaut spellings unified: "ß" -> "ss", "ae"/"oe"/"ue" -> "ä"/"ö"/"ü"
 *      (not "ue" after "q"), so "Strasse"/"Straße" and "Aerzte"/"Ärzte"
 *      give the same term (Snowball's german2 convention, done here because
 *      Debian's libstemmer has only "german");
 *   3. Snowball German stemming (libstemmer, UTF-8) when RH_KAN_STEM is set;
 *   4. compound splitting when RH_KAN_COMPOUND is set: a long word is split
 *      into words of the German hunspell dictionary (de_DE.dic word list;
 *      linking elements -s, -es, -n, -en, -e, -er between the parts, fewest
 *      parts first); the parts are emitted as extra terms AT THE SAME
 *      POSITION as the whole word (colocated), so "Baugenehmigung" also
 *      indexes "bau" and "genehm".
 *   5. stop words are dropped when RH_KAN_STOPWORDS is set (for queries;
 *      the index keeps them).
 *
 * The dictionary (RATHAUS_DE_DIC or /usr/share/hunspell/de_DE.dic) is loaded
 * once per process, on first use, and shared read-only by all analyzers.
 * Without it compound splitting is silently off (rh_kan_dict_words() == 0).
 * An rh_kan itself (it owns a stemmer) must be used by one thread at a time.
 */
#ifndef RH_KNOWLEDGE_ANALYZER_H
#define RH_KNOWLEDGE_ANALYZER_H

#include <stddef.h>

#include "core/error.h"

enum {
    RH_KAN_STEM = 1u,
    RH_KAN_COMPOUND = 2u,
    RH_KAN_STOPWORDS = 4u,
};

/* Longest term in bytes; longer words are cut at a code point boundary. */
#define RH_KAN_TERM_MAX 96

typedef struct rh_kan rh_kan;

/* Called for each term: tok/n the term (not NUL-terminated), start/end the
 * byte range of the word in the input, colocated != 0 for a compound part
 * at the same position as the previous term. A non-zero return stops the
 * analysis and is returned by rh_kan_run. */
typedef int (*rh_kan_emit_fn)(void *ctx, const char *tok, size_t n, size_t start, size_t end,
                              int colocated);

int rh_kan_new(unsigned flags, rh_kan **out, rh_error *err);
void rh_kan_free(rh_kan *a);
unsigned rh_kan_flags(const rh_kan *a);

/* Analyse text[0..len) (UTF-8; invalid bytes count as separators). */
int rh_kan_run(rh_kan *a, const char *text, size_t len, rh_kan_emit_fn emit, void *ctx);

/* The term of one word (normalised, stemmed if the analyzer stems) into
 * out (cap >= RH_KAN_TERM_MAX + 1); returns its length, 0 if the word has
 * no letters or digits. */
size_t rh_kan_term(rh_kan *a, const char *word, size_t n, char *out, size_t cap);

/* Normalised (folded, unstemmed) form of a word; same contract. */
size_t rh_kan_normalize(const char *word, size_t n, char *out, size_t cap);

/* Is this word (any case/spelling) a German stop word? */
int rh_kan_is_stopword(const char *word, size_t n);

/* Number of dictionary words available for compound splitting (loads the
 * dictionary on first call); 0 when no dictionary was found. */
size_t rh_kan_dict_words(void);

#endif
