/*
 * zipread.h - reading ZIP containers (DOCX, ODT, XLSX, ODS) and the XML
 * inside them, with the limits hostile files need.
 *
 * The archive is read from memory with libzip. Limits: at most
 * RH_ZIP_MAX_ENTRIES entries, entry names of at most RH_ZIP_MAX_NAME bytes
 * without control characters, and a budget of uncompressed bytes for all
 * entries read from one archive: min(RH_ZIP_MAX_TOTAL, RH_ZIP_MAX_RATIO x
 * the archive size, at least 1 MiB). The budget counts the bytes actually
 * inflated (not the sizes the archive claims), so a zip bomb stops at the
 * limit. XML is parsed with libxml2 without network, DTD loading, entity
 * substitution or huge nodes; a document with a DOCTYPE is refused (no
 * office format has one).
 *
 * Error messages are German sentences that name the format given to
 * rh_zip_open ("DOCX", "ODT", ...), for the people who uploaded the file.
 */
#ifndef RH_KNOWLEDGE_ZIPREAD_H
#define RH_KNOWLEDGE_ZIPREAD_H

#include <libxml/tree.h>
#include <stddef.h>

#include "core/error.h"

#define RH_ZIP_MAX_ENTRIES 10000
#define RH_ZIP_MAX_NAME 1024
#define RH_ZIP_MAX_TOTAL ((size_t)100 << 20)
#define RH_ZIP_MAX_RATIO 100
#define RH_ZIP_MAX_XML ((size_t)64 << 20) /* one XML part */

typedef struct rh_zip rh_zip;

/* Open an archive held in memory (data must outlive the handle). `fmt` is
 * the format's name for messages, e.g. "DOCX". */
int rh_zip_open(const char *data, size_t len, const char *fmt, rh_zip **out, rh_error *err);
void rh_zip_close(rh_zip *z);

/* Whether an entry exists (exact name). */
int rh_zip_has(rh_zip *z, const char *name);

/* Read a whole entry (rh_malloc'ed, NUL-terminated) of at most `max`
 * bytes; RH_ENOTFOUND if absent (message set), RH_ELIMIT past a limit. */
int rh_zip_read(rh_zip *z, const char *name, size_t max, char **out, size_t *out_len,
                rh_error *err);

/* Read an entry and parse it as XML (free with xmlFreeDoc). */
int rh_zip_read_xml(rh_zip *z, const char *name, xmlDocPtr *out, rh_error *err);

/* Initialise libxml2 once (thread-safe) with an external entity loader
 * that refuses everything: no network, no files. Every parser calls it
 * first (rh_xml_parse_safe, the HTML extractor). */
void rh_xml_init_safe(void);

/* Parse XML from memory with the same safety options; `what` names the
 * document in messages. */
int rh_xml_parse_safe(const char *data, size_t len, const char *what, xmlDocPtr *out,
                      rh_error *err);

/* ---- small DOM helpers shared by the office extractors ---- */

/* Local name of an element is `name` (namespace prefix ignored). */
int rh_xml_is(const xmlNode *n, const char *name);
/* Value of the attribute with local name `name`, or NULL (no copy: valid
 * as long as the document). */
const char *rh_xml_attr(const xmlNode *n, const char *name);
/* First child element with local name `name`, or NULL. */
xmlNode *rh_xml_child(const xmlNode *n, const char *name);

#endif
