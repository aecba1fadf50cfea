/*
 * extract_sheet.c - spreadsheet extractors: XLSX (shared strings + sheet
 * XML), ODS (content.xml tables) and CSV (delimiter ; , or tab detected,
 * RFC 4180 quotes, UTF-8 or CP1252). Each sheet becomes a heading with its
 * name; each non-empty row one paragraph with the cells joined by " | "
 * (empty cells in between are kept so the columns line up). Repetitions
 * (ODS number-columns/rows-repeated) and column indexes are capped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "knowledge/extract.h"
#include "knowledge/zipread.h"

#define MAX_COLS 1024        /* columns per row that are read */
#define MAX_ROW_REPEAT 100   /* an ODS row repeated more often is written this often */
#define MAX_SHEETS 256
#define MAX_SHARED 2000000   /* XLSX shared strings */
#define MAX_ROW ((size_t)4 << 20)
#define MAX_DEPTH 64

static int oom(rh_error *err)
{
    return rh_error_set(err, RH_ENOMEM, "Zu wenig Speicher beim Lesen der Tabelle.");
}

static int buf_put(rh_buf *b, const char *s, size_t n, rh_error *err)
{
    int rc = rh_buf_append(b, s, n);
    if (rc == RH_ELIMIT)
        return rh_error_set(err, rc, "Eine Zeile der Tabelle ist zu lang.");
    return rc ? oom(err) : RH_OK;
}

/* A row under construction: cells 0..ncells-1 are written. */
typedef struct row {
    rh_buf b;
    long ncells;
    int any;
} row;

static int row_cell(row *r, long col, const char *s, size_t n, rh_error *err)
{
    int rc = RH_OK;
    /* trim */
    while (n && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    if (!n || col < r->ncells || col >= MAX_COLS)
        return RH_OK;
    for (long i = r->ncells; i <= col && !rc; i++)
        if (i > 0)
            rc = buf_put(&r->b, " | ", 3, err);
    if (!rc)
        rc = buf_put(&r->b, s, n, err);
    r->ncells = col + 1;
    r->any = 1;
    return rc;
}

static int row_emit(row *r, rh_kdoc *doc, long times, rh_error *err)
{
    int rc = RH_OK;
    if (r->any)
        for (long i = 0; i < times && !rc; i++)
            rc = rh_kdoc_add(doc, RH_KBLOCK_PARA, 0, 0, r->b.data, r->b.len, err);
    rh_buf_reset(&r->b);
    r->ncells = 0;
    r->any = 0;
    return rc;
}

/* Text of an element: all text nodes below it; paragraphs (p) and ODF
 * spaces/tabs/line breaks separated by a space. */
static int text_of(const xmlNode *n, rh_buf *b, int depth, rh_error *err)
{
    if (depth > MAX_DEPTH)
        return rh_error_set(err, RH_ELIMIT, "Die Tabelle ist zu tief verschachtelt.");
    int rc = RH_OK;
    for (; n && !rc; n = n->next) {
        if (n->type == XML_TEXT_NODE && n->content) {
            const char *s = (const char *)n->content;
            rc = buf_put(b, s, strlen(s), err);
        } else if (n->type == XML_ELEMENT_NODE) {
            const char *nm = (const char *)n->name;
            if (strcmp(nm, "annotation") == 0 || strcmp(nm, "rPh") == 0 ||
                strcmp(nm, "phoneticPr") == 0)
                continue;
            if (strcmp(nm, "s") == 0 || strcmp(nm, "tab") == 0 ||
                strcmp(nm, "line-break") == 0 || strcmp(nm, "p") == 0)
                rc = buf_put(b, " ", 1, err);
            if (!rc)
                rc = text_of(n->children, b, depth + 1, err);
        }
    }
    return rc;
}

/* ================= XLSX ================= */

#define MAX_XF 65536

typedef struct xlsx {
    rh_zip *z;
    rh_kdoc *doc;
    rh_error *err;
    char **shared;
    size_t n_shared;
    unsigned char *xf_kind; /* per cell format (s="N"): 0 number, 1 date, 2 date+time */
    size_t n_xf;
    int date1904;
} xlsx;

/* Date kind of a number format: built-in ids 14-17 (dates) and 22 (date
 * and time), or a custom code with day/year letters outside quotes. */
static int fmt_kind(long id, const char *code)
{
    if (id >= 14 && id <= 17)
        return 1;
    if (id == 22)
        return 2;
    if (!code)
        return 0;
    int date = 0, time = 0, q = 0;
    for (const char *c = code; *c; c++) {
        if (*c == '"')
            q = !q;
        else if (q)
            continue;
        else if (*c == '\\' && c[1])
            c++;
        else if (*c == '[') {
            const char *e = strchr(c, ']');
            if (!e)
                break;
            c = e;
        } else if (*c == 'd' || *c == 'D' || *c == 'y' || *c == 'Y')
            date = 1;
        else if (*c == 'h' || *c == 'H')
            time = 1;
    }
    return date ? (time ? 2 : 1) : 0;
}

static void xlsx_styles(xlsx *x)
{
    xmlDocPtr d = NULL;
    rh_error e;
    if (!rh_zip_has(x->z, "xl/styles.xml") || rh_zip_read_xml(x->z, "xl/styles.xml", &d, &e))
        return;
    xmlNode *root = xmlDocGetRootElement(d);
    xmlNode *fmts = rh_xml_child(root, "numFmts");
    xmlNode *xfs = rh_xml_child(root, "cellXfs");
    size_t n = 0;
    for (xmlNode *xf = xfs ? xfs->children : NULL; xf; xf = xf->next)
        n += rh_xml_is(xf, "xf");
    if (n > MAX_XF)
        n = MAX_XF;
    if (n && (x->xf_kind = rh_calloc(n, 1))) {
        size_t i = 0;
        for (xmlNode *xf = xfs->children; xf && i < n; xf = xf->next) {
            if (!rh_xml_is(xf, "xf"))
                continue;
            const char *v = rh_xml_attr(xf, "numFmtId");
            char *end;
            long id = v ? strtol(v, &end, 10) : 0;
            const char *code = NULL;
            for (xmlNode *f = fmts ? fmts->children : NULL; v && f; f = f->next) {
                const char *fid = rh_xml_attr(f, "numFmtId");
                if (rh_xml_is(f, "numFmt") && fid && strcmp(fid, v) == 0)
                    code = rh_xml_attr(f, "formatCode");
            }
            x->xf_kind[i++] = (unsigned char)fmt_kind(id, code);
        }
        x->n_xf = n;
    }
    xmlFreeDoc(d);
}

/* An Excel serial day number as "TT.MM.JJJJ" (with " HH:MM" for kind 2);
 * 0 if out of range. */
static int format_date(double serial, int kind, int date1904, char *out, size_t size)
{
    if (!(serial >= 1 && serial < 2958466))
        return 0;
    long day = (long)serial;
    double frac = serial - (double)day;
    /* days since 1970-01-01; Excel's 1900 system counts a 29 Feb 1900 */
    long z = date1904 ? day + 1462 - 25569 : day >= 61 ? day - 25569 : day - 25568;
    z += 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long y = yoe + era * 400;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    long d = doy - (153 * mp + 2) / 5 + 1;
    long m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    int k;
    if (kind == 2) {
        long mins = (long)(frac * 1440.0 + 0.5);
        k = snprintf(out, size, "%02ld.%02ld.%04ld %02ld:%02ld", d, m, y, (mins / 60) % 24,
                     mins % 60);
    } else {
        k = snprintf(out, size, "%02ld.%02ld.%04ld", d, m, y);
    }
    return k > 0 && (size_t)k < size ? k : 0;
}

static int xlsx_shared(xlsx *x)
{
    xmlDocPtr d = NULL;
    if (!rh_zip_has(x->z, "xl/sharedStrings.xml"))
        return RH_OK;
    int rc = rh_zip_read_xml(x->z, "xl/sharedStrings.xml", &d, x->err);
    if (rc)
        return rc;
    size_t cap = 0;
    rh_buf b;
    rh_buf_init(&b, MAX_ROW);
    for (xmlNode *si = xmlDocGetRootElement(d)->children; si && !rc; si = si->next) {
        if (!rh_xml_is(si, "si"))
            continue;
        if (x->n_shared >= MAX_SHARED) {
            rc = rh_error_set(x->err, RH_ELIMIT, "Die Tabelle enthält zu viele Texte.");
            break;
        }
        rh_buf_reset(&b);
        if ((rc = text_of(si->children, &b, 0, x->err)))
            break;
        if (x->n_shared == cap) {
            size_t nc = cap ? cap * 2 : 256;
            char **ns = rh_realloc_array(x->shared, nc, sizeof *ns);
            if (!ns) {
                rc = oom(x->err);
                break;
            }
            x->shared = ns;
            cap = nc;
        }
        char *s = rh_strndup(b.data ? b.data : "", b.len);
        if (!s) {
            rc = oom(x->err);
            break;
        }
        x->shared[x->n_shared++] = s;
    }
    rh_buf_free(&b);
    xmlFreeDoc(d);
    return rc;
}

/* Column index of a cell reference like "AB12" (0-based), -1 if none. */
static long col_of(const char *r)
{
    long c = 0;
    int k = 0;
    if (!r)
        return -1;
    for (; *r >= 'A' && *r <= 'Z' && k < 4; r++, k++)
        c = c * 26 + (*r - 'A' + 1);
    return k ? c - 1 : -1;
}

static int xlsx_sheet(xlsx *x, const char *part)
{
    xmlDocPtr d = NULL;
    int rc = rh_zip_read_xml(x->z, part, &d, x->err);
    if (rc)
        return rc;
    row r = {{0}, 0, 0};
    rh_buf_init(&r.b, MAX_ROW);
    rh_buf v;
    rh_buf_init(&v, MAX_ROW);
    xmlNode *data = rh_xml_child(xmlDocGetRootElement(d), "sheetData");
    for (xmlNode *rw = data ? data->children : NULL; rw && !rc; rw = rw->next) {
        if (!rh_xml_is(rw, "row"))
            continue;
        long next = 0;
        for (xmlNode *c = rw->children; c && !rc; c = c->next) {
            if (!rh_xml_is(c, "c"))
                continue;
            long col = col_of(rh_xml_attr(c, "r"));
            if (col < 0)
                col = next;
            next = col + 1;
            const char *t = rh_xml_attr(c, "t");
            rh_buf_reset(&v);
            if (t && strcmp(t, "inlineStr") == 0) {
                rc = text_of(rh_xml_child(c, "is") ? rh_xml_child(c, "is")->children : NULL, &v, 0,
                             x->err);
            } else {
                xmlNode *vn = rh_xml_child(c, "v");
                if (vn && (rc = text_of(vn->children, &v, 0, x->err)))
                    break;
                const char *s = v.data ? v.data : "";
                if (t && strcmp(t, "s") == 0) {
                    char *end;
                    errno = 0;
                    unsigned long i = strtoul(s, &end, 10);
                    rh_buf_reset(&v);
                    if (!errno && end != s && i < x->n_shared)
                        rc = buf_put(&v, x->shared[i], strlen(x->shared[i]), x->err);
                } else if (t && strcmp(t, "b") == 0) {
                    int tv = s[0] == '1';
                    rh_buf_reset(&v);
                    rc = buf_put(&v, tv ? "WAHR" : "FALSCH", tv ? 4 : 6, x->err);
                } else if (!t || strcmp(t, "n") == 0) {
                    char *end;
                    double dv = strtod(s, &end);
                    const char *sx = rh_xml_attr(c, "s");
                    unsigned long xi = sx ? strtoul(sx, NULL, 10) : 0;
                    int kind = sx && xi < x->n_xf ? x->xf_kind[xi] : 0;
                    if (end != s && !*end && v.len < 64) {
                        char num[64];
                        int k = kind ? format_date(dv, kind, x->date1904, num, sizeof num) : 0;
                        if (!k)
                            k = snprintf(num, sizeof num, "%.15g", dv);
                        rh_buf_reset(&v);
                        rc = buf_put(&v, num, (size_t)k, x->err);
                    }
                }
            }
            if (!rc && v.len)
                rc = row_cell(&r, col, v.data, v.len, x->err);
        }
        if (!rc)
            rc = row_emit(&r, x->doc, 1, x->err);
        if (!rc)
            rc = rh_kdoc_check_time(x->doc, x->err);
    }
    rh_buf_free(&r.b);
    rh_buf_free(&v);
    xmlFreeDoc(d);
    return rc;
}

int rh_extract_xlsx(const char *data, size_t len, rh_kdoc *doc, rh_error *err)
{
    xlsx x = {NULL, doc, err, NULL, 0, NULL, 0, 0};
    xmlDocPtr wb = NULL, rels = NULL;
    int rc = rh_zip_open(data, len, "XLSX", &x.z, err);
    if (rc)
        goto out;
    if (!rh_zip_has(x.z, "xl/workbook.xml")) {
        rc = rh_error_set(err, RH_EFORMAT,
                          "Die Datei ist kein gültiges XLSX-Dokument (xl/workbook.xml fehlt).");
        goto out;
    }
    if ((rc = rh_zip_read_xml(x.z, "xl/workbook.xml", &wb, err)) ||
        (rc = rh_zip_read_xml(x.z, "xl/_rels/workbook.xml.rels", &rels, err)) ||
        (rc = xlsx_shared(&x)))
        goto out;
    const char *d1904 = rh_xml_attr(rh_xml_child(xmlDocGetRootElement(wb), "workbookPr"),
                                    "date1904");
    x.date1904 = d1904 && (strcmp(d1904, "1") == 0 || strcmp(d1904, "true") == 0);
    xlsx_styles(&x);
    xmlNode *sheets = rh_xml_child(xmlDocGetRootElement(wb), "sheets");
    int n = 0;
    for (xmlNode *s = sheets ? sheets->children : NULL; s && !rc; s = s->next) {
        if (!rh_xml_is(s, "sheet"))
            continue;
        if (++n > MAX_SHEETS)
            break;
        const char *name = rh_xml_attr(s, "name");
        const char *rid = rh_xml_attr(s, "id");
        const char *target = NULL;
        for (xmlNode *rl = xmlDocGetRootElement(rels)->children; rid && rl; rl = rl->next) {
            const char *id = rh_xml_attr(rl, "Id");
            if (rh_xml_is(rl, "Relationship") && id && strcmp(id, rid) == 0)
                target = rh_xml_attr(rl, "Target");
        }
        if (!target)
            continue;
        char part[RH_ZIP_MAX_NAME + 8];
        if (target[0] == '/')
            snprintf(part, sizeof part, "%s", target + 1);
        else
            snprintf(part, sizeof part, "xl/%s", target);
        if (!rh_zip_has(x.z, part))
            continue;
        if (name && (rc = rh_kdoc_add(doc, RH_KBLOCK_HEADING, 1, 0, name, strlen(name), err)))
            break;
        rc = xlsx_sheet(&x, part);
    }
out:
    for (size_t i = 0; i < x.n_shared; i++)
        rh_free(x.shared[i]);
    rh_free(x.shared);
    rh_free(x.xf_kind);
    if (wb)
        xmlFreeDoc(wb);
    if (rels)
        xmlFreeDoc(rels);
    rh_zip_close(x.z);
    return rc;
}

/* ================= ODS ================= */

static long repeat_of(const xmlNode *n, const char *attr)
{
    const char *s = rh_xml_attr(n, attr);
    if (!s)
        return 1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || v < 1)
        return 1;
    return v > 1000000000L ? 1000000000L : v;
}

static int ods_rows(const xmlNode *n, row *r, rh_buf *cell, rh_kdoc *doc, rh_error *err,
                    int depth)
{
    if (depth > MAX_DEPTH)
        return rh_error_set(err, RH_ELIMIT, "Die Tabelle ist zu tief verschachtelt.");
    int rc = RH_OK;
    for (; n && !rc; n = n->next) {
        if (rh_xml_is(n, "table-header-rows") || rh_xml_is(n, "table-rows") ||
            rh_xml_is(n, "table-row-group")) {
            rc = ods_rows(n->children, r, cell, doc, err, depth + 1);
            continue;
        }
        if (!rh_xml_is(n, "table-row"))
            continue;
        long col = 0;
        for (const xmlNode *c = n->children; c && !rc && col < MAX_COLS; c = c->next) {
            if (!rh_xml_is(c, "table-cell") && !rh_xml_is(c, "covered-table-cell"))
                continue;
            long rep = repeat_of(c, "number-columns-repeated");
            rh_buf_reset(cell);
            if ((rc = text_of(c->children, cell, 0, err)))
                break;
            if (cell->len)
                for (long k = 0; k < rep && col < MAX_COLS && !rc; k++)
                    rc = row_cell(r, col++, cell->data, cell->len, err);
            else
                col += rep;
        }
        long times = repeat_of(n, "number-rows-repeated");
        if (!rc)
            rc = row_emit(r, doc, times > MAX_ROW_REPEAT ? MAX_ROW_REPEAT : times, err);
        if (!rc)
            rc = rh_kdoc_check_time(doc, err);
    }
    return rc;
}

int rh_extract_ods(const char *data, size_t len, rh_kdoc *doc, rh_error *err)
{
    rh_zip *z = NULL;
    xmlDocPtr d = NULL;
    row r = {{0}, 0, 0};
    rh_buf_init(&r.b, MAX_ROW);
    rh_buf cell;
    rh_buf_init(&cell, MAX_ROW);
    int rc = rh_zip_open(data, len, "ODS", &z, err);
    if (rc)
        goto out;
    if (!rh_zip_has(z, "content.xml")) {
        rc = rh_error_set(err, RH_EFORMAT,
                          "Die Datei ist kein gültiges ODS-Dokument (content.xml fehlt).");
        goto out;
    }
    if ((rc = rh_zip_read_xml(z, "content.xml", &d, err)))
        goto out;
    xmlNode *sp = rh_xml_child(rh_xml_child(xmlDocGetRootElement(d), "body"), "spreadsheet");
    if (!sp) {
        rc = rh_error_set(err, RH_EFORMAT,
                          "Die Datei ist kein gültiges ODS-Dokument (keine Tabelle darin).");
        goto out;
    }
    int n = 0;
    for (xmlNode *t = sp->children; t && !rc; t = t->next) {
        if (!rh_xml_is(t, "table"))
            continue;
        if (++n > MAX_SHEETS)
            break;
        const char *name = rh_xml_attr(t, "name");
        if (name && (rc = rh_kdoc_add(doc, RH_KBLOCK_HEADING, 1, 0, name, strlen(name), err)))
            break;
        rc = ods_rows(t->children, &r, &cell, doc, err, 0);
    }
out:
    rh_buf_free(&r.b);
    rh_buf_free(&cell);
    if (d)
        xmlFreeDoc(d);
    rh_zip_close(z);
    return rc;
}

/* ================= CSV ================= */

/* Count delimiter candidates per line (outside quotes) in the first lines
 * and pick the most consistent one. */
static char csv_delim(const char *t, size_t n)
{
    static const char cand[3] = {';', '\t', ','};
    long cnt[3][20];
    int lines = 0, q = 0;
    memset(cnt, 0, sizeof cnt);
    for (size_t i = 0; i < n && lines < 20; i++) {
        char ch = t[i];
        if (ch == '"')
            q = !q;
        else if (!q && ch == '\n')
            lines++;
        else if (!q)
            for (int k = 0; k < 3; k++)
                if (ch == cand[k])
                    cnt[k][lines]++;
    }
    if (lines < 20 && n && t[n - 1] != '\n')
        lines++;
    if (lines > 20)
        lines = 20;
    char best = ';';
    double best_score = -1;
    for (int k = 0; k < 3; k++) {
        long total = 0, first = cnt[k][0];
        int same = first > 0;
        for (int l = 0; l < lines; l++) {
            total += cnt[k][l];
            if (cnt[k][l] != first)
                same = 0;
        }
        double score = (same ? 1e6 : 0) + (lines ? (double)total / lines : 0);
        if (total > 0 && score > best_score) {
            best_score = score;
            best = cand[k];
        }
    }
    return best;
}

int rh_extract_csv(const char *data, size_t len, rh_kdoc *doc, rh_error *err)
{
    char *t = NULL;
    size_t n = 0;
    int rc = rh_extract_decode_text(data, len, &t, &n, err);
    if (rc)
        return rh_error_set(err, rc,
                            "Die Datei ist keine lesbare CSV-Datei (sie enthält Binärdaten).");
    char delim = csv_delim(t, n);
    row r = {{0}, 0, 0};
    rh_buf_init(&r.b, MAX_ROW);
    rh_buf f;
    rh_buf_init(&f, MAX_ROW);
    long col = 0, rows = 0;
    size_t i = 0;
    while (i <= n && !rc) {
        /* one field */
        rh_buf_reset(&f);
        if (i < n && t[i] == '"') {
            i++;
            while (i < n && !rc) {
                if (t[i] == '"') {
                    if (i + 1 < n && t[i + 1] == '"') {
                        rc = buf_put(&f, "\"", 1, err);
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                size_t s = i;
                while (i < n && t[i] != '"')
                    i++;
                rc = buf_put(&f, t + s, i - s, err);
            }
        }
        size_t s = i;
        while (i < n && t[i] != delim && t[i] != '\n')
            i++;
        if (!rc && i > s)
            rc = buf_put(&f, t + s, i - s, err);
        if (!rc && f.len)
            rc = row_cell(&r, col, f.data, f.len, err);
        col++;
        if (i >= n || t[i] == '\n') {
            if (!rc)
                rc = row_emit(&r, doc, 1, err);
            col = 0;
            if (!rc && ++rows % 1024 == 0)
                rc = rh_kdoc_check_time(doc, err);
            if (i >= n)
                break;
        }
        i++;
    }
    rh_buf_free(&r.b);
    rh_buf_free(&f);
    rh_free(t);
    return rc;
}
