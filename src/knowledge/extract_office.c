/*
 * extract_office.c - DOCX (Office Open XML) and ODT (OpenDocument text)
 * extractors: paragraphs, headings (DOCX styles Heading N / Überschrift N /
 * outline levels, ODT text:h), list items with "• " or their number, and
 * tables as one paragraph per row with the cells joined by " | ". The title
 * comes from the document properties. Containers are read with the limits
 * of zipread.c; the walk over the XML is depth-bounded and checks the time
 * limit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "knowledge/extract.h"
#include "knowledge/zipread.h"

#define MAX_DEPTH 64
#define MAX_PARA ((size_t)4 << 20) /* one paragraph or table row */

static int oom(rh_error *err)
{
    return rh_error_set(err, RH_ENOMEM, "Zu wenig Speicher beim Lesen des Dokuments.");
}

static int buf_add(rh_buf *b, const char *s, rh_error *err)
{
    int rc = rh_buf_appends(b, s);
    if (rc == RH_ELIMIT)
        return rh_error_set(err, rc, "Ein Absatz des Dokuments ist zu lang.");
    return rc ? oom(err) : RH_OK;
}

/* Title from a Dublin Core <dc:title> in docProps/core.xml or meta.xml. */
static void title_from(rh_zip *z, const char *part, rh_kdoc *doc)
{
    xmlDocPtr d = NULL;
    rh_error e;
    if (doc->title || rh_zip_read_xml(z, part, &d, &e))
        return;
    /* dc:title is at depth 1 (core.xml) or 2 (meta.xml: office:meta) */
    xmlNode *root = xmlDocGetRootElement(d);
    for (xmlNode *n = root->children; n; n = n->next) {
        xmlNode *t = rh_xml_is(n, "title") ? n : rh_xml_is(n, "meta") ? rh_xml_child(n, "title")
                                                                     : NULL;
        if (t && t->children && t->children->type == XML_TEXT_NODE && t->children->content) {
            const char *s = (const char *)t->children->content;
            (void)rh_kdoc_set(&doc->title, s, strlen(s));
            break;
        }
    }
    xmlFreeDoc(d);
}

/* ================= DOCX ================= */

typedef struct docx_style {
    char *id;
    int level; /* heading level, 0 = body */
} docx_style;

typedef struct docx_num {
    char *num_id;
    char fmt[9]; /* per level: 'd' decimal, 'a' lower letter, 'A' upper, 'b' bullet */
    int count[9];
} docx_num;

typedef struct docx_ctx {
    rh_kdoc *doc;
    rh_error *err;
    docx_style *styles;
    size_t n_styles;
    docx_num *nums;
    size_t n_nums;
} docx_ctx;

static int heading_from_name(const char *name)
{
    static const char *const pre[] = {"heading", "überschrift", "ueberschrift", "berschrift",
                                      NULL};
    if (!name)
        return 0;
    if (strcasecmp(name, "title") == 0 || strcasecmp(name, "titel") == 0)
        return 1;
    for (int i = 0; pre[i]; i++) {
        size_t l = strlen(pre[i]);
        if (strncasecmp(name, pre[i], l) == 0) {
            const char *p = name + l;
            while (*p == ' ')
                p++;
            if (*p >= '1' && *p <= '9' && !p[1])
                return *p - '0' > 6 ? 6 : *p - '0';
        }
    }
    return 0;
}

static int docx_load_styles(rh_zip *z, docx_ctx *c)
{
    xmlDocPtr d = NULL;
    rh_error e;
    if (rh_zip_read_xml(z, "word/styles.xml", &d, &e))
        return RH_OK; /* optional */
    int rc = RH_OK;
    size_t cap = 0;
    for (xmlNode *n = xmlDocGetRootElement(d)->children; n; n = n->next) {
        if (!rh_xml_is(n, "style"))
            continue;
        const char *type = rh_xml_attr(n, "type");
        const char *id = rh_xml_attr(n, "styleId");
        if (!id || (type && strcmp(type, "paragraph") != 0))
            continue;
        int level = heading_from_name(rh_xml_attr(rh_xml_child(n, "name"), "val"));
        const char *ol = rh_xml_attr(rh_xml_child(rh_xml_child(n, "pPr"), "outlineLvl"), "val");
        if (ol && *ol >= '0' && *ol <= '8' && !ol[1])
            level = *ol - '0' + 1 > 6 ? 6 : *ol - '0' + 1;
        if (!level)
            level = heading_from_name(id);
        if (!level)
            continue;
        if (c->n_styles == cap) {
            if (cap >= 4096)
                break;
            size_t nc = cap ? cap * 2 : 16;
            docx_style *ns = rh_realloc_array(c->styles, nc, sizeof *ns);
            if (!ns) {
                rc = oom(c->err);
                break;
            }
            c->styles = ns;
            cap = nc;
        }
        char *cid = rh_strdup(id);
        if (!cid) {
            rc = oom(c->err);
            break;
        }
        c->styles[c->n_styles++] = (docx_style){cid, level};
    }
    xmlFreeDoc(d);
    return rc;
}

static char num_fmt(const char *v)
{
    if (!v)
        return 'b';
    if (strcmp(v, "decimal") == 0 || strcmp(v, "decimalZero") == 0 ||
        strcmp(v, "lowerRoman") == 0 || strcmp(v, "upperRoman") == 0)
        return 'd';
    if (strcmp(v, "lowerLetter") == 0)
        return 'a';
    if (strcmp(v, "upperLetter") == 0)
        return 'A';
    return 'b';
}

static int docx_load_numbering(rh_zip *z, docx_ctx *c)
{
    xmlDocPtr d = NULL;
    rh_error e;
    if (rh_zip_read_xml(z, "word/numbering.xml", &d, &e))
        return RH_OK; /* optional */
    int rc = RH_OK;
    size_t cap = 0;
    xmlNode *root = xmlDocGetRootElement(d);
    for (xmlNode *n = root->children; n && !rc; n = n->next) {
        if (!rh_xml_is(n, "num"))
            continue;
        const char *id = rh_xml_attr(n, "numId");
        const char *abs = rh_xml_attr(rh_xml_child(n, "abstractNumId"), "val");
        if (!id || !abs)
            continue;
        if (c->n_nums == cap) {
            if (cap >= 1024)
                break;
            size_t nc = cap ? cap * 2 : 16;
            docx_num *nn = rh_realloc_array(c->nums, nc, sizeof *nn);
            if (!nn) {
                rc = oom(c->err);
                break;
            }
            c->nums = nn;
            cap = nc;
        }
        docx_num *dn = &c->nums[c->n_nums];
        memset(dn, 0, sizeof *dn);
        memset(dn->fmt, 'b', sizeof dn->fmt);
        if (!(dn->num_id = rh_strdup(id))) {
            rc = oom(c->err);
            break;
        }
        c->n_nums++;
        for (xmlNode *a = root->children; a; a = a->next) {
            const char *aid = rh_xml_attr(a, "abstractNumId");
            if (!rh_xml_is(a, "abstractNum") || !aid || strcmp(aid, abs) != 0)
                continue;
            for (xmlNode *l = a->children; l; l = l->next) {
                const char *il = rh_xml_attr(l, "ilvl");
                if (rh_xml_is(l, "lvl") && il && *il >= '0' && *il <= '8' && !il[1])
                    dn->fmt[*il - '0'] = num_fmt(rh_xml_attr(rh_xml_child(l, "numFmt"), "val"));
            }
            break;
        }
    }
    xmlFreeDoc(d);
    return rc;
}

/* Collect the text of a paragraph (or anything inside one). */
static int docx_text(const xmlNode *n, rh_buf *b, int depth, rh_error *err)
{
    static const char *const skip[] = {"pPr", "rPr", "delText", "instrText", "del", "moveFrom",
                                       "Fallback", "fldData", "footnoteReference",
                                       "commentReference", NULL};
    if (depth > MAX_DEPTH)
        return rh_error_set(err, RH_ELIMIT, "Das Dokument ist zu tief verschachtelt.");
    int rc = RH_OK;
    for (; n && !rc; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        const char *nm = (const char *)n->name;
        int sk = 0;
        for (int i = 0; skip[i]; i++)
            if (strcmp(nm, skip[i]) == 0)
                sk = 1;
        if (sk)
            continue;
        if (strcmp(nm, "t") == 0) {
            for (const xmlNode *t = n->children; t && !rc; t = t->next)
                if (t->type == XML_TEXT_NODE && t->content)
                    rc = buf_add(b, (const char *)t->content, err);
        } else if (strcmp(nm, "tab") == 0 || strcmp(nm, "br") == 0 || strcmp(nm, "cr") == 0) {
            rc = buf_add(b, " ", err);
        } else if (strcmp(nm, "noBreakHyphen") == 0) {
            rc = buf_add(b, "-", err);
        } else if (strcmp(nm, "p") == 0) {
            /* a paragraph inside a paragraph (text box): keep words apart */
            if (!(rc = buf_add(b, " ", err)))
                rc = docx_text(n->children, b, depth + 1, err);
            if (!rc)
                rc = buf_add(b, " ", err);
        } else {
            rc = docx_text(n->children, b, depth + 1, err);
        }
    }
    return rc;
}

static int docx_style_level(const docx_ctx *c, const char *id)
{
    if (!id)
        return 0;
    for (size_t i = 0; i < c->n_styles; i++)
        if (strcmp(c->styles[i].id, id) == 0)
            return c->styles[i].level;
    return heading_from_name(id);
}

static int docx_para(docx_ctx *c, const xmlNode *p, rh_buf *b)
{
    int rc;
    rh_buf_reset(b);
    const xmlNode *ppr = rh_xml_child(p, "pPr");
    int level = docx_style_level(c, rh_xml_attr(rh_xml_child(ppr, "pStyle"), "val"));
    const char *ol = rh_xml_attr(rh_xml_child(ppr, "outlineLvl"), "val");
    if (ol && *ol >= '0' && *ol <= '5' && !ol[1])
        level = *ol - '0' + 1;
    const xmlNode *numpr = rh_xml_child(ppr, "numPr");
    if (numpr && !level) {
        const char *id = rh_xml_attr(rh_xml_child(numpr, "numId"), "val");
        const char *il = rh_xml_attr(rh_xml_child(numpr, "ilvl"), "val");
        int lv = il && *il >= '0' && *il <= '8' && !il[1] ? *il - '0' : 0;
        docx_num *dn = NULL;
        for (size_t i = 0; id && i < c->n_nums; i++)
            if (strcmp(c->nums[i].num_id, id) == 0)
                dn = &c->nums[i];
        if (id && strcmp(id, "0") != 0) {
            char pre[32];
            char f = dn ? dn->fmt[lv] : 'b';
            if (dn) {
                dn->count[lv]++;
                for (int k = lv + 1; k < 9; k++)
                    dn->count[k] = 0;
            }
            int k = dn ? dn->count[lv] : 0;
            if (f == 'd')
                snprintf(pre, sizeof pre, "%d. ", k);
            else if ((f == 'a' || f == 'A') && k >= 1 && k <= 26)
                snprintf(pre, sizeof pre, "%c) ", f + k - 1);
            else
                snprintf(pre, sizeof pre, "• ");
            if ((rc = buf_add(b, pre, c->err)))
                return rc;
        }
    }
    if ((rc = docx_text(p->children, b, 0, c->err)))
        return rc;
    return rh_kdoc_add(c->doc, level ? RH_KBLOCK_HEADING : RH_KBLOCK_PARA, level, 0, b->data,
                       b->len, c->err);
}

/* Text of a table cell: its paragraphs (and nested tables) joined by spaces. */
static int docx_cell(const xmlNode *n, rh_buf *b, int depth, rh_error *err)
{
    if (depth > MAX_DEPTH)
        return rh_error_set(err, RH_ELIMIT, "Das Dokument ist zu tief verschachtelt.");
    int rc = RH_OK;
    for (; n && !rc; n = n->next) {
        if (rh_xml_is(n, "p")) {
            if (!(rc = buf_add(b, " ", err)))
                rc = docx_text(n->children, b, depth + 1, err);
        } else if (n->type == XML_ELEMENT_NODE && !rh_xml_is(n, "tcPr")) {
            rc = docx_cell(n->children, b, depth + 1, err);
        }
    }
    return rc;
}

static int docx_table(docx_ctx *c, const xmlNode *tbl, rh_buf *row, int depth)
{
    int rc = RH_OK;
    rh_buf cell;
    rh_buf_init(&cell, MAX_PARA);
    for (const xmlNode *tr = tbl->children; tr && !rc; tr = tr->next) {
        if (!rh_xml_is(tr, "tr"))
            continue;
        rh_buf_reset(row);
        int cells = 0;
        for (const xmlNode *tc = tr->children; tc && !rc; tc = tc->next) {
            const xmlNode *cn = tc;
            if (rh_xml_is(tc, "sdt"))
                cn = rh_xml_child(rh_xml_child(tc, "sdtContent"), "tc");
            if (!rh_xml_is(cn, "tc"))
                continue;
            rh_buf_reset(&cell);
            if ((rc = docx_cell(cn->children, &cell, depth + 1, c->err)))
                break;
            if (cells++ && (rc = buf_add(row, " | ", c->err)))
                break;
            rc = buf_add(row, cell.data ? cell.data : "", c->err);
        }
        if (!rc)
            rc = rh_kdoc_add(c->doc, RH_KBLOCK_PARA, 0, 0, row->data, row->len, c->err);
    }
    rh_buf_free(&cell);
    return rc;
}

static const xmlNode *sdt_children(const xmlNode *sdt)
{
    const xmlNode *sc = rh_xml_child(sdt, "sdtContent");
    return sc ? sc->children : NULL;
}

static int docx_blocks(docx_ctx *c, const xmlNode *n, rh_buf *b, int depth)
{
    if (depth > MAX_DEPTH)
        return rh_error_set(c->err, RH_ELIMIT, "Das Dokument ist zu tief verschachtelt.");
    int rc = RH_OK;
    for (; n && !rc; n = n->next) {
        if (rh_xml_is(n, "p"))
            rc = docx_para(c, n, b);
        else if (rh_xml_is(n, "tbl"))
            rc = docx_table(c, n, b, depth);
        else if (rh_xml_is(n, "sdt"))
            rc = docx_blocks(c, sdt_children(n), b, depth + 1);
        else if (rh_xml_is(n, "customXml") || rh_xml_is(n, "ins") || rh_xml_is(n, "smartTag"))
            rc = docx_blocks(c, n->children, b, depth + 1);
        if (!rc)
            rc = rh_kdoc_check_time(c->doc, c->err);
    }
    return rc;
}

int rh_extract_docx(const char *data, size_t len, rh_kdoc *doc, rh_error *err)
{
    rh_zip *z = NULL;
    xmlDocPtr d = NULL;
    docx_ctx c = {doc, err, NULL, 0, NULL, 0};
    rh_buf b;
    rh_buf_init(&b, MAX_PARA);
    int rc = rh_zip_open(data, len, "DOCX", &z, err);
    if (rc)
        goto out;
    if (!rh_zip_has(z, "word/document.xml")) {
        rc = rh_error_set(err, RH_EFORMAT,
                          "Die Datei ist kein gültiges DOCX-Dokument (word/document.xml "
                          "fehlt).");
        goto out;
    }
    if ((rc = docx_load_styles(z, &c)) || (rc = docx_load_numbering(z, &c)))
        goto out;
    if ((rc = rh_zip_read_xml(z, "word/document.xml", &d, err)))
        goto out;
    title_from(z, "docProps/core.xml", doc);
    xmlNode *body = rh_xml_child(xmlDocGetRootElement(d), "body");
    if (!body) {
        rc = rh_error_set(err, RH_EFORMAT,
                          "Die Datei ist kein gültiges DOCX-Dokument (kein Dokumentkörper).");
        goto out;
    }
    rc = docx_blocks(&c, body->children, &b, 0);
out:
    for (size_t i = 0; i < c.n_styles; i++)
        rh_free(c.styles[i].id);
    for (size_t i = 0; i < c.n_nums; i++)
        rh_free(c.nums[i].num_id);
    rh_free(c.styles);
    rh_free(c.nums);
    rh_buf_free(&b);
    if (d)
        xmlFreeDoc(d);
    rh_zip_close(z);
    return rc;
}

/* ================= ODT ================= */

typedef struct odt_ctx {
    rh_kdoc *doc;
    rh_error *err;
    const xmlNode *style_roots[2]; /* automatic styles (content.xml), styles.xml */
} odt_ctx;

/* The list being walked: numbered or bullets, and its item counter. */
typedef struct odt_list {
    const char *style;
    int level;
    int numbered;
    int count;
} odt_list;

/* Text of a text:p / text:h (spans, links, spaces, tabs, line breaks). */
static int odt_text(const xmlNode *n, rh_buf *b, int depth, rh_error *err)
{
    static const char *const skip[] = {"annotation", "note", "tracked-changes", "bookmark-ref",
                                       "change", "annotation-end", NULL};
    if (depth > MAX_DEPTH)
        return rh_error_set(err, RH_ELIMIT, "Das Dokument ist zu tief verschachtelt.");
    int rc = RH_OK;
    for (; n && !rc; n = n->next) {
        if (n->type == XML_TEXT_NODE && n->content) {
            rc = buf_add(b, (const char *)n->content, err);
            continue;
        }
        if (n->type != XML_ELEMENT_NODE)
            continue;
        const char *nm = (const char *)n->name;
        int sk = 0;
        for (int i = 0; skip[i]; i++)
            if (strcmp(nm, skip[i]) == 0)
                sk = 1;
        if (sk)
            continue;
        if (strcmp(nm, "s") == 0 || strcmp(nm, "tab") == 0 || strcmp(nm, "line-break") == 0)
            rc = buf_add(b, " ", err);
        else if (strcmp(nm, "p") == 0 || strcmp(nm, "h") == 0) {
            if (!(rc = buf_add(b, " ", err)))
                rc = odt_text(n->children, b, depth + 1, err);
            if (!rc)
                rc = buf_add(b, " ", err);
        } else
            rc = odt_text(n->children, b, depth + 1, err);
    }
    return rc;
}

/* Is level `level` of list style `style` numbered (text:list-level-style-number
 * with a number format)? */
static int odt_numbered(const odt_ctx *c, const char *style, int level)
{
    if (!style)
        return 0;
    for (int r = 0; r < 2; r++) {
        for (const xmlNode *ls = c->style_roots[r] ? c->style_roots[r]->children : NULL; ls;
             ls = ls->next) {
            const char *nm = rh_xml_attr(ls, "name");
            if (!rh_xml_is(ls, "list-style") || !nm || strcmp(nm, style) != 0)
                continue;
            for (const xmlNode *lv = ls->children; lv; lv = lv->next) {
                const char *l = rh_xml_attr(lv, "level");
                if (!l || l[0] != (char)('0' + level % 10) || (level < 10 && l[1]))
                    continue;
                const char *f = rh_xml_attr(lv, "num-format");
                return rh_xml_is(lv, "list-level-style-number") && f && *f;
            }
            return 0;
        }
    }
    return 0;
}

static int odt_para(odt_ctx *c, const xmlNode *n, rh_buf *b, int level, const odt_list *list)
{
    rh_buf_reset(b);
    int rc = RH_OK;
    if (list && !level) {
        char pre[32];
        if (list->numbered)
            snprintf(pre, sizeof pre, "%d. ", list->count);
        else
            snprintf(pre, sizeof pre, "• ");
        rc = buf_add(b, pre, c->err);
    }
    if (!rc)
        rc = odt_text(n->children, b, 0, c->err);
    if (!rc)
        rc = rh_kdoc_add(c->doc, level ? RH_KBLOCK_HEADING : RH_KBLOCK_PARA, level, 0, b->data,
                         b->len, c->err);
    return rc;
}

static int odt_row(odt_ctx *c, const xmlNode *tr, rh_buf *row, int depth)
{
    rh_buf cell;
    rh_buf_init(&cell, MAX_PARA);
    rh_buf_reset(row);
    int rc = RH_OK, cells = 0;
    for (const xmlNode *tc = tr->children; tc && !rc; tc = tc->next) {
        if (!rh_xml_is(tc, "table-cell"))
            continue;
        rh_buf_reset(&cell);
        if ((rc = odt_text(tc->children, &cell, depth + 1, c->err)))
            break;
        if (cells++ && (rc = buf_add(row, " | ", c->err)))
            break;
        rc = buf_add(row, cell.data ? cell.data : "", c->err);
    }
    rh_buf_free(&cell);
    if (!rc)
        rc = rh_kdoc_add(c->doc, RH_KBLOCK_PARA, 0, 0, row->data, row->len, c->err);
    return rc;
}

static int odt_table(odt_ctx *c, const xmlNode *n, rh_buf *b, int depth)
{
    if (depth > MAX_DEPTH)
        return rh_error_set(c->err, RH_ELIMIT, "Das Dokument ist zu tief verschachtelt.");
    int rc = RH_OK;
    for (; n && !rc; n = n->next) {
        if (rh_xml_is(n, "table-row"))
            rc = odt_row(c, n, b, depth);
        else if (rh_xml_is(n, "table-header-rows") || rh_xml_is(n, "table-rows") ||
                 rh_xml_is(n, "table-row-group"))
            rc = odt_table(c, n->children, b, depth + 1);
        if (!rc)
            rc = rh_kdoc_check_time(c->doc, c->err);
    }
    return rc;
}

static int odt_blocks(odt_ctx *c, const xmlNode *n, rh_buf *b, int depth, odt_list *list)
{
    if (depth > MAX_DEPTH)
        return rh_error_set(c->err, RH_ELIMIT, "Das Dokument ist zu tief verschachtelt.");
    int rc = RH_OK;
    for (; n && !rc; n = n->next) {
        if (rh_xml_is(n, "h")) {
            const char *lv = rh_xml_attr(n, "outline-level");
            int level = lv && *lv >= '1' && *lv <= '9' ? *lv - '0' : 1;
            rc = odt_para(c, n, b, level > 6 ? 6 : level, list);
        } else if (rh_xml_is(n, "p")) {
            rc = odt_para(c, n, b, 0, list);
        } else if (rh_xml_is(n, "list")) {
            odt_list sub = {rh_xml_attr(n, "style-name"), list ? list->level + 1 : 1, 0, 0};
            if (!sub.style && list)
                sub.style = list->style;
            sub.numbered = odt_numbered(c, sub.style, sub.level);
            rc = odt_blocks(c, n->children, b, depth + 1, &sub);
        } else if (rh_xml_is(n, "list-item") || rh_xml_is(n, "list-header")) {
            if (list && rh_xml_is(n, "list-item"))
                list->count++;
            rc = odt_blocks(c, n->children, b, depth + 1, list);
        } else if (rh_xml_is(n, "section")) {
            rc = odt_blocks(c, n->children, b, depth + 1, list);
        } else if (rh_xml_is(n, "table")) {
            rc = odt_table(c, n->children, b, depth + 1);
        }
        if (!rc)
            rc = rh_kdoc_check_time(c->doc, c->err);
    }
    return rc;
}

int rh_extract_odt(const char *data, size_t len, rh_kdoc *doc, rh_error *err)
{
    rh_zip *z = NULL;
    xmlDocPtr d = NULL, st = NULL;
    rh_error e;
    odt_ctx c = {doc, err, {NULL, NULL}};
    rh_buf b;
    rh_buf_init(&b, MAX_PARA);
    int rc = rh_zip_open(data, len, "ODT", &z, err);
    if (rc)
        goto out;
    if (!rh_zip_has(z, "content.xml")) {
        rc = rh_error_set(err, RH_EFORMAT,
                          "Die Datei ist kein gültiges ODT-Dokument (content.xml fehlt).");
        goto out;
    }
    if ((rc = rh_zip_read_xml(z, "content.xml", &d, err)))
        goto out;
    title_from(z, "meta.xml", doc);
    c.style_roots[0] = rh_xml_child(xmlDocGetRootElement(d), "automatic-styles");
    if (rh_zip_has(z, "styles.xml") && !rh_zip_read_xml(z, "styles.xml", &st, &e))
        c.style_roots[1] = rh_xml_child(xmlDocGetRootElement(st), "styles");
    xmlNode *text = rh_xml_child(rh_xml_child(xmlDocGetRootElement(d), "body"), "text");
    if (!text) {
        rc = rh_error_set(err, RH_EFORMAT,
                          "Die Datei ist kein gültiges ODT-Dokument (kein Textkörper; "
                          "vielleicht eine Tabelle oder Präsentation?).");
        goto out;
    }
    rc = odt_blocks(&c, text->children, &b, 0, NULL);
out:
    rh_buf_free(&b);
    if (d)
        xmlFreeDoc(d);
    if (st)
        xmlFreeDoc(st);
    rh_zip_close(z);
    return rc;
}
