/*
 * extract_eml.c - e-mail (.eml, RFC 5322 + MIME) extractor.
 *
 * The Subject (RFC 2047 encoded words decoded) becomes the title, From/To/
 * Date a first paragraph. The MIME tree is walked with a depth and part
 * limit: multipart/alternative prefers text/plain over text/html; bodies
 * are decoded (quoted-printable, base64) and converted to UTF-8 (UTF-8,
 * ISO-8859-1/-15, Windows-1252 built in, other charsets through iconv).
 * Attachments in a supported format (by file name, else by MIME type) are
 * extracted by the other extractors - nested mails included, at most
 * MAX_NEST levels deep - each after a heading "Anhang: NAME".
 */
#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "engine/unicode.h"
#include "knowledge/extract.h"

#define MAX_DEPTH 16      /* MIME nesting inside one mail */
#define MAX_PARTS 1000    /* MIME parts in one mail */
#define MAX_ATTACH 64     /* attachments extracted from one mail */
#define MAX_NEST 3        /* mails attached to mails */
#define MAX_HDR 65536     /* one unfolded header */

static _Thread_local int nest_depth;

typedef struct eml_ctx {
    rh_kdoc *doc;
    rh_error *err;
    int parts, attachments;
} eml_ctx;

static int oom(rh_error *err)
{
    return rh_error_set(err, RH_ENOMEM, "Zu wenig Speicher beim Lesen der E-Mail.");
}

/* ---- charsets ---- */

static const uint16_t cp1252_hi[32] = {
    0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD, 0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178,
};

static int put_cp(rh_buf *o, uint32_t cp)
{
    char b[4];
    int l = rh_utf8_encode(cp, b);
    return rh_buf_append(o, b, (size_t)l);
}

/* Single-byte charsets: 0 = CP1252 (also for ISO-8859-1), 15 = ISO-8859-15. */
static int from_8bit(const unsigned char *s, size_t n, int which, rh_buf *o)
{
    int rc = RH_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        uint32_t cp = s[i];
        if (which == 15) {
            switch (cp) {
            case 0xA4: cp = 0x20AC; break;
            case 0xA6: cp = 0x0160; break;
            case 0xA8: cp = 0x0161; break;
            case 0xB4: cp = 0x017D; break;
            case 0xB8: cp = 0x017E; break;
            case 0xBC: cp = 0x0152; break;
            case 0xBD: cp = 0x0153; break;
            case 0xBE: cp = 0x0178; break;
            default: break;
            }
        } else if (cp >= 0x80 && cp < 0xA0) {
            cp = cp1252_hi[cp - 0x80];
        }
        rc = cp < 0x80 ? rh_buf_append(o, s + i, 1) : put_cp(o, cp);
    }
    return rc;
}

static int via_iconv(const char *s, size_t n, const char *cs, rh_buf *o)
{
    iconv_t cd = iconv_open("UTF-8", cs);
    if (cd == (iconv_t)-1)
        return RH_EUNSUPPORTED;
    int rc = RH_OK;
    char tmp[4096];
    char *in = (char *)s;
    size_t left = n;
    while (left && !rc) {
        char *out = tmp;
        size_t room = sizeof tmp;
        size_t r = iconv(cd, &in, &left, &out, &room);
        rc = rh_buf_append(o, tmp, (size_t)(out - tmp));
        if (r == (size_t)-1 && errno != E2BIG && !rc) {
            /* invalid or incomplete sequence: replace one byte */
            rc = put_cp(o, 0xFFFD);
            in++;
            left--;
        }
    }
    iconv_close(cd);
    return rc;
}

/* Append bytes in charset `cs` (may be NULL) as UTF-8. */
static int to_utf8(const char *s, size_t n, const char *cs, rh_buf *o)
{
    const unsigned char *u = (const unsigned char *)s;
    if (!cs || !*cs || strcasecmp(cs, "utf-8") == 0 || strcasecmp(cs, "utf8") == 0 ||
        strcasecmp(cs, "us-ascii") == 0 || strcasecmp(cs, "ascii") == 0)
        return rh_utf8_valid(u, n) ? rh_buf_append(o, s, n) : from_8bit(u, n, 0, o);
    if (strcasecmp(cs, "iso-8859-15") == 0 || strcasecmp(cs, "latin9") == 0 ||
        strcasecmp(cs, "iso8859-15") == 0)
        return from_8bit(u, n, 15, o);
    if (strcasecmp(cs, "iso-8859-1") == 0 || strcasecmp(cs, "latin1") == 0 ||
        strcasecmp(cs, "windows-1252") == 0 || strcasecmp(cs, "cp1252") == 0 ||
        strcasecmp(cs, "iso8859-1") == 0)
        return from_8bit(u, n, 0, o);
    size_t mark = o->len;
    int rc = via_iconv(s, n, cs, o);
    if (rc == RH_EUNSUPPORTED) {
        o->len = mark;
        return rh_utf8_valid(u, n) ? rh_buf_append(o, s, n) : from_8bit(u, n, 0, o);
    }
    return rc;
}

/* ---- transfer encodings ---- */

static int hexv(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                        : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int qp_decode(const char *s, size_t n, int header, rh_buf *o)
{
    int rc = RH_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        char c = s[i];
        if (c == '=' && i + 2 < n + 0 && hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0) {
            char v = (char)(hexv(s[i + 1]) * 16 + hexv(s[i + 2]));
            rc = rh_buf_append(o, &v, 1);
            i += 2;
        } else if (c == '=' && !header) {
            /* soft line break "=\r\n" / "=\n" */
            size_t j = i + 1;
            while (j < n && (s[j] == ' ' || s[j] == '\t'))
                j++;
            if (j < n && s[j] == '\r')
                j++;
            if (j < n && s[j] == '\n')
                i = j;
            else
                rc = rh_buf_append(o, &c, 1);
        } else if (c == '_' && header) {
            rc = rh_buf_append(o, " ", 1);
        } else {
            rc = rh_buf_append(o, &c, 1);
        }
    }
    return rc;
}

static int b64v(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' : c >= 'a' && c <= 'z' ? c - 'a' + 26
           : c >= '0' && c <= '9' ? c - '0' + 52 : c == '+' ? 62 : c == '/' ? 63 : -1;
}

static int b64_decode(const char *s, size_t n, rh_buf *o)
{
    uint32_t acc = 0;
    int bits = 0, rc = RH_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        int v = b64v((unsigned char)s[i]);
        if (v < 0)
            continue; /* white space, '=' padding, junk */
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            char ch = (char)((acc >> bits) & 0xFF);
            rc = rh_buf_append(o, &ch, 1);
        }
    }
    return rc;
}

/* ---- headers ---- */

typedef struct part {
    const char *hdr;
    size_t hlen;
    const char *body;
    size_t blen;
} part;

static part split_part(const char *s, size_t n)
{
    part p = {s, 0, s, 0};
    size_t i = 0;
    /* an empty line ends the headers; a body-only part starts with it */
    while (i < n) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - s) : n;
        size_t l = e - i;
        if (l == 0 || (l == 1 && s[i] == '\r')) {
            p.hlen = i;
            p.body = s + (e < n ? e + 1 : n);
            p.blen = n - (size_t)(p.body - s);
            return p;
        }
        i = e + 1;
    }
    p.hlen = n;
    p.body = s + n;
    return p;
}

/* The unfolded value of header `name` (first occurrence), raw. */
static int hdr_get(const part *p, const char *name, rh_buf *o)
{
    size_t nl = strlen(name);
    const char *s = p->hdr;
    size_t n = p->hlen, i = 0;
    rh_buf_reset(o);
    while (i < n) {
        const char *e = memchr(s + i, '\n', n - i);
        size_t le = e ? (size_t)(e - s) : n;
        if (le - i > nl && strncasecmp(s + i, name, nl) == 0 && s[i + nl] == ':') {
            size_t a = i + nl + 1;
            for (;;) {
                int rc = rh_buf_append(o, s + a, le - a);
                if (rc)
                    return rc;
                if (le >= n || le + 1 >= n || (s[le + 1] != ' ' && s[le + 1] != '\t'))
                    break;
                a = le + 1;
                e = memchr(s + a, '\n', n - a);
                le = e ? (size_t)(e - s) : n;
            }
            /* trim CRs and blanks */
            size_t k = 0;
            for (size_t j = 0; j < o->len; j++)
                if (o->data[j] != '\r')
                    o->data[k++] = o->data[j] == '\t' ? ' ' : o->data[j];
            o->len = k;
            while (o->len && o->data[o->len - 1] == ' ')
                o->len--;
            size_t lead = 0;
            while (lead < o->len && o->data[lead] == ' ')
                lead++;
            memmove(o->data, o->data + lead, o->len - lead);
            o->len -= lead;
            o->data[o->len] = '\0';
            return RH_OK;
        }
        i = le + 1;
    }
    return RH_ENOTFOUND;
}

/* Decode RFC 2047 encoded words in a header value into UTF-8. */
static int decode_words(const char *s, size_t n, rh_buf *o)
{
    int rc = RH_OK, last_word = 0;
    size_t i = 0;
    rh_buf raw;
    rh_buf_init(&raw, MAX_HDR);
    while (i < n && !rc) {
        if (s[i] == '=' && i + 1 < n && s[i + 1] == '?') {
            const char *cs = s + i + 2;
            const char *q1 = memchr(cs, '?', n - (size_t)(cs - s));
            if (q1 && q1 + 2 < s + n && q1[2] == '?') {
                char enc = q1[1];
                const char *tx = q1 + 3;
                const char *end = NULL;
                for (const char *p = tx; p + 1 < s + n; p++)
                    if (p[0] == '?' && p[1] == '=') {
                        end = p;
                        break;
                    }
                size_t csl = (size_t)(q1 - cs);
                if (end && csl < 64 && (enc == 'Q' || enc == 'q' || enc == 'B' || enc == 'b')) {
                    char charset[64];
                    memcpy(charset, cs, csl);
                    charset[csl] = '\0';
                    char *star = strchr(charset, '*'); /* RFC 2231 language */
                    if (star)
                        *star = '\0';
                    rh_buf_reset(&raw);
                    rc = enc == 'Q' || enc == 'q' ? qp_decode(tx, (size_t)(end - tx), 1, &raw)
                                                  : b64_decode(tx, (size_t)(end - tx), &raw);
                    if (!rc)
                        rc = to_utf8(raw.data ? raw.data : "", raw.len, charset, o);
                    i = (size_t)(end - s) + 2;
                    last_word = 1;
                    continue;
                }
            }
        }
        /* white space between two encoded words is dropped */
        if (last_word && (s[i] == ' ' || s[i] == '\t')) {
            size_t j = i;
            while (j < n && (s[j] == ' ' || s[j] == '\t'))
                j++;
            if (j + 1 < n && s[j] == '=' && s[j + 1] == '?') {
                i = j;
                continue;
            }
        }
        last_word = 0;
        size_t st = i;
        while (i < n && !(s[i] == '=' && i + 1 < n && s[i + 1] == '?') && s[i] != ' ')
            i++;
        if (i == st)
            i++;
        rc = to_utf8(s + st, i - st, NULL, o);
    }
    rh_buf_free(&raw);
    return rc;
}

/* Parameter `name` of a structured header value (Content-Type,
 * Content-Disposition), unquoted; RFC 2231 name*=charset''value decoded. */
static int param_get(const char *v, const char *name, rh_buf *o)
{
    size_t nl = strlen(name);
    rh_buf_reset(o);
    const char *p = strchr(v, ';');
    while (p) {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        int ext = 0;
        if (strncasecmp(p, name, nl) == 0 && (p[nl] == '=' || (p[nl] == '*' && p[nl + 1] == '='))) {
            ext = p[nl] == '*';
            p += nl + 1 + ext;
            while (*p == ' ')
                p++;
            if (*p == '"') {
                p++;
                const char *e = p;
                while (*e && *e != '"') {
                    if (*e == '\\' && e[1])
                        e++;
                    e++;
                }
                return rh_buf_append(o, p, (size_t)(e - p));
            }
            size_t l = strcspn(p, "; \t");
            if (!ext)
                return rh_buf_append(o, p, l);
            /* charset'lang'percent-encoded */
            const char *a1 = memchr(p, '\'', l);
            const char *a2 = a1 ? memchr(a1 + 1, '\'', l - (size_t)(a1 + 1 - p)) : NULL;
            char cs[64] = "";
            const char *val = p;
            if (a2) {
                size_t cl = (size_t)(a1 - p) < sizeof cs - 1 ? (size_t)(a1 - p) : sizeof cs - 1;
                memcpy(cs, p, cl);
                cs[cl] = '\0';
                val = a2 + 1;
            }
            rh_buf raw;
            rh_buf_init(&raw, MAX_HDR);
            int rc = RH_OK;
            for (const char *q = val; q < p + l && !rc; q++) {
                if (*q == '%' && q + 2 < p + l + 0 + 1 && hexv(q[1]) >= 0 && hexv(q[2]) >= 0) {
                    char ch = (char)(hexv(q[1]) * 16 + hexv(q[2]));
                    rc = rh_buf_append(&raw, &ch, 1);
                    q += 2;
                } else {
                    rc = rh_buf_append(&raw, q, 1);
                }
            }
            if (!rc)
                rc = to_utf8(raw.data ? raw.data : "", raw.len, cs, o);
            rh_buf_free(&raw);
            return rc;
        }
        p = strchr(p, ';');
    }
    return RH_ENOTFOUND;
}

/* ---- body output ---- */

/* Paragraphs of plain text split at blank lines. */
static int add_text(eml_ctx *c, const char *t, size_t n)
{
    size_t i = 0, para = 0;
    int rc = RH_OK;
    while (i <= n && !rc) {
        const char *nl = i < n ? memchr(t + i, '\n', n - i) : NULL;
        size_t e = nl ? (size_t)(nl - t) : n;
        int blank = 1;
        for (size_t j = i; j < e; j++)
            if (t[j] != ' ' && t[j] != '\t' && t[j] != '\r')
                blank = 0;
        if (blank || e >= n) {
            rc = rh_kdoc_add(c->doc, RH_KBLOCK_PARA, 0, 0, t + para, (blank ? i : e) - para,
                             c->err);
            para = e + 1;
        }
        if (e >= n)
            break;
        i = e + 1;
    }
    return rc;
}

static int decode_body(const part *p, rh_buf *hv, rh_buf *out)
{
    int rc = hdr_get(p, "Content-Transfer-Encoding", hv);
    const char *cte = rc ? "" : hv->data;
    if (strncasecmp(cte, "base64", 6) == 0)
        return b64_decode(p->body, p->blen, out);
    if (strncasecmp(cte, "quoted-printable", 16) == 0)
        return qp_decode(p->body, p->blen, 0, out);
    return rh_buf_append(out, p->body, p->blen);
}

static const char *ext_for_type(const char *ct)
{
    static const char *const map[][2] = {
        {"application/pdf", "pdf"},
        {"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"},
        {"application/vnd.oasis.opendocument.text", "odt"},
        {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"},
        {"application/vnd.oasis.opendocument.spreadsheet", "ods"},
        {"text/csv", "csv"},
        {"message/rfc822", "eml"},
        {"image/png", "png"},
        {"image/jpeg", "jpg"},
        {"image/tiff", "tif"},
        {"text/plain", "txt"},
        {"text/html", "html"},
        {"text/markdown", "md"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strncasecmp(ct, map[i][0], strlen(map[i][0])) == 0)
            return map[i][1];
    return NULL;
}

/* Extract an attachment with the extractor for its name/type and append
 * its blocks after a heading "Anhang: NAME". Unreadable attachments are
 * skipped; only the time limit and out-of-memory end the whole mail. */
static int add_attachment(eml_ctx *c, const char *name, const char *ct, const char *data,
                          size_t len)
{
    if (++c->attachments > MAX_ATTACH || nest_depth >= MAX_NEST)
        return RH_OK;
    char path[300];
    const rh_extractor *ex = name && *name ? rh_extract_for_path(name) : NULL;
    const char *ext = ext_for_type(ct);
    if (!ex && ext) {
        snprintf(path, sizeof path, "x.%s", ext);
        ex = rh_extract_for_path(path);
    }
    if (!ex)
        return RH_OK;
    rh_kdoc sub;
    size_t room = c->doc->max_bytes ? c->doc->max_bytes - c->doc->text_bytes : 0;
    if (c->doc->max_bytes && !room)
        return RH_OK;
    rh_kdoc_init(&sub, room, c->doc->deadline);
    rh_error e;
    rh_error_clear(&e);
    nest_depth++;
    int rc = ex->fn(data, len, &sub, &e);
    nest_depth--;
    if (rc == RH_ENOMEM || (rc == RH_ELIMIT && rh_kdoc_check_time(c->doc, NULL))) {
        rh_kdoc_free(&sub);
        return rh_error_set(c->err, rc, "%s", e.msg);
    }
    /* other errors: keep what was read (nothing or a part) */
    rc = RH_OK;
    if (sub.n) {
        rh_buf h;
        rh_buf_init(&h, 1024);
        const char *nm = name && *name ? name : sub.title ? sub.title : ex->type;
        if (rh_buf_appendf(&h, "Anhang: %s", nm) == RH_ENOMEM)
            rc = oom(c->err);
        if (!rc)
            rc = rh_kdoc_add(c->doc, RH_KBLOCK_HEADING, 2, 0, h.data, h.len, c->err);
        rh_buf_free(&h);
    }
    for (size_t i = 0; i < sub.n && !rc; i++) {
        const rh_kblock *b = &sub.blocks[i];
        int lv = b->kind == RH_KBLOCK_HEADING ? (b->level + 2 > 6 ? 6 : b->level + 2) : 0;
        rc = rh_kdoc_add(c->doc, b->kind, lv, 0, b->text, b->len, c->err);
    }
    rh_kdoc_free(&sub);
    return rc;
}

static int walk(eml_ctx *c, const part *p, int depth);

/* Walk a batch of sibling parts; for multipart/alternative only the best
 * one (text/plain, else text/html, else the last). */
static int walk_parts(eml_ctx *c, part *subs, size_t ns, int alt, int depth)
{
    if (!ns)
        return RH_OK;
    if (!alt) {
        int rc = RH_OK;
        for (size_t k = 0; k < ns && !rc; k++)
            rc = walk(c, &subs[k], depth + 1);
        return rc;
    }
    size_t pick = ns - 1;
    int found = 0;
    rh_buf hv;
    rh_buf_init(&hv, MAX_HDR);
    for (int pass = 0; pass < 2 && !found; pass++)
        for (size_t k = 0; k < ns && !found; k++) {
            int r = hdr_get(&subs[k], "Content-Type", &hv);
            const char *ct = r ? "text/plain" : hv.data;
            if (strncasecmp(ct, pass ? "text/html" : "text/plain", pass ? 9 : 10) == 0) {
                pick = k;
                found = 1;
            }
        }
    rh_buf_free(&hv);
    return walk(c, &subs[pick], depth + 1);
}

static int walk_multipart(eml_ctx *c, const part *p, const char *subtype, const char *boundary,
                          int depth)
{
    size_t bl = strlen(boundary);
    if (!bl || bl > 200)
        return RH_OK;
    int alt = strcasecmp(subtype, "alternative") == 0;
    part subs[64];
    size_t ns = 0;
    const char *s = p->body;
    size_t n = p->blen, i = 0;
    const char *start = NULL;
    int rc = RH_OK, done = 0;
    /* split at lines "--boundary"; parts are walked in batches of 64
     * (alternatives: only the first 64 are considered) */
    while (i < n && !done && !rc) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - s) : n;
        if (e - i >= bl + 2 && s[i] == '-' && s[i + 1] == '-' &&
            memcmp(s + i + 2, boundary, bl) == 0) {
            int close = e - i >= bl + 4 && s[i + bl + 2] == '-' && s[i + bl + 3] == '-';
            if (start) {
                size_t end = i;
                if (end > (size_t)(start - s) && s[end - 1] == '\n')
                    end--;
                if (end > (size_t)(start - s) && s[end - 1] == '\r')
                    end--;
                if (++c->parts > MAX_PARTS)
                    return rh_error_set(c->err, RH_ELIMIT,
                                        "Die E-Mail hat zu viele MIME-Teile.");
                subs[ns++] = split_part(start, end - (size_t)(start - s));
            }
            start = e < n ? s + e + 1 : s + n;
            if (close)
                done = 1;
        }
        if (ns == 64) {
            rc = walk_parts(c, subs, ns, alt, depth);
            ns = 0;
            if (alt)
                return rc;
        }
        i = e + 1;
    }
    if (!rc && !done && start && start < s + n && ns < 64) {
        /* no closing delimiter (truncated mail): the rest is the last part */
        if (++c->parts > MAX_PARTS)
            return rh_error_set(c->err, RH_ELIMIT, "Die E-Mail hat zu viele MIME-Teile.");
        subs[ns++] = split_part(start, (size_t)(s + n - start));
    }
    if (!rc)
        rc = walk_parts(c, subs, ns, alt, depth);
    return rc;
}

static int walk(eml_ctx *c, const part *p, int depth)
{
    if (depth > MAX_DEPTH)
        return RH_OK; /* deeper parts are ignored */
    int rc = rh_kdoc_check_time(c->doc, c->err);
    if (rc)
        return rc;
    rh_buf ct, hv, name, body, text;
    rh_buf_init(&ct, MAX_HDR);
    rh_buf_init(&hv, MAX_HDR);
    rh_buf_init(&name, MAX_HDR);
    rh_buf_init(&body, (size_t)-1);
    rh_buf_init(&text, (size_t)-1);
    if (hdr_get(p, "Content-Type", &ct) || !ct.len) {
        rh_buf_reset(&ct);
        if ((rc = rh_buf_appends(&ct, "text/plain")))
            goto out;
    }
    char mime[128];
    size_t ml = strcspn(ct.data, "; \t");
    snprintf(mime, sizeof mime, "%.*s", (int)(ml < 127 ? ml : 127), ct.data);
    /* attachment? file name from Content-Disposition or the type's name */
    int attach = 0;
    if (!hdr_get(p, "Content-Disposition", &hv)) {
        attach = strncasecmp(hv.data, "attachment", 10) == 0;
        if (param_get(hv.data, "filename", &name) == RH_ENOTFOUND)
            rh_buf_reset(&name);
    }
    if (!name.len && param_get(ct.data, "name", &name) == RH_ENOTFOUND)
        rh_buf_reset(&name);
    if (name.len) {
        rh_buf dn;
        rh_buf_init(&dn, MAX_HDR);
        if (!decode_words(name.data, name.len, &dn)) {
            rh_buf_reset(&name);
            (void)rh_buf_append(&name, dn.data ? dn.data : "", dn.len);
        }
        rh_buf_free(&dn);
    }
    if (strncasecmp(mime, "multipart/", 10) == 0) {
        if (param_get(ct.data, "boundary", &hv) == RH_OK && hv.len)
            rc = walk_multipart(c, p, mime + 10, hv.data, depth);
        goto out;
    }
    int is_text = strcasecmp(mime, "text/plain") == 0 || strcasecmp(mime, "text/html") == 0;
    /* pictures embedded in an HTML body (logos, signatures: inline with a
     * Content-ID) are not attachments worth reading by OCR */
    if (!attach && strncasecmp(mime, "image/", 6) == 0 && !hdr_get(p, "Content-ID", &hv))
        goto out;
    if ((rc = decode_body(p, &hv, &body)))
        goto out;
    if (attach || name.len || !is_text) {
        rc = add_attachment(c, name.data, mime, body.data ? body.data : "", body.len);
        goto out;
    }
    char charset[64] = "";
    if (param_get(ct.data, "charset", &hv) == RH_OK)
        snprintf(charset, sizeof charset, "%s", hv.data);
    if (strcasecmp(mime, "text/html") == 0) {
        /* libxml2 honours a <meta charset>; without one it reads UTF-8 */
        const char *b = body.data ? body.data : "";
        int has_meta = body.len && (strcasestr(b, "charset=") != NULL);
        if (!has_meta && (rc = to_utf8(b, body.len, charset, &text)))
            goto out;
        const char *h = has_meta ? b : text.data ? text.data : "";
        size_t hl = has_meta ? body.len : text.len;
        if (hl && memchr(h, '\0', hl) == NULL)
            rc = rh_extract_html(h, hl, c->doc, c->err);
        if (rc == RH_EFORMAT)
            rc = RH_OK;
        goto out;
    }
    if ((rc = to_utf8(body.data ? body.data : "", body.len, charset, &text)))
        goto out;
    rc = add_text(c, text.data ? text.data : "", text.len);
out:
    if (rc == RH_ENOMEM)
        rc = oom(c->err);
    rh_buf_free(&ct);
    rh_buf_free(&hv);
    rh_buf_free(&name);
    rh_buf_free(&body);
    rh_buf_free(&text);
    return rc;
}

/* Does the data start like a mail header ("Name: value" lines)? */
static int looks_like_mail(const part *p)
{
    static const char *const known[] = {"From", "To", "Subject", "Date", "Message-ID",
                                        "Received", "Return-Path", "MIME-Version",
                                        "Content-Type", NULL};
    size_t n = p->hlen < 4096 ? p->hlen : 4096;
    if (!n)
        return 0;
    const char *s = p->hdr;
    size_t colon = 0; /* the data is not NUL-terminated: bounded scan */
    while (colon < n && s[colon] != ':' && s[colon] != '\n')
        colon++;
    if (colon >= n || s[colon] != ':' || colon == 0)
        return 0;
    for (size_t i = 0; i < colon; i++)
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7F)
            return 0;
    for (int k = 0; known[k]; k++) {
        size_t kl = strlen(known[k]);
        for (size_t i = 0; i + kl < n; i++)
            if ((i == 0 || s[i - 1] == '\n') && strncasecmp(s + i, known[k], kl) == 0 &&
                s[i + kl] == ':')
                return 1;
    }
    return 0;
}

int rh_extract_eml(const char *data, size_t len, rh_kdoc *doc, rh_error *err)
{
    eml_ctx c = {doc, err, 0, 0};
    /* an mbox "From " line before the headers */
    if (len > 5 && memcmp(data, "From ", 5) == 0) {
        const char *nl = memchr(data, '\n', len);
        if (!nl)
            return rh_error_set(err, RH_EFORMAT, "Die Datei ist keine gültige E-Mail.");
        len -= (size_t)(nl + 1 - data);
        data = nl + 1;
    }
    if (memchr(data, '\0', len < 65536 ? len : 65536))
        return rh_error_set(err, RH_EFORMAT,
                            "Die Datei ist keine gültige E-Mail (sie enthält Binärdaten).");
    part top = split_part(data, len);
    if (!looks_like_mail(&top))
        return rh_error_set(err, RH_EFORMAT,
                            "Die Datei ist keine gültige E-Mail (keine Kopfzeilen wie From, "
                            "Subject oder Date gefunden).");
    rh_buf hv, dec, line;
    rh_buf_init(&hv, MAX_HDR);
    rh_buf_init(&dec, MAX_HDR);
    rh_buf_init(&line, 4 * MAX_HDR);
    int rc = RH_OK;
    if (!hdr_get(&top, "Subject", &hv) && hv.len) {
        if ((rc = decode_words(hv.data, hv.len, &dec)))
            goto out;
        if (dec.len && (rc = rh_kdoc_set(&doc->title, dec.data, dec.len)))
            goto out;
    }
    static const char *const hn[][2] = {{"From", "Von"}, {"To", "An"}, {"Date", "Datum"}};
    for (int k = 0; k < 3; k++) {
        if (hdr_get(&top, hn[k][0], &hv) || !hv.len)
            continue;
        rh_buf_reset(&dec);
        if ((rc = decode_words(hv.data, hv.len, &dec)))
            goto out;
        if ((rc = rh_buf_appendf(&line, "%s%s: %s", line.len ? "; " : "", hn[k][1],
                                 dec.data ? dec.data : "")) == RH_ENOMEM)
            goto out;
        rc = RH_OK;
    }
    if (line.len && (rc = rh_kdoc_add(doc, RH_KBLOCK_PARA, 0, 0, line.data, line.len, err)))
        goto out;
    rc = walk(&c, &top, 0);
out:
    if (rc == RH_ENOMEM)
        rc = oom(err);
    rh_buf_free(&hv);
    rh_buf_free(&dec);
    rh_buf_free(&line);
    return rc;
}
