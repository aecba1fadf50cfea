/*
 * extract_text.c - extractors for text formats: plain text (paragraphs,
 * form feeds as page breaks), Markdown (front matter with title/jurabk, ATX
 * and setext headings, paragraphs) and HTML (libxml2 HTML parser, no
 * network, no DTD or external entity loading; h1-h6 headings, block
 * elements as paragraphs, <title>).
 */
#include "knowledge/extract.h"

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "engine/unicode.h"
#include "knowledge/zipread.h"

/* ---- decoding ---- */

/* CP1252 code points for 0x80..0x9F. */
static const uint16_t cp1252[32] = {
    0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD, 0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178,
};

int rh_extract_decode_text(const char *data, size_t len, char **out, size_t *out_len,
                           rh_error *err)
{
    const unsigned char *s = (const unsigned char *)data;
    *out = NULL;
    *out_len = 0;
    if (len >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF) {
        s += 3;
        len -= 3;
    }
    size_t ctrl = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == 0)
            return rh_error_set(err, RH_EFORMAT, "not a text file (it contains NUL bytes)");
        if (s[i] < 0x20 && s[i] != '\n' && s[i] != '\r' && s[i] != '\t' && s[i] != '\f')
            ctrl++;
    }
    if (ctrl > 8 && ctrl * 100 > len)
        return rh_error_set(err, RH_EFORMAT, "not a text file (too many control characters)");
    if (rh_utf8_valid(s, len)) {
        char *t = rh_malloc(len + 1);
        if (!t)
            return rh_error_set(err, RH_ENOMEM, "out of memory");
        memcpy(t, s, len);
        t[len] = '\0';
        *out = t;
        *out_len = len;
        return RH_OK;
    }
    /* Latin-1 / CP1252 */
    char *t = rh_malloc_array(len + 1, 3);
    if (!t)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        uint32_t cp = s[i];
        if (cp >= 0x80 && cp < 0xA0)
            cp = cp1252[cp - 0x80];
        char b[4];
        int l = rh_utf8_encode(cp, b);
        memcpy(t + k, b, (size_t)l);
        k += (size_t)l;
    }
    t[k] = '\0';
    *out = t;
    *out_len = k;
    return RH_OK;
}

/* ---- plain text ---- */

/* Paragraphs split at blank lines; '\f' starts a new page. */
static int text_paragraphs(const char *t, size_t n, int paged, rh_kdoc *doc, rh_error *err)
{
    int page = paged ? 1 : 0;
    size_t i = 0, para = 0;
    int rc = RH_OK;
    while (i <= n) {
        size_t e = i;
        while (e < n && t[e] != '\n' && t[e] != '\f')
            e++;
        int blank = 1;
        for (size_t j = i; j < e; j++)
            if (!(t[j] == ' ' || t[j] == '\t' || t[j] == '\r'))
                blank = 0;
        int ff = e < n && t[e] == '\f';
        if (blank || ff || e >= n) {
            size_t pe = blank ? i : e;
            if ((rc = rh_kdoc_add(doc, RH_KBLOCK_PARA, 0, page, t + para, pe - para, err)))
                return rc;
            para = e + 1;
            if (ff)
                page++;
        }
        if (e >= n)
            break;
        i = e + 1;
    }
    return RH_OK;
}

int rh_extract_txt(const char *data, size_t len, rh_kdoc *doc, rh_error *err)
{
    char *t = NULL;
    size_t n = 0;
    int rc = rh_extract_decode_text(data, len, &t, &n, err);
    if (rc)
        return rc;
    rc = text_paragraphs(t, n, memchr(t, '\f', n) != NULL, doc, err);
    rh_free(t);
    return rc;
}

/* ---- Markdown ---- */

static size_t line_end(const char *t, size_t n, size_t i)
{
    const char *p = memchr(t + i, '\n', n - i);
    return p ? (size_t)(p - t) : n;
}

static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t' || **s == '\r'))
        (*s)++, (*n)--;
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r'))
        (*n)--;
}

/* Front matter "---\nkey: value\n---": Title/title and jurabk. Returns the
 * offset after it (0 if none). */
static size_t front_matter(const char *t, size_t n, rh_kdoc *doc)
{
    if (n < 4 || strncmp(t, "---", 3) != 0 || (t[3] != '\n' && t[3] != '\r'))
        return 0;
    size_t i = line_end(t, n, 0) + 1;
    while (i < n) {
        size_t e = line_end(t, n, i);
        const char *l = t + i;
        size_t ln = e - i;
        trim(&l, &ln);
        if (ln >= 3 && strncmp(l, "---", 3) == 0 && ln == 3)
            return e < n ? e + 1 : n;
        const char *colon = memchr(l, ':', ln);
        if (colon) {
            size_t kl = (size_t)(colon - l);
            const char *v = colon + 1;
            size_t vl = ln - kl - 1;
            trim(&v, &vl);
            if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0])
                v++, vl -= 2;
            if (kl == 5 && strncasecmp(l, "title", 5) == 0 && vl)
                (void)rh_kdoc_set(&doc->title, v, vl);
            else if (((kl == 6 && strncasecmp(l, "jurabk", 6) == 0) ||
                      (kl == 6 && strncasecmp(l, "abbrev", 6) == 0)) &&
                     vl)
                (void)rh_kdoc_set(&doc->abbrev, v, vl);
        }
        if (e >= n)
            break;
        i = e + 1;
    }
    return 0; /* unterminated: not front matter */
}

/* Remove simple inline markup (emphasis markers, code ticks, link targets). */
static size_t md_inline(const char *s, size_t n, char *o)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '*' || c == '`' || (c == '_' && i + 1 < n && s[i + 1] == '_')) {
            if (c == '_')
                i++;
            continue;
        }
        if (c == ']' && i + 1 < n && s[i + 1] == '(') {
            const char *close = memchr(s + i, ')', n - i);
            if (close) {
                i = (size_t)(close - s);
                continue;
            }
        }
        if (c == '[' || (c == '!' && i + 1 < n && s[i + 1] == '['))
            continue;
        o[k++] = c;
    }
    return k;
}

static int md_flush(rh_buf *para, rh_kdoc *doc, int page, rh_error *err)
{
    if (!para->len)
        return RH_OK;
    char *t = rh_malloc(para->len + 1);
    if (!t)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    size_t k = md_inline(para->data, para->len, t);
    int rc = rh_kdoc_add(doc, RH_KBLOCK_PARA, 0, page, t, k, err);
    rh_free(t);
    rh_buf_reset(para);
    return rc;
}

int rh_extract_md(const char *data, size_t len, rh_kdoc *doc, rh_error *err)
{
    char *t = NULL;
    size_t n = 0;
    int rc = rh_extract_decode_text(data, len, &t, &n, err);
    if (rc)
        return rc;
    rh_buf para;
    rh_buf_init(&para, n + 16);
    int page = 0, para_lines = 0, fence = 0;
    size_t i = front_matter(t, n, doc);
    while (i < n) {
        size_t e = line_end(t, n, i);
        const char *l = t + i;
        size_t ln = e - i;
        const char *tl = l;
        size_t tln = ln;
        trim(&tl, &tln);
        if ((rc = rh_kdoc_check_time(doc, err)))
            goto out;
        if (tln >= 3 && (strncmp(tl, "```", 3) == 0 || strncmp(tl, "~~~", 3) == 0)) {
            fence = !fence;
        } else if (fence) {
            if ((rc = rh_buf_append(&para, l, ln)) || (rc = rh_buf_appends(&para, "\n")))
                goto out;
        } else if (tln == 0) {
            if ((rc = md_flush(&para, doc, page, err)))
                goto out;
            para_lines = 0;
        } else if (tl[0] == '#' && (size_t)(tl - l) < 4) {
            size_t lv = 0;
            while (lv < tln && tl[lv] == '#')
                lv++;
            if (lv <= 6 && (lv == tln || tl[lv] == ' ' || tl[lv] == '\t')) {
                if ((rc = md_flush(&para, doc, page, err)))
                    goto out;
                para_lines = 0;
                const char *h = tl + lv;
                size_t hn = tln - lv;
                trim(&h, &hn);
                while (hn && h[hn - 1] == '#')
                    hn--;
                char *ht = rh_malloc(hn + 1);
                if (!ht) {
                    rc = rh_error_set(err, RH_ENOMEM, "out of memory");
                    goto out;
                }
                size_t k = md_inline(h, hn, ht);
                rc = rh_kdoc_add(doc, RH_KBLOCK_HEADING, (int)lv, page, ht, k, err);
                rh_free(ht);
                if (rc)
                    goto out;
            } else {
                goto text_line;
            }
        } else if (para_lines == 1 && tln >= 2 &&
                   (strspn(tl, "=") == tln || strspn(tl, "-") == tln)) {
            /* setext heading: the paragraph so far is its text */
            int lv = tl[0] == '=' ? 1 : 2;
            rc = rh_kdoc_add(doc, RH_KBLOCK_HEADING, lv, page, para.data, para.len, err);
            rh_buf_reset(&para);
            para_lines = 0;
            if (rc)
                goto out;
        } else {
        text_line:
            if (tl[0] == '>' || ((tl[0] == '-' || tl[0] == '+') && tln > 1 && tl[1] == ' ')) {
                tl++, tln--;
            }
            if ((rc = rh_buf_append(&para, tl, tln)) || (rc = rh_buf_appends(&para, "\n"))) {
                rc = rh_error_set(err, rc, "markdown paragraph too long");
                goto out;
            }
            para_lines++;
        }
        if (e < n && memchr(l, '\f', ln))
            page++;
        i = e + 1;
    }
    rc = md_flush(&para, doc, page, err);
out:
    rh_buf_free(&para);
    rh_free(t);
    return rc;
}

/* ---- HTML ---- */

typedef struct html_ctx {
    rh_kdoc *doc;
    rh_buf text;
    int rc;
    rh_error *err;
    int depth;
} html_ctx;

static int name_is(const xmlNode *n, const char *const *names)
{
    for (; *names; names++)
        if (strcasecmp((const char *)n->name, *names) == 0)
            return 1;
    return 0;
}

static void html_flush(html_ctx *c)
{
    if (c->rc || !c->text.len)
        return;
    c->rc = rh_kdoc_add(c->doc, RH_KBLOCK_PARA, 0, 0, c->text.data, c->text.len, c->err);
    rh_buf_reset(&c->text);
}

static void html_text_of(const xmlNode *n, rh_buf *b, int depth)
{
    if (depth > 200)
        return;
    for (; n; n = n->next) {
        if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            if (n->content)
                (void)rh_buf_appends(b, (const char *)n->content);
        } else if (n->type == XML_ELEMENT_NODE) {
            static const char *const skip[] = {"script", "style", "noscript", "template",
                                               "svg", NULL};
            if (name_is(n, skip))
                continue;
            if (strcasecmp((const char *)n->name, "br") == 0)
                (void)rh_buf_appends(b, " ");
            html_text_of(n->children, b, depth + 1);
            (void)rh_buf_appends(b, "");
        }
    }
}

static void html_walk(html_ctx *c, const xmlNode *n, int depth)
{
    static const char *const skip[] = {"script", "style", "noscript", "template", "svg",
                                       "head", "iframe", "object", NULL};
    static const char *const blocks[] = {
        "p", "div", "li", "ul", "ol", "td", "th", "tr", "table", "dd", "dt", "dl", "pre",
        "blockquote", "section", "article", "header", "footer", "nav", "aside", "main",
        "caption", "figcaption", "figure", "form", "address", "hr", "body", "details",
        "summary", NULL};
    if (depth > 200) {
        c->rc = rh_error_set(c->err, RH_ELIMIT, "HTML nested too deeply");
        return;
    }
    for (; n && !c->rc; n = n->next) {
        if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            if (n->content && rh_buf_appends(&c->text, (const char *)n->content))
                c->rc = rh_error_set(c->err, RH_ELIMIT, "the HTML text is too long");
            continue;
        }
        if (n->type != XML_ELEMENT_NODE)
            continue;
        const char *nm = (const char *)n->name;
        if (strcasecmp(nm, "title") == 0 && !c->doc->title) {
            rh_buf b;
            rh_buf_init(&b, 4096);
            html_text_of(n->children, &b, 0);
            if (b.len)
                (void)rh_kdoc_set(&c->doc->title, b.data, b.len);
            rh_buf_free(&b);
            continue;
        }
        if (name_is(n, skip)) {
            /* <head> may hold the <title> */
            if (strcasecmp(nm, "head") == 0)
                html_walk(c, n->children, depth + 1);
            continue;
        }
        if ((nm[0] == 'h' || nm[0] == 'H') && nm[1] >= '1' && nm[1] <= '6' && !nm[2]) {
            html_flush(c);
            rh_buf b;
            rh_buf_init(&b, 64 * 1024);
            html_text_of(n->children, &b, 0);
            if (!c->rc && b.len)
                c->rc = rh_kdoc_add(c->doc, RH_KBLOCK_HEADING, nm[1] - '0', 0, b.data, b.len,
                                    c->err);
            rh_buf_free(&b);
            continue;
        }
        if (strcasecmp(nm, "br") == 0) {
            (void)rh_buf_appends(&c->text, " ");
            continue;
        }
        int block = name_is(n, blocks);
        if (block)
            html_flush(c);
        html_walk(c, n->children, depth + 1);
        if (block)
            html_flush(c);
    }
}

int rh_extract_html(const char *data, size_t len, rh_kdoc *doc, rh_error *err)
{
    rh_xml_init_safe();
    if (len > (size_t)INT32_MAX)
        return rh_error_set(err, RH_ELIMIT, "HTML file too large");
    for (size_t i = 0; i < len; i++)
        if (data[i] == 0)
            return rh_error_set(err, RH_EFORMAT, "not an HTML file (it contains NUL bytes)");
    htmlDocPtr d = htmlReadMemory(data, (int)len, NULL, NULL,
                                  HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                      HTML_PARSE_NONET | HTML_PARSE_NOIMPLIED);
    if (!d)
        return rh_error_set(err, RH_EFORMAT, "the HTML file could not be parsed");
    html_ctx c = {doc, {0}, RH_OK, err, 0};
    rh_buf_init(&c.text, len + 16);
    html_walk(&c, xmlDocGetRootElement(d) ? d->children : NULL, 0);
    html_flush(&c);
    rh_buf_free(&c.text);
    xmlFreeDoc(d);
    return c.rc;
}
