/*
 * mkpdf.c - makes PDF input for scripts/bench_knowledge.sh with MuPDF's
 * document writer:
 *
 *   mkpdf OUT.pdf FILE...          text pages: the lines of the UTF-8 text
 *                                  FILEs set in Helvetica 10 pt on A4 (lines
 *                                  starting with '#' as bold headings),
 *                                  wrapped at word boundaries
 *   mkpdf --scan OUT.pdf FILE      one image-only page (a "scan"): the first
 *                                  lines of FILE in 12 pt drawn into a
 *                                  200 dpi gray pixmap, placed as an image,
 *                                  no text layer - the extractor must OCR it
 *
 * Prints "pages N" (the number of pages written). Exits non-zero on error.
 * A bench tool, not part of the library: it links only MuPDF and allocates
 * nothing itself (MuPDF's own allocator, fixed buffers for lines).
 */
#include <mupdf/fitz.h>
#include <stdio.h>
#include <string.h>

#define PAGE_W 595.0f
#define PAGE_H 842.0f
#define MARGIN 50.0f
#define WRAP_CHARS 92   /* code points per line at 10 pt Helvetica */
#define SCAN_DPI 200.0f
#define SCAN_LINES 30

typedef struct page_state {
    fz_document_writer *wri;
    fz_device *dev;          /* open page, or NULL */
    fz_text *text;           /* text of the open page */
    fz_font *regular, *bold;
    float y;                 /* baseline of the next line */
    int pages;
} page_state;

/* Ends the open page (if any): fills its text and closes it. */
static void page_end(fz_context *ctx, page_state *p)
{
    if (!p->dev)
        return;
    const float black = 0;
    fz_fill_text(ctx, p->dev, p->text, fz_identity, fz_device_gray(ctx), &black, 1,
                 fz_default_color_params);
    fz_drop_text(ctx, p->text);
    p->text = NULL;
    p->dev = NULL;
    fz_end_page(ctx, p->wri);
    p->pages++;
}

/* Sets one line at the current position (new page when full). */
static void put_line(fz_context *ctx, page_state *p, const char *s, int heading)
{
    float size = heading ? 13.0f : 10.0f, lead = heading ? 20.0f : 12.5f;
    if (p->dev && p->y - lead < MARGIN)
        page_end(ctx, p);
    if (!p->dev) {
        p->dev = fz_begin_page(ctx, p->wri, fz_make_rect(0, 0, PAGE_W, PAGE_H));
        p->text = fz_new_text(ctx);
        p->y = PAGE_H - MARGIN;
    }
    p->y -= lead;
    /* text space: y grows downwards on MuPDF's device, so flip the font */
    fz_matrix trm = fz_make_matrix(size, 0, 0, -size, MARGIN, PAGE_H - p->y);
    fz_show_string(ctx, p->text, heading ? p->bold : p->regular, trm, s, 0, 0,
                   FZ_BIDI_LTR, FZ_LANG_UNSET);
}

/* Number of bytes of the first `n` UTF-8 code points of s (or all of s). */
static size_t utf8_prefix(const char *s, int n)
{
    size_t i = 0;
    while (s[i] && n > 0) {
        i++;
        while ((s[i] & 0xC0) == 0x80)
            i++;
        n--;
    }
    return i;
}

/* Sets a text line, wrapped at word boundaries. */
static void put_wrapped(fz_context *ctx, page_state *p, char *s, int heading)
{
    char part[WRAP_CHARS * 4 + 1];
    while (*s) {
        size_t n = utf8_prefix(s, WRAP_CHARS);
        if (s[n]) {
            size_t cut = n;
            while (cut > 0 && s[cut] != ' ')
                cut--;
            if (cut > 0)
                n = cut;
        }
        memcpy(part, s, n);
        part[n] = '\0';
        put_line(ctx, p, part, heading);
        s += n;
        while (*s == ' ')
            s++;
    }
}

static int write_text_pdf(fz_context *ctx, const char *out, char **files, int nfiles)
{
    static char line[1 << 16];
    page_state p = {0};
    int ok = 1;
    fz_var(p);
    fz_var(ok);
    fz_try(ctx)
    {
        p.wri = fz_new_document_writer(ctx, out, "pdf", "compress");
        p.regular = fz_new_base14_font(ctx, "Helvetica");
        p.bold = fz_new_base14_font(ctx, "Helvetica-Bold");
        for (int f = 0; f < nfiles; f++) {
            FILE *fp = fopen(files[f], "rb");
            if (!fp)
                fz_throw(ctx, FZ_ERROR_GENERIC, "cannot open %s", files[f]);
            while (fgets(line, sizeof line, fp)) {
                line[strcspn(line, "\r\n")] = '\0';
                char *s = line;
                int heading = 0;
                while (*s == '#') {
                    s++;
                    heading = 1;
                }
                while (*s == ' ')
                    s++;
                if (*s)
                    put_wrapped(ctx, &p, s, heading);
                else if (p.dev)
                    p.y -= 6; /* paragraph gap */
            }
            fclose(fp);
        }
        page_end(ctx, &p);
        fz_close_document_writer(ctx, p.wri);
    }
    fz_always(ctx)
    {
        fz_drop_text(ctx, p.text);
        fz_drop_font(ctx, p.regular);
        fz_drop_font(ctx, p.bold);
        fz_drop_document_writer(ctx, p.wri);
    }
    fz_catch(ctx)
    {
        fprintf(stderr, "mkpdf: %s\n", fz_caught_message(ctx));
        ok = 0;
    }
    if (ok)
        printf("pages %d\n", p.pages);
    return ok;
}

static int write_scan_pdf(fz_context *ctx, const char *out, const char *file)
{
    static char line[1 << 16];
    fz_document_writer *wri = NULL;
    fz_font *font = NULL;
    fz_text *text = NULL;
    fz_pixmap *pix = NULL;
    fz_device *draw = NULL;
    fz_image *img = NULL;
    FILE *fp = NULL;
    int ok = 1;
    fz_var(wri);
    fz_var(font);
    fz_var(text);
    fz_var(pix);
    fz_var(draw);
    fz_var(img);
    fz_var(fp);
    fz_var(ok);
    fz_try(ctx)
    {
        font = fz_new_base14_font(ctx, "Helvetica");
        text = fz_new_text(ctx);
        fp = fopen(file, "rb");
        if (!fp)
            fz_throw(ctx, FZ_ERROR_GENERIC, "cannot open %s", file);
        float y = MARGIN + 20;
        int n = 0;
        while (n < SCAN_LINES && fgets(line, sizeof line, fp)) {
            line[strcspn(line, "\r\n")] = '\0';
            char *s = line;
            while (*s == '#' || *s == ' ')
                s++;
            if (!*s || strncmp(s, "---", 3) == 0)
                continue;
            s[utf8_prefix(s, 70)] = '\0'; /* 12 pt: about 70 characters fit */
            fz_show_string(ctx, text, font, fz_make_matrix(12, 0, 0, -12, MARGIN, y), s, 0, 0,
                           FZ_BIDI_LTR, FZ_LANG_UNSET);
            y += 22;
            n++;
        }
        float sc = SCAN_DPI / 72.0f;
        pix = fz_new_pixmap(ctx, fz_device_gray(ctx), (int)(PAGE_W * sc), (int)(PAGE_H * sc),
                            NULL, 0);
        fz_clear_pixmap_with_value(ctx, pix, 255);
        draw = fz_new_draw_device(ctx, fz_scale(sc, sc), pix);
        const float black = 0;
        fz_fill_text(ctx, draw, text, fz_identity, fz_device_gray(ctx), &black, 1,
                     fz_default_color_params);
        fz_close_device(ctx, draw);
        img = fz_new_image_from_pixmap(ctx, pix, NULL);
        wri = fz_new_document_writer(ctx, out, "pdf", "compress");
        fz_device *dev = fz_begin_page(ctx, wri, fz_make_rect(0, 0, PAGE_W, PAGE_H));
        fz_fill_image(ctx, dev, img, fz_scale(PAGE_W, PAGE_H), 1, fz_default_color_params);
        fz_end_page(ctx, wri);
        fz_close_document_writer(ctx, wri);
    }
    fz_always(ctx)
    {
        if (fp)
            fclose(fp);
        fz_drop_image(ctx, img);
        fz_drop_device(ctx, draw);
        fz_drop_pixmap(ctx, pix);
        fz_drop_text(ctx, text);
        fz_drop_font(ctx, font);
        fz_drop_document_writer(ctx, wri);
    }
    fz_catch(ctx)
    {
        fprintf(stderr, "mkpdf: %s\n", fz_caught_message(ctx));
        ok = 0;
    }
    if (ok)
        printf("pages 1\n");
    return ok;
}

int main(int argc, char **argv)
{
    int scan = argc > 1 && strcmp(argv[1], "--scan") == 0;
    if (argc < 3 + scan) {
        fprintf(stderr, "usage: mkpdf OUT.pdf FILE...\n       mkpdf --scan OUT.pdf FILE\n");
        return 2;
    }
    fz_context *ctx = fz_new_context(NULL, NULL, FZ_STORE_DEFAULT);
    if (!ctx) {
        fprintf(stderr, "mkpdf: cannot create the MuPDF context\n");
        return 1;
    }
    int ok = scan ? write_scan_pdf(ctx, argv[2], argv[3])
                  : write_text_pdf(ctx, argv[1], argv + 2, argc - 2);
    fz_drop_context(ctx);
    return ok ? 0 : 1;
}
