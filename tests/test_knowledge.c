/*
 * test_knowledge.c - tests of the knowledge subsystem (prefix kn_): German
 * analysis, FTS5 tokenizer, chunker, extractors, ingestion (idempotence,
 * changes, deletions, bad files), search ranking and the retrieval
 * evaluation on the law corpus of ../shared/testdata.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "knowledge/analyzer.h"
#include "knowledge/chunker.h"
#include "knowledge/eval.h"
#include "knowledge/extract.h"
#include "knowledge/ingest.h"
#include "knowledge/search.h"
#include "store/kstore.h"
#include "test.h"

/* Measured on the law corpus (docs/knowledge.md), floors a little below. */
#define KN_RECALL10_FLOOR 0.72
#define KN_MRR10_FLOOR 0.48

/* ---- helpers ---- */

typedef struct toks {
    char t[64][RH_KAN_TERM_MAX + 1];
    size_t start[64], end[64];
    int col[64];
    size_t n;
} toks;

static int collect(void *ctx, const char *t, size_t n, size_t s, size_t e, int col)
{
    toks *k = ctx;
    if (k->n < 64) {
        memcpy(k->t[k->n], t, n);
        k->t[k->n][n] = '\0';
        k->start[k->n] = s;
        k->end[k->n] = e;
        k->col[k->n] = col;
        k->n++;
    }
    return 0;
}

static void analyse(unsigned flags, const char *text, toks *out)
{
    rh_kan *a = NULL;
    memset(out, 0, sizeof *out);
    ASSERT_EQ(rh_kan_new(flags, &a, NULL), RH_OK);
    ASSERT_EQ(rh_kan_run(a, text, strlen(text), collect, out), 0);
    rh_kan_free(a);
}

static void term_of(const char *w, char *out)
{
    rh_kan *a = NULL;
    ASSERT_EQ(rh_kan_new(RH_KAN_STEM, &a, NULL), RH_OK);
    rh_kan_term(a, w, strlen(w), out, RH_KAN_TERM_MAX + 1);
    rh_kan_free(a);
}

static void write_file(const char *dir, const char *name, const char *data, size_t len)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    ASSERT(f != NULL);
    ASSERT_EQ(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void write_str(const char *dir, const char *name, const char *s)
{
    write_file(dir, name, s, strlen(s));
}

typedef struct counts {
    int ok, unchanged, error, skipped, removed;
    char last_error[512];
} counts;

static void on_file(void *ctx, const char *path, int status, const char *msg, size_t n)
{
    (void)path;
    (void)n;
    counts *c = ctx;
    if (status == RH_INGEST_OK)
        c->ok++;
    if (status == RH_INGEST_UNCHANGED)
        c->unchanged++;
    if (status == RH_INGEST_ERROR) {
        c->error++;
        snprintf(c->last_error, sizeof c->last_error, "%s", msg ? msg : "");
    }
    if (status == RH_INGEST_SKIPPED)
        c->skipped++;
    if (status == RH_INGEST_REMOVED)
        c->removed++;
}

static void ingest(kstore *ks, int64_t coll, const char *path, counts *c)
{
    rh_ingest_summary sum;
    rh_error err = {0};
    memset(c, 0, sizeof *c);
    const char *paths[1] = {path};
    int rc = rh_ingest_paths(ks, coll, paths, 1, NULL, on_file, c, &sum, &err);
    if (rc != RH_OK)
        FAIL("ingest failed: %s", err.msg);
}

/* Number of hits for a query; the heading/path of the first into out. */
static size_t search(kstore *ks, int64_t coll, const char *q, unsigned features, char *first,
                     size_t cap)
{
    rh_ksearcher *s = NULL;
    rh_error err = {0};
    ASSERT_EQ(rh_ksearcher_new(ks, &s, &err), RH_OK);
    rh_ksearch_opts o;
    rh_ksearch_opts_default(&o);
    o.features = features;
    kstore_hit *h = NULL;
    size_t n = 0;
    if (rh_ksearch(s, coll, q, &o, &h, &n, &err) != RH_OK)
        FAIL("search: %s", err.msg);
    if (first && cap) {
        first[0] = '\0';
        if (n)
            snprintf(first, cap, "%s | %s | %s", h[0].path, h[0].heading, h[0].text);
    }
    rh_ksearch_hits_free(h, n);
    rh_ksearcher_free(s);
    return n;
}

static kstore *open_store(int64_t *coll)
{
    kstore *ks = NULL;
    rh_error err = {0};
    char db[1024];
    snprintf(db, sizeof db, "%s/k.db", test_tmpdir());
    if (kstore_open(db, &ks, &err) != RH_OK)
        FAIL("open: %s", err.msg);
    ASSERT_EQ(kstore_collection_ensure(ks, 1, "test", "", coll, &err), RH_OK);
    return ks;
}

/* ---- analyzer ---- */

TEST(kn_analyzer_folding_umlauts)
{
    char a[RH_KAN_TERM_MAX + 1], b[RH_KAN_TERM_MAX + 1];
    term_of("Straße", a);
    term_of("Strasse", b);
    ASSERT_STREQ(a, b);
    term_of("Ärzte", a);
    term_of("Aerzte", b);
    ASSERT_STREQ(a, b);
    term_of("ÄRZTE", b);
    ASSERT_STREQ(a, b);
    term_of("Arzt", b);
    ASSERT_STREQ(a, b);
    term_of("Gebühren", a);
    term_of("Gebuehr", b);
    ASSERT_STREQ(a, b);
    term_of("Genehmigungen", a);
    term_of("Genehmigung", b);
    ASSERT_STREQ(a, b);
    term_of("Café", a);
    term_of("cafe", b);
    ASSERT_STREQ(a, b);
    /* "ue" after q stays: Quelle is not Qülle, but both spellings agree */
    term_of("Quelle", a);
    term_of("QUELLE", b);
    ASSERT_STREQ(a, b);
    /* different words stay different */
    term_of("Bau", a);
    term_of("Bauer", b);
    ASSERT(strcmp(a, b) != 0);
}

TEST(kn_analyzer_words_and_stopwords)
{
    toks t;
    analyse(RH_KAN_STEM, "Wie lange gilt der Ausweis? § 17 (2013)", &t);
    ASSERT_EQ(t.n, 7);
    ASSERT_STREQ(t.t[0], "wie");
    ASSERT_STREQ(t.t[5], "17");
    ASSERT_STREQ(t.t[6], "2013");
    analyse(RH_KAN_STEM | RH_KAN_STOPWORDS, "Wie lange gilt der Ausweis?", &t);
    ASSERT_EQ(t.n, 2); /* lange, ausweis */
    ASSERT(rh_kan_is_stopword("Über", strlen("Über")));
    ASSERT(!rh_kan_is_stopword("Ausweis", 7));
    /* invalid UTF-8 separates words, never crashes */
    analyse(RH_KAN_STEM | RH_KAN_COMPOUND, "Bau\xff\xfe" "amt \xc3", &t);
    ASSERT_EQ(t.n, 2);
}

TEST(kn_analyzer_compound_colocated)
{
    if (!rh_kan_dict_words())
        SKIP("German dictionary /usr/share/hunspell/de_DE.dic not installed");
    toks t;
    analyse(RH_KAN_STEM | RH_KAN_COMPOUND, "die Baugenehmigung", &t);
    ASSERT_EQ(t.n, 4);
    ASSERT_STREQ(t.t[1], "baugenehm");
    ASSERT_EQ(t.col[1], 0);
    ASSERT_STREQ(t.t[2], "bau");
    ASSERT_EQ(t.col[2], 1);
    ASSERT_STREQ(t.t[3], "genehm");
    ASSERT_EQ(t.col[3], 1);
    ASSERT_EQ(t.start[2], t.start[1]);
    ASSERT_EQ(t.end[3], t.end[1]);
    /* linking element: Wohnung-s-wechsel */
    analyse(RH_KAN_STEM | RH_KAN_COMPOUND, "Wohnungswechsel", &t);
    ASSERT_EQ(t.n, 3);
    ASSERT_STREQ(t.t[1], "wohnung");
    ASSERT_STREQ(t.t[2], "wechsel");
    /* no nonsense split of a prefixed word or a suffix */
    analyse(RH_KAN_STEM | RH_KAN_COMPOUND, "Verwaltung Zustellung", &t);
    ASSERT_EQ(t.n, 2);
}

/* ---- FTS5 tokenizer + search ---- */

TEST(kn_fts_compound_search)
{
    if (!rh_kan_dict_words())
        SKIP("German dictionary not installed");
    int64_t coll = 0;
    kstore *ks = open_store(&coll);
    rh_error err = {0};
    kstore_chunk_in c1[] = {{"A › § 1", 0, 0, "Die Genehmigung eines Bauvorhabens ist schriftlich."}};
    kstore_chunk_in c2[] = {{"B › § 2", 0, 0, "Die Gebühr für die Baugenehmigung beträgt 50 Euro."}};
    kstore_chunk_in c3[] = {{"C › § 3", 0, 0, "Der Hund ist an der Leine zu führen."}};
    kstore_doc d = {0};
    d.path = "/x/a.md";
    d.title = "A";
    ASSERT_EQ(kstore_document_put(ks, 1, coll, &d, c1, 1, NULL, &err), RH_OK);
    d.path = "/x/b.md";
    d.title = "B";
    ASSERT_EQ(kstore_document_put(ks, 1, coll, &d, c2, 1, NULL, &err), RH_OK);
    d.path = "/x/c.md";
    d.title = "C";
    ASSERT_EQ(kstore_document_put(ks, 1, coll, &d, c3, 1, NULL, &err), RH_OK);
    unsigned f = RH_KS_STEM | RH_KS_COMPOUND;
    ASSERT_EQ(search(ks, coll, "Baugenehmigung", f, NULL, 0), 2);
    ASSERT_EQ(search(ks, coll, "Genehmigung eines Bauvorhabens", f, NULL, 0), 2);
    ASSERT_EQ(search(ks, coll, "Gebuehren", f, NULL, 0), 1);
    /* without compound analysis only the exact word form matches */
    ASSERT_EQ(search(ks, coll, "Baugenehmigung", RH_KS_STEM, NULL, 0), 1);
    /* the plain baseline knows no stemming */
    ASSERT_EQ(search(ks, coll, "Gebühren", 0, NULL, 0), 0);
    ASSERT_EQ(search(ks, coll, "Gebühr", 0, NULL, 0), 1);
    /* stop words only: nothing to search */
    ASSERT_EQ(search(ks, coll, "wie und oder", f, NULL, 0), 0);
    /* FTS5 syntax in a question is just text */
    ASSERT_EQ(search(ks, coll, "\"Hund\" AND NOT ( NEAR* ^", f, NULL, 0), 1);
    kstore_close(ks);
}

/* ---- chunker ---- */

TEST(kn_chunker_headings_sizes_overlap)
{
    rh_kdoc doc;
    rh_kdoc_init(&doc, 0, 0);
    rh_error err = {0};
    char para[401];
    static const char md[] =
        "---\nTitle: Testgesetz\njurabk: TG\n---\n\n# Testgesetz (TG)\n\nVorspann.\n\n"
        "## Teil 1 - Allgemeines\n\n### § 1 Zweck\n\nDieses Gesetz regelt den Test.\n\n"
        "### § 2 Begriffe\n\n(1) Erster Absatz.\n\n## Teil 2 - Lang\n\n### § 17 Lang\n\n";
    rh_buf b;
    rh_buf_init(&b, 1 << 20);
    ASSERT_EQ(rh_buf_appends(&b, md), RH_OK);
    for (int i = 0; i < 8; i++) {
        memset(para, 'a' + i, 400);
        para[400] = '\0';
        for (int j = 50; j < 400; j += 51)
            para[j] = ' ';
        ASSERT_EQ(rh_buf_appendf(&b, "(%d) %s\n\n", i + 1, para), RH_OK);
    }
    ASSERT_EQ(rh_extract_md(b.data, b.len, &doc, &err), RH_OK);
    ASSERT_STREQ(doc.title, "Testgesetz");
    ASSERT_STREQ(doc.abbrev, "TG");
    rh_chunk_opts o = {1200, 500, 0};
    rh_kchunks ch;
    ASSERT_EQ(rh_chunk_doc(&doc, "tg.md", &o, &ch, &err), RH_OK);
    ASSERT(ch.n >= 5);
    ASSERT_STREQ(ch.v[0].heading, "TG");
    ASSERT_STREQ(ch.v[0].text, "Vorspann.");
    ASSERT_STREQ(ch.v[1].heading, "TG › Teil 1 - Allgemeines › § 1 Zweck");
    ASSERT_STREQ(ch.v[1].text, "Dieses Gesetz regelt den Test.");
    ASSERT_STREQ(ch.v[2].heading, "TG › Teil 1 - Allgemeines › § 2 Begriffe");
    /* § 17 (8 x 405 chars) is split into pieces <= target with overlap */
    size_t n17 = 0;
    for (size_t i = 3; i < ch.n; i++) {
        ASSERT_STREQ(ch.v[i].heading, "TG › Teil 2 - Lang › § 17 Lang");
        ASSERT(strlen(ch.v[i].text) <= 1200);
        if (i > 3) /* starts with the last paragraph of the previous piece */
            ASSERT(strncmp(ch.v[i].text, strrchr(ch.v[i - 1].text, '(') ,
                           strlen(strrchr(ch.v[i - 1].text, '('))) == 0);
        n17++;
    }
    ASSERT(n17 >= 3);
    rh_kchunks_free(&ch);
    /* one overlong paragraph is cut at spaces, with a character overlap */
    rh_kdoc_free(&doc);
    rh_kdoc_init(&doc, 0, 0);
    rh_buf_reset(&b);
    for (int i = 0; i < 600; i++)
        ASSERT_EQ(rh_buf_appendf(&b, "Wort%d. ", i), RH_OK);
    ASSERT_EQ(rh_extract_txt(b.data, b.len, &doc, &err), RH_OK);
    rh_chunk_opts o2 = {1000, 100, 0};
    ASSERT_EQ(rh_chunk_doc(&doc, "x.txt", &o2, &ch, &err), RH_OK);
    ASSERT(ch.n >= 4);
    for (size_t i = 0; i < ch.n; i++) {
        ASSERT(strlen(ch.v[i].text) <= 1000 + 100 + 2);
        ASSERT_STREQ(ch.v[i].heading, "x.txt");
    }
    /* the end of piece 0 reappears at the start of piece 1 */
    const char *end0 = ch.v[0].text + strlen(ch.v[0].text) - 20;
    ASSERT(strstr(ch.v[1].text, end0) != NULL);
    ASSERT(strstr(ch.v[1].text, end0) < ch.v[1].text + 120);
    rh_kchunks_free(&ch);
    rh_kdoc_free(&doc);
    rh_buf_free(&b);
}

TEST(kn_chunker_law_file)
{
    const char *path = test_data_path("corpus/gesetze/bmg.md");
    size_t len = 0;
    char *data = test_read_file(path, &len);
    ASSERT(data != NULL);
    rh_kdoc doc;
    rh_kdoc_init(&doc, 0, 0);
    rh_error err = {0};
    ASSERT_EQ(rh_extract_md(data, len, &doc, &err), RH_OK);
    ASSERT_STREQ(doc.abbrev, "BMG");
    rh_kchunks ch;
    ASSERT_EQ(rh_chunk_doc(&doc, "bmg.md", NULL, &ch, &err), RH_OK);
    size_t n17 = 0, n_para = 0;
    for (size_t i = 0; i < ch.n; i++) {
        ASSERT(strncmp(ch.v[i].heading, "BMG", 3) == 0);
        ASSERT(strlen(ch.v[i].text) <= 1200 * 3 / 2);
        if (strstr(ch.v[i].heading, "› § 17 Anmeldung, Abmeldung"))
            n17++;
        if (strstr(ch.v[i].heading, "› §"))
            n_para++;
    }
    ASSERT_EQ(n17, 1); /* § 17 fits in one chunk */
    /* every § heading of the file gives at least one chunk */
    size_t heads = 0;
    for (size_t i = 0; i < doc.n; i++)
        if (doc.blocks[i].kind == RH_KBLOCK_HEADING && strncmp(doc.blocks[i].text, "§", 2) == 0)
            heads++;
    ASSERT(heads > 50);
    ASSERT(n_para >= heads - 5); /* a few repealed §§ have no text */
    rh_kchunks_free(&ch);
    rh_kdoc_free(&doc);
    rh_free(data);
}

/* ---- extractors ---- */

TEST(kn_extract_html)
{
    static const char html[] =
        "<!DOCTYPE html><html><head><title>Satzung</title><style>p{}</style>"
        "<script>var geheim=1;</script></head><body><h1>Satzung</h1>"
        "<h2>§ 1 Geltung</h2><p>Diese <b>Satzung</b> gilt<br>überall.</p>"
        "<ul><li>Punkt eins</li><li>Punkt zwei</li></ul><div>lose Text</div></body></html>";
    rh_kdoc doc;
    rh_kdoc_init(&doc, 0, 0);
    rh_error err = {0};
    ASSERT_EQ(rh_extract_html(html, sizeof html - 1, &doc, &err), RH_OK);
    ASSERT_STREQ(doc.title, "Satzung");
    ASSERT(doc.n >= 5);
    ASSERT_EQ(doc.blocks[0].kind, RH_KBLOCK_HEADING);
    ASSERT_EQ(doc.blocks[1].level, 2);
    ASSERT_STREQ(doc.blocks[1].text, "§ 1 Geltung");
    ASSERT_STREQ(doc.blocks[2].text, "Diese Satzung gilt überall.");
    ASSERT_STREQ(doc.blocks[3].text, "Punkt eins");
    for (size_t i = 0; i < doc.n; i++)
        ASSERT(strstr(doc.blocks[i].text, "geheim") == NULL);
    rh_kdoc_free(&doc);
    /* text decoding: Latin-1 is converted, NUL bytes refused */
    char *out = NULL;
    size_t n = 0;
    ASSERT_EQ(rh_extract_decode_text("Stra\xdf" "e", 6, &out, &n, &err), RH_OK);
    ASSERT_STREQ(out, "Straße");
    rh_free(out);
    ASSERT_EQ(rh_extract_decode_text("ab\0cd", 5, &out, &n, &err), RH_EFORMAT);
    ASSERT(rh_extract_for_path("/a/b.HTM") != NULL);
    ASSERT(rh_extract_for_path("/a/b.md") != NULL);
    ASSERT(rh_extract_for_path("/a/b") == NULL);
    ASSERT(rh_extract_for_path("/a/.txt") == NULL);
}

/* ---- ingestion ---- */

TEST(kn_ingest_idempotent_change_delete)
{
    int64_t coll = 0;
    kstore *ks = open_store(&coll);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/docs", test_tmpdir());
    ASSERT_EQ(mkdir(dir, 0700), 0);
    char sub[1100];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    ASSERT_EQ(mkdir(sub, 0700), 0);
    write_str(dir, "a.md", "# Hundesteuer\n\nDie Hundesteuer beträgt 100 Euro.\n");
    write_str(sub, "b.txt", "Die Zweitwohnungsteuer wird jährlich erhoben.\n");
    write_str(dir, "c.bin", "ignored");
    counts c;
    ingest(ks, coll, dir, &c);
    ASSERT_EQ(c.ok, 2);
    ASSERT_EQ(c.error, 0);
    unsigned f = RH_KS_FULL;
    ASSERT_EQ(search(ks, coll, "Hundesteuer", f, NULL, 0), 1);
    /* again: nothing changes */
    ingest(ks, coll, dir, &c);
    ASSERT_EQ(c.ok, 0);
    ASSERT_EQ(c.unchanged, 2);
    /* change a file: its chunks are replaced */
    write_str(dir, "a.md", "# Katzenfutter\n\nDas Katzenfutter kostet 5 Euro.\n");
    ingest(ks, coll, dir, &c);
    ASSERT_EQ(c.ok, 1);
    ASSERT_EQ(c.unchanged, 1);
    ASSERT_EQ(search(ks, coll, "Hundesteuer", f, NULL, 0), 0);
    ASSERT_EQ(search(ks, coll, "Katzenfutter", f, NULL, 0), 1);
    /* delete a file: its document goes */
    char p[1200];
    snprintf(p, sizeof p, "%s/b.txt", sub);
    ASSERT_EQ(unlink(p), 0);
    ingest(ks, coll, dir, &c);
    ASSERT_EQ(c.removed, 1);
    ASSERT_EQ(search(ks, coll, "Zweitwohnungsteuer", f, NULL, 0), 0);
    kstore_stats st;
    rh_error err = {0};
    ASSERT_EQ(kstore_stats_get(ks, 1, coll, &st, &err), RH_OK);
    ASSERT_EQ(st.documents, 1);
    ASSERT_EQ(st.chunks, 1);
    /* another tenant sees nothing */
    rh_ksearcher *s = NULL;
    ASSERT_EQ(rh_ksearcher_new(ks, &s, &err), RH_OK);
    rh_ksearch_opts o;
    rh_ksearch_opts_default(&o);
    o.tenant = 2;
    kstore_hit *h = NULL;
    size_t n = 0;
    ASSERT_EQ(rh_ksearch(s, coll, "Katzenfutter", &o, &h, &n, &err), RH_OK);
    ASSERT_EQ(n, 0);
    rh_ksearcher_free(s);
    kstore_close(ks);
}

TEST(kn_ingest_bad_files)
{
    int64_t coll = 0;
    kstore *ks = open_store(&coll);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/bad", test_tmpdir());
    ASSERT_EQ(mkdir(dir, 0700), 0);
    /* a secret an external entity would pull in */
    char secret[1100];
    snprintf(secret, sizeof secret, "%s/secret.dat", test_tmpdir());
    FILE *f = fopen(secret, "w");
    ASSERT(f != NULL);
    fputs("Geheimwort Zauberkessel\n", f);
    fclose(f);
    char garbage[4096];
    unsigned x = 12345;
    for (size_t i = 0; i < sizeof garbage; i++) {
        x = x * 1103515245u + 12345u;
        garbage[i] = (char)(x >> 16);
    }
    write_file(dir, "garbage.txt", garbage, sizeof garbage);
    write_file(dir, "empty.txt", "", 0);
    char html[4096];
    snprintf(html, sizeof html,
             "<?xml version=\"1.0\"?>\n<!DOCTYPE html SYSTEM \"file://%s\" [\n"
             "<!ENTITY xxe SYSTEM \"file://%s\">]>\n<html><body><h1>Entity</h1>"
             "<p>Vorher &xxe; nachher Rathausglocke</p></body></html>\n",
             secret, secret);
    write_str(dir, "entity.html", html);
    write_str(dir, "good.md", "# Gut\n\nDie Friedhofsgebühr wird erhoben.\n");
    counts c;
    ingest(ks, coll, dir, &c);
    ASSERT_EQ(c.error, 2); /* garbage, empty */
    ASSERT_EQ(c.ok, 2);    /* entity.html (without the entity), good.md */
    ASSERT_EQ(search(ks, coll, "Friedhofsgebühr", RH_KS_FULL, NULL, 0), 1);
    ASSERT_EQ(search(ks, coll, "Rathausglocke", RH_KS_FULL, NULL, 0), 1);
    ASSERT_EQ(search(ks, coll, "Zauberkessel", RH_KS_FULL, NULL, 0), 0);
    ASSERT_EQ(search(ks, coll, "Zauberkessel", 0, NULL, 0), 0);
    /* the errors are recorded per document */
    kstore_doc d;
    rh_error err = {0};
    char p[1200];
    snprintf(p, sizeof p, "%s/empty.txt", dir);
    char rp[4096];
    ASSERT(realpath(p, rp) != NULL);
    ASSERT_EQ(kstore_document_get(ks, 1, coll, rp, &d, &err), RH_OK);
    ASSERT_STREQ(d.status, "error");
    ASSERT(d.error && strstr(d.error, "empty"));
    kstore_doc_clear(&d);
    /* a good file turning bad keeps its indexed text */
    write_file(dir, "good.md", garbage, sizeof garbage);
    ingest(ks, coll, dir, &c);
    ASSERT(c.error >= 3);
    ASSERT_EQ(search(ks, coll, "Friedhofsgebühr", RH_KS_FULL, NULL, 0), 1);
    /* size limit */
    rh_ingest_opts o;
    rh_ingest_opts_default(&o);
    o.max_file_bytes = 10;
    write_str(dir, "big.txt", "Dieser Text ist länger als zehn Bytes.");
    const char *paths[1] = {dir};
    rh_ingest_summary sum;
    memset(&c, 0, sizeof c);
    ASSERT_EQ(rh_ingest_paths(ks, coll, paths, 1, &o, on_file, &c, &sum, &err), RH_OK);
    ASSERT(strstr(c.last_error, "too large") || c.error >= 4);
    /* time limit per file */
    o.max_file_bytes = 1 << 20;
    o.max_file_seconds = 1e-9;
    write_str(dir, "slow.md", "# Langsam\n\nDie Schneckenpost kommt an.\n");
    memset(&c, 0, sizeof c);
    ASSERT_EQ(rh_ingest_paths(ks, coll, paths, 1, &o, on_file, &c, &sum, &err), RH_OK);
    ASSERT(c.error >= 1);
    ASSERT_EQ(search(ks, coll, "Schneckenpost", RH_KS_FULL, NULL, 0), 0);
    /* a missing path is reported, not fatal */
    const char *missing[2] = {"/nonexistent/rathaus/x.md", dir};
    ASSERT_EQ(rh_ingest_paths(ks, coll, missing, 2, NULL, on_file, &c, &sum, &err), RH_OK);
    kstore_close(ks);
}

/* ---- ranking on real law texts ---- */

TEST_TIMEOUT(kn_search_law_ranking, 120)
{
    const char *dir = test_data_path("corpus/gesetze");
    int64_t coll = 0;
    kstore *ks = open_store(&coll);
    char p[1024];
    counts c;
    static const char *const files[] = {"bmg.md", "pauswg.md", "vwvfg.md"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        ingest(ks, coll, p, &c);
        ASSERT_EQ(c.ok, 1);
    }
    static const struct {
        const char *q, *doc, *sec;
    } cases[] = {
        {"Begriff des Verwaltungsaktes", "vwvfg.md", "§ 35"},
        {"Gültigkeitsdauer des Personalausweises", "pauswg.md", "§ 6"},
        {"Mitwirkung des Wohnungsgebers beim Einzug", "bmg.md", "§ 19"},
        {"Wie lange ist ein Personalausweis gültig?", "pauswg.md", "§ 6"},
        {"Muss ein Bescheid begründet werden?", "vwvfg.md", "§ 39"},
        {"Anmeldung und Abmeldung einer Wohnung bei der Meldebehörde", "bmg.md", "§ 17"},
        {"§ 17 BMG", "bmg.md", "§ 17"},
        {"Was regelt §35 VwVfG?", "vwvfg.md", "§ 35"},
        {"§ 6 PAuswG", "pauswg.md", "§ 6"},
    };
    rh_ksearcher *s = NULL;
    rh_error err = {0};
    ASSERT_EQ(rh_ksearcher_new(ks, &s, &err), RH_OK);
    rh_ksearch_opts o;
    rh_ksearch_opts_default(&o);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kstore_hit *h = NULL;
        size_t n = 0;
        ASSERT_EQ(rh_ksearch(s, coll, cases[i].q, &o, &h, &n, &err), RH_OK);
        ASSERT(n > 0);
        if (!rh_keval_is_hit(h[0].path, h[0].heading, cases[i].doc, cases[i].sec))
            FAIL("'%s': first is %s | %s", cases[i].q, h[0].path, h[0].heading);
        rh_ksearch_hits_free(h, n);
    }
    /* the statute's abbreviation is a term */
    char first[4096];
    ASSERT(search(ks, coll, "VwVfG", RH_KS_FULL, first, sizeof first) > 0);
    ASSERT(strstr(first, "vwvfg.md |") != NULL);
    ASSERT(search(ks, coll, "PAuswG", RH_KS_FULL, first, sizeof first) > 0);
    ASSERT(strstr(first, "pauswg.md |") != NULL);
    rh_ksearcher_free(s);
    kstore_close(ks);
}

TEST(kn_eval_hit_rule)
{
    ASSERT(rh_keval_is_hit("/x/bmg.md", "BMG › § 17 Anmeldung", "bmg.md", "§ 17"));
    ASSERT(!rh_keval_is_hit("/x/bmg.md", "BMG › § 170 Foo", "bmg.md", "§ 17"));
    ASSERT(!rh_keval_is_hit("/x/bmg.md", "BMG › § 17a Foo", "bmg.md", "§ 17"));
    ASSERT(!rh_keval_is_hit("/x/bmg.md", "BMG › § 117 Foo", "bmg.md", "§ 17"));
    ASSERT(!rh_keval_is_hit("/x/xbmg.md", "BMG › § 17", "bmg.md", "§ 17"));
    ASSERT(rh_keval_is_hit("gg.md", "GG › II. › Art 28", "gg.md", "Art 28"));
    unsigned f = 0;
    rh_error err = {0};
    ASSERT_EQ(rh_ksearch_parse_mode("stem+compound", &f, &err), RH_OK);
    ASSERT_EQ(f, RH_KS_STEM | RH_KS_COMPOUND);
    ASSERT_EQ(rh_ksearch_parse_mode("full", &f, &err), RH_OK);
    ASSERT_EQ(f, RH_KS_FULL);
    ASSERT_EQ(rh_ksearch_parse_mode("plain", &f, &err), RH_OK);
    ASSERT_EQ(f, 0);
    ASSERT_EQ(rh_ksearch_parse_mode("stem+bogus", &f, &err), RH_EINVAL);
}

/* The whole corpus and the 60 questions: a regression in any step fails. */
TEST_TIMEOUT(kn_eval_corpus_recall, 240)
{
    const char *dir = test_data_path("corpus/gesetze");
    char q[1024];
    snprintf(q, sizeof q, "eval/questions-gesetze.jsonl");
    if (access(q, R_OK) != 0)
        SKIP("eval/questions-gesetze.jsonl not found (run from the project root)");
    int64_t coll = 0;
    kstore *ks = open_store(&coll);
    counts c;
    ingest(ks, coll, dir, &c);
    ASSERT_EQ(c.ok, 16);
    rh_ksearcher *s = NULL;
    rh_error err = {0};
    ASSERT_EQ(rh_ksearcher_new(ks, &s, &err), RH_OK);
    rh_ksearch_opts o;
    rh_ksearch_opts_default(&o);
    rh_keval_result plain, full;
    o.features = 0;
    ASSERT_EQ(rh_keval_run(s, coll, q, &o, NULL, NULL, &plain, &err), RH_OK);
    o.features = RH_KS_FULL;
    ASSERT_EQ(rh_keval_run(s, coll, q, &o, NULL, NULL, &full, &err), RH_OK);
    ASSERT_EQ(full.n, 60);
    double r10 = (double)full.hit10 / (double)full.n;
    double p10 = (double)plain.hit10 / (double)plain.n;
    fprintf(stderr, "plain recall@10 %.3f, full recall@10 %.3f MRR@10 %.3f\n", p10, r10,
            full.mrr10);
    ASSERT(r10 >= KN_RECALL10_FLOOR);
    ASSERT(full.mrr10 >= KN_MRR10_FLOOR);
    ASSERT(r10 > p10 + 0.1);
    rh_ksearcher_free(s);
    kstore_close(ks);
}

/* ---- hostile input, allocation failures, the commands ---- */

static int count_terms(void *ctx, const char *t, size_t n, size_t s, size_t e, int col)
{
    (void)t;
    (void)s;
    (void)col;
    size_t *c = ctx;
    ASSERT(n > 0 && n <= RH_KAN_TERM_MAX);
    ASSERT(s < e);
    (*c)++;
    return 0;
}

TEST(kn_random_input)
{
    rh_kan *a = NULL;
    ASSERT_EQ(rh_kan_new(RH_KAN_STEM | RH_KAN_COMPOUND | RH_KAN_STOPWORDS, &a, NULL), RH_OK);
    static const char alphabet[] = "aäoöuüeßsnt #<>/-&;\n\f\x01\xc3\xa4\xe2\x80\xba\xff|*[]()`:";
    unsigned x = 99;
    char buf[3000];
    for (int round = 0; round < 300; round++) {
        size_t n = (size_t)(round * 7) % sizeof buf;
        for (size_t i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            buf[i] = round % 3 ? alphabet[(x >> 16) % (sizeof alphabet - 1)] : (char)(x >> 16);
        }
        size_t terms = 0;
        ASSERT_EQ(rh_kan_run(a, buf, n, count_terms, &terms), 0);
        static const rh_extract_fn fns[] = {rh_extract_txt, rh_extract_md, rh_extract_html};
        for (size_t f = 0; f < 3; f++) {
            rh_kdoc doc;
            rh_kdoc_init(&doc, 1 << 20, 0);
            rh_error err = {0};
            if (fns[f](buf, n, &doc, &err) == RH_OK) {
                rh_kchunks ch;
                rh_chunk_opts o = {120, 30, 0};
                if (rh_chunk_doc(&doc, "r", &o, &ch, &err) == RH_OK) {
                    for (size_t i = 0; i < ch.n; i++)
                        ASSERT(strlen(ch.v[i].text) <= 120 + 30 + 2);
                    rh_kchunks_free(&ch);
                }
            }
            rh_kdoc_free(&doc);
        }
    }
    rh_kan_free(a);
}

TEST(kn_alloc_failures)
{
    static const char md[] = "---\nTitle: T\n---\n# T\n\n## Teil 1\n\n### § 1 Zweck\n\n"
                             "Die Baugenehmigung wird erteilt.\n\nZweiter Absatz.\n";
    /* extraction + chunking: every allocation failure is an error, never a crash */
    long fail_ok = -1;
    for (long fail = 0; fail < 200 && fail_ok < 0; fail++) {
        rh_kdoc doc;
        rh_kdoc_init(&doc, 0, 0);
        rh_error err = {0};
        rh_alloc_fail_after(fail);
        int rc = rh_extract_md(md, sizeof md - 1, &doc, &err);
        rh_kchunks ch = {0};
        if (rc == RH_OK)
            rc = rh_chunk_doc(&doc, "t.md", NULL, &ch, &err);
        rh_alloc_fail_reset();
        if (rc == RH_OK) {
            ASSERT_EQ(ch.n, 1);
            rh_kchunks_free(&ch);
            fail_ok = fail;
        }
        rh_kdoc_free(&doc);
    }
    ASSERT(fail_ok > 5); /* several failure points were walked before success */
    /* ingestion into a store: failures give errors, and afterwards it works */
    int64_t coll = 0;
    kstore *ks = open_store(&coll);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/af", test_tmpdir());
    ASSERT_EQ(mkdir(dir, 0700), 0);
    write_str(dir, "a.md", md);
    for (long fail = 0; fail < 400; fail += 3) {
        rh_ingest_summary sum;
        rh_error err = {0};
        const char *paths[1] = {dir};
        rh_alloc_fail_after(fail);
        (void)rh_ingest_paths(ks, coll, paths, 1, NULL, NULL, NULL, &sum, &err);
        rh_alloc_fail_reset();
    }
    counts c;
    ingest(ks, coll, dir, &c);
    ASSERT_EQ(c.ok + c.unchanged, 1);
    ASSERT_EQ(search(ks, coll, "Genehmigung", RH_KS_FULL, NULL, 0), 1);
    kstore_close(ks);
}

TEST(kn_commands)
{
    char dir[1024], db[1100], q[1100];
    snprintf(dir, sizeof dir, "%s/cmd", test_tmpdir());
    ASSERT_EQ(mkdir(dir, 0700), 0);
    snprintf(db, sizeof db, "%s/k.db", test_tmpdir());
    snprintf(q, sizeof q, "%s/q.jsonl", test_tmpdir());
    write_str(dir, "satzung.md",
              "---\nTitle: Hundesteuersatzung\njurabk: HStS\n---\n\n# Hundesteuersatzung\n\n"
              "## § 1 Steuergegenstand\n\nDas Halten von Hunden ist steuerpflichtig.\n\n"
              "## § 2 Steuersatz\n\nDie Steuer beträgt für den ersten Hund 100 Euro.\n");
    write_str(test_tmpdir(), "q.jsonl",
              "{\"q\": \"Wie viel Steuer kostet mein Hund?\", \"doc\": \"satzung.md\", "
              "\"section\": \"§ 2\"}\n");
    fflush(stdout);
    int saved = dup(1), devnull = open("/dev/null", O_WRONLY);
    ASSERT(saved >= 0 && devnull >= 0);
    ASSERT(dup2(devnull, 1) == 1);
    char *ing[] = {"ingest", "--collection", "c", "--db", db, dir, NULL};
    char *bad[] = {"ingest", "--collection", "c", NULL};
    char *srch[] = {"search", "--collection", "c", "--db", db, "--json", "Hundesteuer", NULL};
    char *nocoll[] = {"search", "--collection", "nope", "--db", db, "Hund", NULL};
    char *ev[] = {"eval-retrieval", "--collection", "c", "--db", db, q, "--table", NULL};
    char *evbad[] = {"eval-retrieval", "--collection", "c", "--db", db, q, "--mode", "x", NULL};
    int r1 = cmd_ingest(6, ing);
    int r2 = cmd_ingest(3, bad);
    int r3 = cmd_search(7, srch);
    int r4 = cmd_search(6, nocoll);
    int r5 = cmd_eval_retrieval(7, ev);
    int r6 = cmd_eval_retrieval(8, evbad);
    fflush(stdout);
    ASSERT(dup2(saved, 1) == 1);
    close(saved);
    close(devnull);
    ASSERT_EQ(r1, 0);
    ASSERT_EQ(r2, 2);
    ASSERT_EQ(r3, 0);
    ASSERT_EQ(r4, 1);
    ASSERT_EQ(r5, 0);
    ASSERT_EQ(r6, 2);
}
