/*
 * chunker.c - structure-following chunking of extracted documents (see
 * chunker.h): a chunk per heading section, split at the target size with
 * an overlap, each with its heading path and page range.
 */
#include "knowledge/chunker.h"

#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"

typedef struct state {
    const rh_chunk_opts *o;
    rh_kchunks *out;
    rh_error *err;
    const char *root;
    char *stack[7]; /* headings by level 1..6 */
    rh_buf cur;
    size_t last_para; /* offset of the last paragraph in cur */
    int pfrom, pto;
} state;

void rh_chunk_opts_default(rh_chunk_opts *o)
{
    o->target = 1200;
    o->overlap = 200;
    o->max_chunks = 0;
}

void rh_kchunks_free(rh_kchunks *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        rh_free(c->v[i].heading);
        rh_free(c->v[i].text);
    }
    rh_free(c->v);
    memset(c, 0, sizeof *c);
}

static int push(state *s)
{
    size_t max = s->o->max_chunks ? s->o->max_chunks : 100000;
    if (s->out->n >= max)
        return rh_error_set(s->err, RH_ELIMIT, "the document gives more than %zu chunks", max);
    rh_buf path;
    rh_buf_init(&path, 64 * 1024);
    int rc = rh_buf_appends(&path, s->root);
    for (int l = 1; l <= 6 && !rc; l++)
        if (s->stack[l])
            rc = rh_buf_appendf(&path, "%s%s", RH_CHUNK_PATH_SEP, s->stack[l]);
    if (rc) {
        rh_buf_free(&path);
        return rh_error_set(s->err, rc, "heading path too long");
    }
    if (s->out->n == s->out->cap) {
        size_t nc = s->out->cap ? s->out->cap * 2 : 32;
        rh_kchunk *nv = rh_realloc_array(s->out->v, nc, sizeof *nv);
        if (!nv) {
            rh_buf_free(&path);
            return rh_error_set(s->err, RH_ENOMEM, "out of memory");
        }
        s->out->v = nv;
        s->out->cap = nc;
    }
    char *text = rh_strndup(s->cur.data, s->cur.len);
    if (!text) {
        rh_buf_free(&path);
        return rh_error_set(s->err, RH_ENOMEM, "out of memory");
    }
    s->out->v[s->out->n++] = (rh_kchunk){rh_buf_take(&path, NULL), text, s->pfrom, s->pto};
    if (!s->out->v[s->out->n - 1].heading) {
        s->out->v[s->out->n - 1].heading = rh_strdup(s->root);
        if (!s->out->v[s->out->n - 1].heading)
            return rh_error_set(s->err, RH_ENOMEM, "out of memory");
    }
    return RH_OK;
}

/* Start of a UTF-8 sequence at or before i. */
static size_t utf8_back(const char *t, size_t i)
{
    while (i > 0 && ((unsigned char)t[i] & 0xC0) == 0x80)
        i--;
    return i;
}

/* Emit the current chunk; keep an overlap for the next when `overlap`. */
static int flush(state *s, int overlap)
{
    if (!s->cur.len)
        return RH_OK;
    int rc = push(s);
    if (rc)
        return rc;
    size_t keep = 0, from = 0;
    if (overlap && s->o->overlap) {
        size_t lp = s->cur.len - s->last_para;
        if (s->last_para > 0 && lp <= s->o->overlap) {
            from = s->last_para;
        } else {
            from = s->cur.len > s->o->overlap ? s->cur.len - s->o->overlap : 0;
            while (from < s->cur.len && s->cur.data[from] != ' ')
                from++;
            from = from < s->cur.len ? from + 1 : s->cur.len;
        }
        keep = s->cur.len - from;
    }
    if (keep) {
        memmove(s->cur.data, s->cur.data + from, keep);
        s->cur.len = keep;
        s->cur.data[keep] = '\0';
        s->pfrom = s->pto;
    } else {
        rh_buf_reset(&s->cur);
    }
    s->last_para = 0;
    return RH_OK;
}

static int add_piece(state *s, const char *t, size_t n, int page)
{
    int rc;
    if (s->cur.len && s->cur.len + 2 + n > s->o->target && (rc = flush(s, 1)))
        return rc;
    if (!s->cur.len)
        s->pfrom = page;
    if (s->cur.len && (rc = rh_buf_append(&s->cur, "\n\n", 2)))
        return rh_error_set(s->err, rc, "chunk too long");
    s->last_para = s->cur.len;
    if ((rc = rh_buf_append(&s->cur, t, n)))
        return rh_error_set(s->err, rc, "chunk too long");
    s->pto = page;
    return RH_OK;
}

static int add_para(state *s, const char *t, size_t n, int page)
{
    size_t target = s->o->target;
    while (n > target) {
        /* cut at the last sentence end, else the last space, in the window */
        size_t lo = target / 2, cut = 0;
        for (size_t i = target; i > lo; i--) {
            if (t[i] == ' ' && (t[i - 1] == '.' || t[i - 1] == ';' || t[i - 1] == ':')) {
                cut = i;
                break;
            }
        }
        for (size_t i = target; !cut && i > lo; i--)
            if (t[i] == ' ')
                cut = i;
        if (!cut)
            cut = utf8_back(t, target);
        int rc = add_piece(s, t, cut, page);
        if (rc)
            return rc;
        while (cut < n && t[cut] == ' ')
            cut++;
        t += cut;
        n -= cut;
    }
    return n ? add_piece(s, t, n, page) : RH_OK;
}

int rh_chunk_doc(const rh_kdoc *doc, const char *name, const rh_chunk_opts *o, rh_kchunks *out,
                 rh_error *err)
{
    rh_chunk_opts def;
    if (!o) {
        rh_chunk_opts_default(&def);
        o = &def;
    }
    if (o->target < 100)
        return rh_error_set(err, RH_EINVAL, "chunk target size must be at least 100");
    memset(out, 0, sizeof *out);
    state s = {0};
    s.o = o;
    s.out = out;
    s.err = err;
    s.root = doc->abbrev && *doc->abbrev ? doc->abbrev
             : doc->title && *doc->title ? doc->title
             : name ? name
                    : "";
    rh_buf_init(&s.cur, o->target * 4 + 65536);
    int rc = RH_OK;
    size_t title_len = doc->title ? strlen(doc->title) : 0;
    for (size_t i = 0; i < doc->n && !rc; i++) {
        const rh_kblock *b = &doc->blocks[i];
        if (b->kind == RH_KBLOCK_HEADING) {
            if ((rc = flush(&s, 0)))
                break;
            int lv = b->level;
            if (lv == 1 && title_len && strncmp(b->text, doc->title, title_len) == 0)
                continue; /* the title itself */
            for (int l = lv; l <= 6; l++) {
                rh_free(s.stack[l]);
                s.stack[l] = NULL;
            }
            s.stack[lv] = rh_strdup(b->text);
            if (!s.stack[lv])
                rc = rh_error_set(err, RH_ENOMEM, "out of memory");
        } else {
            rc = add_para(&s, b->text, b->len, b->page);
        }
    }
    if (!rc)
        rc = flush(&s, 0);
    for (int l = 0; l <= 6; l++)
        rh_free(s.stack[l]);
    rh_buf_free(&s.cur);
    if (rc)
        rh_kchunks_free(out);
    return rc;
}
