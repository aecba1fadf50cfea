/*
 * extract_pdf.c - PDF extractor (MuPDF): text per page in MuPDF's block
 * order, headings recognised from font size and weight, page numbers on
 * every block; pages without a text layer but with images are rendered
 * (300 dpi, gray) and read with Tesseract (ocr.c).
 *
 * Headings: the body size is the most frequent character size of the
 * document (sampled on the first pages). A line clearly larger (>= 1.15x)
 * and short becomes a heading whose level is the rank of its size among
 * the larger sizes (largest = 1); a short block set entirely in bold at
 * body size becomes a heading one level below the sized ones.
 *
 * MuPDF reports errors with longjmp (fz_try/fz_catch): every MuPDF call is
 * inside a small fz_try in a helper that returns a plain result; no
 * rathaus code that could leave a fz_try early runs inside one. The MuPDF
 * context allocates through rh_malloc with a cap (RH_MUPDF_MAX_MEM).
 */
#include <mupdf/fitz.h>
#include <mupdf/pdf.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "engine/unicode.h"
#include "knowledge/extract.h"
#include "knowledge/ocr.h"

#define MAX_PAGES 5000
#define MAX_BAD_PAGES 20    /* consecutive unreadable pages end the document */
#define SAMPLE_PAGES 50     /* pages sampled for the body font size */
#define OCR_DPI 300
#define MIN_TEXT_CHARS 16   /* fewer text characters: the page counts as scanned */
#define NBUCKET 512         /* font size histogram in half points */
#define MAX_LINE 8192

/* ---- the MuPDF context ---- */

typedef struct mem_state {
    size_t used, cap;
} mem_state;

typedef struct mem_hdr {
    size_t size;
    size_t pad;
} mem_hdr;

static void *m_alloc(void *user, size_t size)
{
    mem_state *st = user;
    if (size > st->cap - st->used || size > SIZE_MAX - sizeof(mem_hdr))
        return NULL;
    mem_hdr *h = rh_malloc(sizeof *h + size);
    if (!h)
        return NULL;
    h->size = size;
    st->used += size;
    return h + 1;
}

static void m_free(void *user, void *p)
{
    mem_state *st = user;
    if (!p)
        return;
    mem_hdr *h = (mem_hdr *)p - 1;
    st->used -= h->size;
    rh_free(h);
}

static void *m_realloc(void *user, void *p, size_t size)
{
    mem_state *st = user;
    if (!p)
        return m_alloc(user, size);
    if (size == 0) {
        m_free(user, p);
        return NULL;
    }
    mem_hdr *h = (mem_hdr *)p - 1;
    size_t old = h->size;
    if (size > old && size - old > st->cap - st->used)
        return NULL;
    if (size > SIZE_MAX - sizeof(mem_hdr))
        return NULL;
    mem_hdr *nh = rh_realloc(h, sizeof *nh + size);
    if (!nh)
        return NULL;
    nh->size = size;
    st->used = st->used - old + size;
    return nh + 1;
}

static void quiet(void *user, const char *msg)
{
    (void)user;
    (void)msg;
}

fz_context *rh_mupdf_new(void)
{
    mem_state *st = rh_calloc(1, sizeof *st);
    if (!st)
        return NULL;
    st->cap = RH_MUPDF_MAX_MEM;
    fz_alloc_context a = {st, m_alloc, m_realloc, m_free};
    fz_context *ctx = fz_new_context(&a, NULL, 64 << 20);
    if (!ctx) {
        rh_free(st);
        return NULL;
    }
    fz_set_error_callback(ctx, quiet, NULL);
    fz_set_warning_callback(ctx, quiet, NULL);
    return ctx;
}

void rh_mupdf_drop(fz_context *ctx)
{
    if (!ctx)
        return;
    void *st = ctx->alloc.user;
    fz_drop_context(ctx);
    rh_free(st);
}

/* ---- the deadline inside MuPDF ----
 * A hostile page can keep MuPDF's interpreter busy for a long time within
 * one fz_run_page call. A watchdog thread sets the cookie's abort flag (the
 * way MuPDF is meant to be interrupted) when the document's deadline
 * passes. */

typedef struct watchdog {
    pthread_t th;
    int running;
    atomic_int stop;
    double deadline;
    fz_cookie *cookie;
} watchdog;

static void *watch_main(void *arg)
{
    watchdog *w = arg;
    struct timespec ts = {0, 20 * 1000 * 1000};
    while (!atomic_load(&w->stop)) {
        if (rh_monotonic_seconds() > w->deadline) {
            w->cookie->abort = 1;
            break;
        }
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void watch_start(watchdog *w, double deadline, fz_cookie *cookie)
{
    memset(w, 0, sizeof *w);
    atomic_init(&w->stop, 0);
    w->deadline = deadline;
    w->cookie = cookie;
    if (deadline > 0)
        w->running = pthread_create(&w->th, NULL, watch_main, w) == 0;
}

static void watch_stop(watchdog *w)
{
    if (!w->running)
        return;
    atomic_store(&w->stop, 1);
    pthread_join(w->th, NULL);
    w->running = 0;
}

/* ---- OCR of a pixmap ---- */

static int ascii_letter(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

/* Join words hyphenated at a line end ("Bau-\ngenehmigung") in place when
 * the next line goes on in lower case; returns the new length. */
static size_t dehyphenate(char *t, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i] == '-' && i + 2 < n && t[i + 1] == '\n' && k > 0 &&
            ascii_letter((unsigned char)t[k - 1])) {
            unsigned char c = (unsigned char)t[i + 2];
            unsigned char c2 = i + 3 < n ? (unsigned char)t[i + 3] : 0;
            int lower = (c >= 'a' && c <= 'z') ||
                        (c == 0xC3 && (c2 == 0xA4 || c2 == 0xB6 || c2 == 0xBC || c2 == 0x9F));
            if (lower) {
                i++; /* skip '-' and the newline */
                continue;
            }
        }
        t[k++] = t[i];
    }
    return k;
}

/* Paragraphs of OCR text split at blank lines. */
static int add_ocr_text(char *t, size_t n, int page, rh_kdoc *doc, rh_error *err)
{
    n = dehyphenate(t, n);
    size_t i = 0, para = 0;
    int rc = RH_OK;
    while (i <= n && !rc) {
        const char *nl = i < n ? memchr(t + i, '\n', n - i) : NULL;
        size_t e = nl ? (size_t)(nl - t) : n;
        int blank = 1;
        for (size_t j = i; j < e; j++)
            if (t[j] != ' ' && t[j] != '\t' && t[j] != '\r' && t[j] != '\f')
                blank = 0;
        if (blank || e >= n) {
            rc = rh_kdoc_add(doc, RH_KBLOCK_PARA, 0, page, t + para, (blank ? i : e) - para, err);
            para = e + 1;
        }
        if (e >= n)
            break;
        i = e + 1;
    }
    return rc;
}

/* The pixmap in DeviceGray (alpha kept), a new reference; NULL on error. */
static fz_pixmap *gray_pixmap(fz_context *ctx, fz_pixmap *pix)
{
    fz_pixmap *g = NULL;
    fz_var(g);
    int alpha = fz_pixmap_alpha(ctx, pix);
    int comps = fz_pixmap_components(ctx, pix); /* including alpha */
    fz_try(ctx)
    {
        if (comps - alpha != 1 || fz_pixmap_colorspace(ctx, pix) != fz_device_gray(ctx))
            g = fz_convert_pixmap(ctx, pix, fz_device_gray(ctx), NULL, NULL,
                                  fz_default_color_params, alpha);
        else
            g = fz_keep_pixmap(ctx, pix);
    }
    fz_catch(ctx)
    {
        g = NULL;
    }
    return g;
}

/* Convert to 8-bit gray (alpha composed over white) in a buffer of our own. */
static unsigned char *to_gray(fz_context *ctx, fz_pixmap *pix, int *w, int *h)
{
    fz_pixmap *g = gray_pixmap(ctx, pix);
    if (!g)
        return NULL;
    unsigned char *out = NULL;
    int alpha = fz_pixmap_alpha(ctx, g);
    *w = fz_pixmap_width(ctx, g);
    *h = fz_pixmap_height(ctx, g);
    int n = fz_pixmap_components(ctx, g);
    ptrdiff_t stride = fz_pixmap_stride(ctx, g);
    const unsigned char *s = fz_pixmap_samples(ctx, g);
    if (*w > 0 && *h > 0 && (size_t)*w * (size_t)*h <= RH_OCR_MAX_PIXELS)
        out = rh_malloc((size_t)*w * (size_t)*h);
    if (out) {
        for (int y = 0; y < *h; y++) {
            const unsigned char *r = s + (ptrdiff_t)y * stride;
            unsigned char *o = out + (size_t)y * (size_t)*w;
            for (int x = 0; x < *w; x++) {
                unsigned v = r[x * n];
                if (alpha && n == 2) /* premultiplied: over white */
                    v = v + 255u - r[x * n + 1];
                o[x] = (unsigned char)(v > 255 ? 255 : v);
            }
        }
    }
    fz_drop_pixmap(ctx, g);
    return out;
}

int rh_ocr_pixmap(fz_context *ctx, fz_pixmap *pix, int dpi, int page, rh_kdoc *doc,
                  rh_error *err)
{
    int w = 0, h = 0;
    unsigned char *gray = to_gray(ctx, pix, &w, &h);
    if (!gray)
        return rh_error_set(err, RH_ELIMIT, "Das Bild ist für die Texterkennung zu groß.");
    char *text = NULL;
    size_t n = 0;
    int rc = rh_ocr_gray(gray, w, h, w, dpi, doc->deadline, &text, &n, err);
    rh_free(gray);
    if (!rc)
        rc = add_ocr_text(text, n, page, doc, err);
    rh_free(text);
    return rc;
}

/* ---- text layer ---- */

typedef struct pdf_ctx {
    fz_context *ctx;
    fz_document *d;
    rh_kdoc *doc;
    rh_error *err;
    uint32_t hist[NBUCKET];
    int body;              /* body size bucket */
    int sizes[8], n_sizes; /* heading size buckets, largest first */
    fz_cookie cookie;      /* abort flag set by the watchdog */
    uint64_t margin_hash[64]; /* running headers/footers seen while sampling */
    int margin_pages[64], n_margin, sampled;
    int ocr_missing;       /* a scanned page was skipped: no OCR */
    int ocr_pages;
} pdf_ctx;

static int bucket(float size)
{
    int b = (int)(size * 2.0f + 0.5f);
    return b < 0 ? 0 : b >= NBUCKET ? NBUCKET - 1 : b;
}

static fz_stext_page *page_text(fz_context *ctx, fz_document *d, int i, fz_cookie *cookie)
{
    fz_page *page = NULL;
    fz_stext_page *st = NULL;
    fz_device *dev = NULL;
    fz_var(page);
    fz_var(st);
    fz_var(dev);
    fz_stext_options opts;
    memset(&opts, 0, sizeof opts);
    opts.flags = FZ_STEXT_PRESERVE_IMAGES | FZ_STEXT_MEDIABOX_CLIP;
    fz_try(ctx)
    {
        page = fz_load_page(ctx, d, i);
        st = fz_new_stext_page(ctx, fz_bound_page(ctx, page));
        dev = fz_new_stext_device(ctx, st, &opts);
        fz_run_page(ctx, page, dev, fz_identity, cookie);
        fz_close_device(ctx, dev);
    }
    fz_always(ctx)
    {
        fz_drop_device(ctx, dev);
        fz_drop_page(ctx, page);
    }
    fz_catch(ctx)
    {
        fz_drop_stext_page(ctx, st);
        st = NULL;
    }
    return st;
}

static int font_bold(fz_context *ctx, fz_font *f)
{
    if (!f)
        return 0;
    if (fz_font_is_bold(ctx, f))
        return 1;
    const char *nm = fz_font_name(ctx, f);
    return nm && (strstr(nm, "Bold") || strstr(nm, "bold") || strstr(nm, "Black") ||
                  strstr(nm, "Heavy") || strstr(nm, "Semibold") || strstr(nm, "Demi"));
}

typedef struct line_info {
    int size;   /* bucket of the largest glyph */
    int bold;   /* every visible glyph bold */
    int chars;  /* visible glyphs */
    int letter; /* has a letter */
} line_info;

static line_info line_scan(fz_context *ctx, const fz_stext_line *l)
{
    line_info li = {0, 1, 0, 0};
    for (const fz_stext_char *ch = l->first_char; ch; ch = ch->next) {
        if (ch->c <= ' ')
            continue;
        li.chars++;
        int b = bucket(ch->size);
        if (b > li.size)
            li.size = b;
        if (!font_bold(ctx, ch->font))
            li.bold = 0;
        if ((ch->c >= 'A' && ch->c <= 'Z') || (ch->c >= 'a' && ch->c <= 'z') || ch->c >= 0xC0)
            li.letter = 1;
    }
    if (!li.chars)
        li.bold = 0;
    return li;
}

/* Is the block in the top or bottom 8% of the page? */
static int in_margin(const fz_stext_page *st, const fz_stext_block *bl)
{
    float ph = st->mediabox.y1 - st->mediabox.y0;
    return ph > 0 && (bl->bbox.y1 < st->mediabox.y0 + ph * 0.08f ||
                      bl->bbox.y0 > st->mediabox.y1 - ph * 0.08f);
}

/* Hash of a block's text without digits and spaces ("Seite 3" = "Seite 4"). */
static uint64_t block_hash(const fz_stext_block *bl)
{
    uint64_t h = 1469598103934665603ull;
    int n = 0;
    for (fz_stext_line *l = bl->u.t.first_line; l; l = l->next)
        for (fz_stext_char *ch = l->first_char; ch; ch = ch->next)
            if (ch->c > ' ' && !(ch->c >= '0' && ch->c <= '9')) {
                h = (h ^ (uint64_t)ch->c) * 1099511628211ull;
                n++;
            }
    return n ? h : 0;
}

/* A block that repeats in the margin of many sampled pages (running
 * header or footer). */
static int is_running(const pdf_ctx *p, const fz_stext_page *st, const fz_stext_block *bl)
{
    if (!in_margin(st, bl))
        return 0;
    uint64_t h = block_hash(bl);
    for (int k = 0; h && k < p->n_margin; k++)
        if (p->margin_hash[k] == h)
            return p->margin_pages[k] >= 3 && p->margin_pages[k] * 3 >= p->sampled;
    return 0;
}

/* Pass 1: body size and the ranks of the larger sizes. */
static void sample_sizes(pdf_ctx *p, int n_pages)
{
    uint32_t big[NBUCKET];
    memset(big, 0, sizeof big);
    for (int i = 0; i < n_pages && i < SAMPLE_PAGES; i++) {
        if (rh_kdoc_check_time(p->doc, NULL))
            break;
        fz_stext_page *st = page_text(p->ctx, p->d, i, &p->cookie);
        if (!st)
            continue;
        p->sampled++;
        for (fz_stext_block *b = st->first_block; b; b = b->next) {
            if (b->type != FZ_STEXT_BLOCK_TEXT)
                continue;
            uint64_t h = in_margin(st, b) ? block_hash(b) : 0;
            int k = 0;
            while (h && k < p->n_margin && p->margin_hash[k] != h)
                k++;
            if (h && k < p->n_margin)
                p->margin_pages[k]++; /* (a page with the same block twice counts twice) */
            else if (h && p->n_margin < 64) {
                p->margin_hash[p->n_margin] = h;
                p->margin_pages[p->n_margin++] = 1;
            }
            if (in_margin(st, b))
                continue; /* headers and footers say nothing about the body size */
            for (fz_stext_line *l = b->u.t.first_line; l; l = l->next) {
                line_info li = line_scan(p->ctx, l);
                p->hist[li.size] += (uint32_t)li.chars;
                if (li.chars && li.chars <= 200)
                    big[li.size]++;
            }
        }
        fz_drop_stext_page(p->ctx, st);
    }
    int body = 0;
    for (int b = 1; b < NBUCKET; b++)
        if (p->hist[b] > p->hist[body])
            body = b;
    p->body = body ? body : 24;
    for (int b = NBUCKET - 1; b >= 0 && p->n_sizes < 8; b--)
        if (big[b] && b * 100 >= p->body * 115)
            p->sizes[p->n_sizes++] = b;
}

/* Heading level of a line (0 = body text). */
static int line_level(const pdf_ctx *p, const line_info *li, int block_bold_short)
{
    if (!li->letter)
        return 0;
    if (li->size * 100 >= p->body * 115 && li->chars <= 200) {
        int lv = 1;
        for (int k = 0; k < p->n_sizes; k++)
            if (p->sizes[k] > li->size)
                lv++;
        return lv > 5 ? 5 : lv;
    }
    if (block_bold_short && li->bold && li->size * 100 >= p->body * 95) {
        int lv = (p->n_sizes < 4 ? p->n_sizes : 4) + 1;
        return lv > 6 ? 6 : lv;
    }
    return 0;
}

static int put_char(rh_buf *b, int c)
{
    if (c < 0x20 || (c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF || c == 0xFFFD)
        return RH_OK;
    char u[4];
    int l = rh_utf8_encode((uint32_t)c, u);
    return rh_buf_append(b, u, (size_t)l);
}

static int is_lower(int c)
{
    return (c >= 'a' && c <= 'z') || c == 0xDF || (c >= 0xE0 && c <= 0xFF && c != 0xF7);
}

static int flush(pdf_ctx *p, rh_buf *b, int level, int page)
{
    int rc = RH_OK;
    if (b->len)
        rc = rh_kdoc_add(p->doc, level ? RH_KBLOCK_HEADING : RH_KBLOCK_PARA, level, page,
                         b->data, b->len, p->err);
    rh_buf_reset(b);
    return rc;
}

/* Pass 2 for one page: blocks -> headings/paragraphs. Returns the number
 * of visible characters through *chars and whether it has images. */
static int emit_page(pdf_ctx *p, fz_stext_page *st, int page, int *chars, int *images)
{
    *chars = 0;
    *images = 0;
    /* a text layer without usable characters (fonts without a Unicode
     * mapping give U+FFFD or private-use code points): read it by OCR */
    long good = 0, bad = 0;
    for (fz_stext_block *bl = st->first_block; bl; bl = bl->next) {
        if (bl->type != FZ_STEXT_BLOCK_TEXT)
            continue;
        for (fz_stext_line *l = bl->u.t.first_line; l; l = l->next)
            for (fz_stext_char *ch = l->first_char; ch; ch = ch->next) {
                if (ch->c == 0xFFFD || (ch->c >= 0xE000 && ch->c <= 0xF8FF) ||
                    (ch->c > 0 && ch->c < 0x20))
                    bad++;
                else if (ch->c > ' ')
                    good++;
            }
    }
    if (bad >= MIN_TEXT_CHARS && bad > good) {
        *images = 1; /* render it */
        return RH_OK;
    }
    rh_buf b;
    rh_buf_init(&b, (size_t)4 << 20);
    int rc = RH_OK;
    for (fz_stext_block *bl = st->first_block; bl && !rc; bl = bl->next) {
        if (bl->type == FZ_STEXT_BLOCK_IMAGE) {
            (*images)++;
            continue;
        }
        if (bl->type != FZ_STEXT_BLOCK_TEXT)
            continue;
        /* a short block entirely in bold may be a heading */
        int nlines = 0, bold = 1, nchars = 0, letters = 0;
        for (fz_stext_line *l = bl->u.t.first_line; l; l = l->next) {
            line_info li = line_scan(p->ctx, l);
            if (!li.chars)
                continue;
            nlines++;
            nchars += li.chars;
            bold &= li.bold;
            letters |= li.letter;
        }
        *chars += nchars;
        /* a page number ("3", "- 3 -") or a running header/footer */
        if ((!letters && nchars <= 8 && in_margin(st, bl)) || is_running(p, st, bl))
            continue;
        int bold_short = bold && nlines <= 2 && nchars <= 120;
        int cur = -1; /* level of the text in b */
        int last = 0;
        for (fz_stext_line *l = bl->u.t.first_line; l && !rc; l = l->next) {
            line_info li = line_scan(p->ctx, l);
            if (!li.chars)
                continue;
            int lv = line_level(p, &li, bold_short);
            if (cur >= 0 && lv != cur) {
                rc = flush(p, &b, cur, page);
                last = 0;
            }
            cur = lv;
            const fz_stext_char *first = l->first_char;
            while (first && first->c == ' ')
                first = first->next;
            if (b.len) {
                /* de-hyphenate "Bau-" + "genehmigung" */
                if (last == '-' && b.len >= 2 && first && is_lower(first->c) &&
                    b.data[b.len - 2] != ' ')
                    b.len--;
                else if (!rc)
                    rc = rh_buf_append(&b, " ", 1);
            }
            for (const fz_stext_char *ch = first; ch && !rc; ch = ch->next) {
                rc = put_char(&b, ch->c);
                last = ch->c;
            }
            while (b.len && b.data[b.len - 1] == ' ')
                b.len--, last = b.len ? (unsigned char)b.data[b.len - 1] : 0;
        }
        if (rc == RH_ELIMIT)
            rc = rh_error_set(p->err, rc, "Ein Absatz der PDF-Datei ist zu lang.");
        else if (rc == RH_ENOMEM)
            rc = rh_error_set(p->err, rc, "Zu wenig Speicher beim Lesen der PDF-Datei.");
        if (!rc && cur >= 0)
            rc = flush(p, &b, cur, page);
    }
    rh_buf_free(&b);
    return rc;
}

/* Render page i as a gray pixmap at about OCR_DPI (less for huge pages). */
static fz_pixmap *render_page(fz_context *ctx, fz_document *d, int i, int *dpi,
                              fz_cookie *cookie)
{
    fz_page *page = NULL;
    fz_pixmap *pix = NULL;
    fz_device *dev = NULL;
    fz_var(page);
    fz_var(pix);
    fz_var(dev);
    fz_try(ctx)
    {
        page = fz_load_page(ctx, d, i);
        fz_rect r = fz_bound_page(ctx, page);
        double w = (double)(r.x1 - r.x0), h = (double)(r.y1 - r.y0);
        double scale = OCR_DPI / 72.0;
        if (w <= 0 || h <= 0)
            fz_throw(ctx, FZ_ERROR_GENERIC, "empty page");
        double px = w * h * scale * scale;
        if (px > (double)RH_OCR_MAX_PIXELS)
            scale *= 0.95 * __builtin_sqrt((double)RH_OCR_MAX_PIXELS / px);
        *dpi = (int)(scale * 72.0 + 0.5);
        fz_matrix ctm = fz_scale((float)scale, (float)scale);
        fz_irect box = fz_round_rect(fz_transform_rect(r, ctm));
        pix = fz_new_pixmap_with_bbox(ctx, fz_device_gray(ctx), box, NULL, 0);
        fz_clear_pixmap_with_value(ctx, pix, 0xFF);
        dev = fz_new_draw_device(ctx, ctm, pix);
        fz_run_page(ctx, page, dev, fz_identity, cookie);
        fz_close_device(ctx, dev);
    }
    fz_always(ctx)
    {
        fz_drop_device(ctx, dev);
        fz_drop_page(ctx, page);
    }
    fz_catch(ctx)
    {
        fz_drop_pixmap(ctx, pix);
        pix = NULL;
    }
    return pix;
}

static int ocr_page(pdf_ctx *p, int i)
{
    if (!rh_ocr_available()) {
        p->ocr_missing = 1;
        return RH_OK;
    }
    int dpi = OCR_DPI;
    fz_pixmap *pix = render_page(p->ctx, p->d, i, &dpi, &p->cookie);
    if (!pix)
        return RH_OK; /* page cannot be rendered: skip it */
    rh_error e;
    rh_error_clear(&e);
    int rc = rh_ocr_pixmap(p->ctx, pix, dpi, i + 1, p->doc, &e);
    fz_drop_pixmap(p->ctx, pix);
    p->ocr_pages++;
    if (rc == RH_ELIMIT || rc == RH_ENOMEM)
        return rh_error_set(p->err, rc, "%s", e.msg);
    return RH_OK; /* an unreadable page image is skipped */
}

static fz_document *open_pdf(fz_context *ctx, const char *data, size_t len, int *n_pages,
                             int *locked, char *title, int title_size)
{
    fz_stream *stm = NULL;
    fz_document *d = NULL;
    fz_var(stm);
    fz_var(d);
    *n_pages = 0;
    *locked = 0;
    title[0] = '\0';
    fz_try(ctx)
    {
        stm = fz_open_memory(ctx, (const unsigned char *)data, len);
        d = (fz_document *)pdf_open_document_with_stream(ctx, stm);
        if (fz_needs_password(ctx, d) && !fz_authenticate_password(ctx, d, "")) {
            *locked = 1;
        } else {
            *n_pages = fz_count_pages(ctx, d);
            if (fz_lookup_metadata(ctx, d, FZ_META_INFO_TITLE, title, title_size) < 0)
                title[0] = '\0';
        }
    }
    fz_always(ctx)
    {
        fz_drop_stream(ctx, stm);
    }
    fz_catch(ctx)
    {
        fz_drop_document(ctx, d);
        d = NULL;
    }
    return d;
}

int rh_extract_pdf(const char *data, size_t len, rh_kdoc *doc, rh_error *err)
{
    if (len < 8 || !memmem(data, len < 1024 ? len : 1024, "%PDF", 4))
        return rh_error_set(err, RH_EFORMAT, "Die Datei ist kein PDF-Dokument.");
    fz_context *ctx = rh_mupdf_new();
    if (!ctx)
        return rh_error_set(err, RH_ENOMEM, "Zu wenig Speicher für die PDF-Datei.");
    int rc = RH_OK, n_pages = 0, locked = 0;
    char title[512];
    watchdog wd;
    memset(&wd, 0, sizeof wd);
    pdf_ctx p;
    memset(&p, 0, sizeof p);
    p.ctx = ctx;
    p.doc = doc;
    p.err = err;
    p.d = open_pdf(ctx, data, len, &n_pages, &locked, title, (int)sizeof title);
    if (!p.d) {
        rc = rh_error_set(err, RH_EFORMAT,
                          "Die PDF-Datei ist beschädigt und kann nicht gelesen werden.");
        goto out;
    }
    if (locked) {
        rc = rh_error_set(err, RH_EUNSUPPORTED,
                          "Die PDF-Datei ist mit einem Passwort geschützt; bitte ohne "
                          "Passwortschutz hochladen.");
        goto out;
    }
    if (title[0] && !doc->title)
        (void)rh_kdoc_set(&doc->title, title, strlen(title));
    if (n_pages > MAX_PAGES)
        n_pages = MAX_PAGES;
    watch_start(&wd, doc->deadline, &p.cookie);
    sample_sizes(&p, n_pages);
    int bad = 0, good = 0;
    for (int i = 0; i < n_pages && !rc; i++) {
        if ((rc = rh_kdoc_check_time(doc, err)))
            break;
        fz_stext_page *st = page_text(ctx, p.d, i, &p.cookie);
        if (!st) {
            if (++bad > MAX_BAD_PAGES)
                break;
            continue;
        }
        bad = 0;
        good++;
        int chars = 0, images = 0;
        rc = emit_page(&p, st, i + 1, &chars, &images);
        fz_drop_stext_page(ctx, st);
        if (!rc && chars < MIN_TEXT_CHARS && images)
            rc = ocr_page(&p, i);
    }
    if (!rc && !good && n_pages > 0)
        rc = rh_error_set(err, RH_EFORMAT,
                          "Die PDF-Datei ist beschädigt: keine Seite kann gelesen werden.");
    else if (!rc && !doc->n && p.ocr_missing)
        rc = rh_error_set(err, RH_EUNSUPPORTED,
                          "Die PDF-Datei enthält nur gescannte Seiten, und die Texterkennung "
                          "(Tesseract, Paket tesseract-ocr-deu) ist nicht installiert.");
out:
    watch_stop(&wd);
    if (p.d)
        fz_drop_document(ctx, p.d);
    rh_mupdf_drop(ctx);
    return rc;
}
