/*
 * ocr.h - text recognition (OCR) of page images with Tesseract (C API),
 * used by the image extractor and by the PDF extractor for pages without a
 * text layer.
 *
 * Language: "deu" (Debian package tesseract-ocr-deu), or what the
 * environment variable RATHAUS_OCR_LANG names (e.g. "deu+eng"). The data
 * path is Tesseract's default (/usr/share/tesseract-ocr/5/tessdata on
 * Debian 12) unless TESSDATA_PREFIX is set.
 */
#ifndef RH_KNOWLEDGE_OCR_H
#define RH_KNOWLEDGE_OCR_H

#include <stddef.h>

#include "core/error.h"

#define RH_OCR_MAX_PIXELS ((size_t)60 << 20) /* larger images are refused */

/* 1 if Tesseract can be started with the language data, else 0 (cached). */
int rh_ocr_available(void);

/* Recognise an 8-bit grayscale image (`stride` bytes per row) scanned at
 * `dpi`. `deadline` is a monotonic time in seconds (rh_monotonic_seconds),
 * 0 for none: recognition is cancelled when it passes. On success *out is
 * the UTF-8 text (rh_malloc'ed; paragraphs separated by blank lines). */
int rh_ocr_gray(const unsigned char *pix, int w, int h, int stride, int dpi, double deadline,
                char **out, size_t *out_len, rh_error *err);

/* ---- MuPDF helpers shared by the PDF and image extractors (defined in
 * extract_pdf.c) ---- */

struct fz_context;
struct fz_pixmap;
struct rh_kdoc;

#define RH_MUPDF_MAX_MEM ((size_t)512 << 20) /* heap one MuPDF context may use */

/* A MuPDF context whose allocations go through rh_malloc and stop at
 * RH_MUPDF_MAX_MEM, with warnings and errors kept off stderr; NULL when out
 * of memory. Free with rh_mupdf_drop. */
struct fz_context *rh_mupdf_new(void);
void rh_mupdf_drop(struct fz_context *ctx);

/* OCR a pixmap (any colour space, alpha composed over white) and append
 * its paragraphs with page number `page` to `doc`. */
int rh_ocr_pixmap(struct fz_context *ctx, struct fz_pixmap *pix, int dpi, int page,
                  struct rh_kdoc *doc, rh_error *err);

#endif
