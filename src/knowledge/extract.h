/*
 * extract.h - turning a file into structured blocks (headings, paragraphs,
 * page numbers) for the chunker. One extractor function per format.
 *
 * A format is a plug-in: an rh_extract_fn that reads the file's bytes and
 * appends blocks to an rh_kdoc with rh_kdoc_add(). Built in (extract_text.c):
 * plain text, Markdown (front matter, ATX/setext headings) and HTML (libxml2's
 * HTML parser, no network, no external entities or DTDs). Further formats
 * (PDF, DOCX/ODT, e-mail, spreadsheets, OCR) are added by defining one of
 * the weak functions declared below in a new file (e.g. extract_pdf.c
 * defining rh_extract_pdf): the registry in extract.c picks it up by itself,
 * or by calling rh_extract_register() at start-up. (A weak reference does
 * not pull an object out of a static library: when the binary links
 * librathaus.a, the plug-in's object must be linked for another reason -
 * as it is today - or registered explicitly.)
 *
 * Extractors must treat the input as hostile: bounded work, no network, no
 * file access besides the given bytes; limits (text size, time) are enforced
 * by rh_kdoc_add / rh_kdoc_check_time, which an extractor calls as it goes.
 */
#ifndef RH_KNOWLEDGE_EXTRACT_H
#define RH_KNOWLEDGE_EXTRACT_H

#include <stddef.h>

#include "core/error.h"

enum {
    RH_KBLOCK_HEADING = 1, /* level 1..6 */
    RH_KBLOCK_PARA = 2,
};

typedef struct rh_kblock {
    int kind;
    int level; /* headings: 1..6 */
    int page;  /* 1-based page, 0 if the format has no pages */
    char *text; /* white space collapsed, NUL-terminated */
    size_t len;
} rh_kblock;

typedef struct rh_kdoc {
    char *title;  /* from metadata (front matter, <title>) or NULL */
    char *abbrev; /* short name (a law's jurabk), or NULL */
    rh_kblock *blocks;
    size_t n, cap;
    size_t text_bytes, max_bytes; /* limit of the extracted text */
    double deadline;              /* monotonic seconds; 0 = none */
} rh_kdoc;

void rh_kdoc_init(rh_kdoc *d, size_t max_bytes, double deadline);
void rh_kdoc_free(rh_kdoc *d);
/* Append a block; white space runs become one space, empty text is
 * skipped. RH_ELIMIT when the text limit or the deadline is passed. */
int rh_kdoc_add(rh_kdoc *d, int kind, int level, int page, const char *text, size_t len,
                rh_error *err);
int rh_kdoc_set(char **field, const char *text, size_t len); /* title/abbrev */
int rh_kdoc_check_time(const rh_kdoc *d, rh_error *err);
double rh_monotonic_seconds(void);

typedef int (*rh_extract_fn)(const char *data, size_t len, rh_kdoc *doc, rh_error *err);

typedef struct rh_extractor {
    const char *type; /* "txt", "md", "html", "pdf", ... */
    const char *exts; /* lower-case extensions without dot, space-separated */
    rh_extract_fn fn;
} rh_extractor;

/* The extractor for a file name (by extension, case-insensitive) or NULL. */
const rh_extractor *rh_extract_for_path(const char *path);
/* Add an extractor at run time (before any ingestion; not thread-safe). */
int rh_extract_register(const rh_extractor *ex);

/* Built-in extractors (extract_text.c). */
int rh_extract_txt(const char *data, size_t len, rh_kdoc *doc, rh_error *err);
int rh_extract_md(const char *data, size_t len, rh_kdoc *doc, rh_error *err);
int rh_extract_html(const char *data, size_t len, rh_kdoc *doc, rh_error *err);

/* Decode a text file: UTF-8 (BOM removed) as is, otherwise Latin-1/CP1252
 * converted; NUL bytes or many control characters -> RH_EFORMAT ("not a
 * text file"). *out is rh_malloc'ed. */
int rh_extract_decode_text(const char *data, size_t len, char **out, size_t *out_len,
                           rh_error *err);

/* Formats provided by other files when they exist (weak symbols). */
int rh_extract_pdf(const char *data, size_t len, rh_kdoc *doc, rh_error *err);
int rh_extract_docx(const char *data, size_t len, rh_kdoc *doc, rh_error *err);
int rh_extract_odt(const char *data, size_t len, rh_kdoc *doc, rh_error *err);
int rh_extract_eml(const char *data, size_t len, rh_kdoc *doc, rh_error *err);
int rh_extract_xlsx(const char *data, size_t len, rh_kdoc *doc, rh_error *err);
int rh_extract_ods(const char *data, size_t len, rh_kdoc *doc, rh_error *err);
int rh_extract_csv(const char *data, size_t len, rh_kdoc *doc, rh_error *err);
int rh_extract_image(const char *data, size_t len, rh_kdoc *doc, rh_error *err);

#endif
