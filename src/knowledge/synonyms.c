/*
 * synonyms.c - OpenThesaurus synonym sets and the everyday -> statute word
 * table, indexed by analysed term (see synonyms.h).
 */
#include "knowledge/synonyms.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "knowledge/analyzer.h"

#define MAX_FILE (16u << 20)
#define MAX_SETS 200000u
#define MAX_LINE 8192

/* Everyday words -> words of statutes and administrative language. General
 * equivalences of German administrative law, not per-question hints;
 * docs/knowledge.md lists the table and its measured effect. */
static const char *const legal_table[][2] = {
    {"Bescheid", "Verwaltungsakt"},
    {"Amt", "Behörde"},
    {"Einwohnermeldeamt", "Meldebehörde"},
    {"Meldeamt", "Meldebehörde"},
    {"Bürgeramt", "Meldebehörde"},
    {"Adresse", "Anschrift"},
    {"Wohnsitz", "Wohnung"},
    {"Wohnort", "Wohnung"},
    {"Zweitwohnung", "Nebenwohnung"},
    {"Vermieter", "Wohnungsgeber"},
    {"Ausweis", "Personalausweis"},
    {"kosten", "Gebühr"},
    {"kostet", "Gebühr"},
    {"kosten", "Auslagen"},
    {"Strafe", "Bußgeld"},
    {"Strafe", "Ordnungswidrigkeit"},
    {"online", "elektronisch"},
    {"Internet", "elektronisch"},
    {"E-Mail", "elektronisch"},
    {"Mitarbeiter", "Beschäftigte"},
    {"Angestellte", "Beschäftigte"},
    {"Kamera", "Videoüberwachung"},
    {"Kameras", "Videoüberwachung"},
    {"verwandt", "Angehörige"},
    {"Verwandte", "Angehörige"},
    {"Jobcenter", "Leistungsträger"},
    {"Sozialamt", "Leistungsträger"},
    {"Kirche", "Religionsgesellschaft"},
    {"Stadt", "Gemeinde"},
    {"Stadtrat", "Volksvertretung"},
    {"Parlament", "Volksvertretung"},
    {"Bürgerkonto", "Nutzerkonto"},
    {"einscannen", "scannen"},
    {"bezahlen", "Zahlung"},
    {"Unterlagen", "Urkunden"},
    {"Unterlagen", "Nachweise"},
    {"beantragen", "Antrag"},
    {"falsch", "rechtswidrig"},
    {"falsche", "rechtswidrig"},
    {"richtig", "rechtmäßig"},
    {"Alter", "Lebensjahr"},
    {"verloren", "Verlust"},
    {"hoch", "Höhe"},
    {"lange", "Dauer"},
    {"verpasst", "Versäumung"},
    {"verpassen", "Versäumung"},
    {"Erlaubnis", "Genehmigung"},
    {"Mietzuschuss", "Wohngeld"},
    {"Miete", "Wohnraum"},
    {"Akte", "Akteneinsicht"},
    {"zugestellt", "Zustellung"},
    {"zurücknehmen", "Rücknahme"},
    {"widerrufen", "Widerruf"},
    {"Grundstück", "Grundfläche"},
};

#define N_LEGAL (sizeof legal_table / sizeof legal_table[0])

typedef struct post {
    uint32_t set, next; /* next: index + 1, 0 = end */
} post;

static struct {
    char *pool; /* NUL-terminated terms */
    size_t pool_len, pool_cap;
    uint32_t *set_start; /* per set: first index into members */
    uint32_t *members;   /* pool offsets */
    size_t n_sets, n_members, cap_sets, cap_members;
    /* term -> postings: open addressing, key pool offset + 1 */
    uint32_t *keys, *heads;
    size_t cap_keys, n_keys;
    post *posts;
    size_t n_posts, cap_posts;
    char legal[N_LEGAL][2][RH_KAN_TERM_MAX + 1];
} g;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 4096;
    while (nc < need)
        nc *= 2;
    void *np = rh_realloc_array(*p, nc, elem);
    if (!np)
        return -1;
    *p = np;
    *cap = nc;
    return 0;
}

static long key_find(const char *t)
{
    if (!g.cap_keys)
        return -1;
    size_t i = hash_str(t) & (g.cap_keys - 1);
    while (g.keys[i]) {
        if (strcmp(g.pool + g.keys[i] - 1, t) == 0)
            return (long)i;
        i = (i + 1) & (g.cap_keys - 1);
    }
    return -(long)i - 2;
}

static int keys_grow(void)
{
    size_t nc = g.cap_keys ? g.cap_keys * 2 : 65536;
    uint32_t *nk = rh_calloc(nc, sizeof *nk), *nh = rh_calloc(nc, sizeof *nh);
    if (!nk || !nh) {
        rh_free(nk);
        rh_free(nh);
        return -1;
    }
    for (size_t i = 0; i < g.cap_keys; i++) {
        if (!g.keys[i])
            continue;
        size_t j = hash_str(g.pool + g.keys[i] - 1) & (nc - 1);
        while (nk[j])
            j = (j + 1) & (nc - 1);
        nk[j] = g.keys[i];
        nh[j] = g.heads[i];
    }
    rh_free(g.keys);
    rh_free(g.heads);
    g.keys = nk;
    g.heads = nh;
    g.cap_keys = nc;
    return 0;
}

/* Add term t (analysed) as a member of set s. */
static int add_member(const char *t, uint32_t s)
{
    size_t tl = strlen(t);
    if ((g.n_keys + 1) * 2 > g.cap_keys && keys_grow())
        return -1;
    long k = key_find(t);
    uint32_t off;
    if (k >= 0) {
        off = g.keys[k] - 1;
        /* already a member of this set? (sets are added in order) */
        if (g.heads[k] && g.posts[g.heads[k] - 1].set == s)
            return 0;
    } else {
        if (g.pool_len + tl + 1 > UINT32_MAX - 1 ||
            grow((void **)&g.pool, &g.pool_cap, g.pool_len + tl + 1, 1))
            return -1;
        off = (uint32_t)g.pool_len;
        memcpy(g.pool + off, t, tl + 1);
        g.pool_len += tl + 1;
        k = -k - 2;
        g.keys[k] = off + 1;
        g.heads[k] = 0;
        g.n_keys++;
    }
    if (grow((void **)&g.posts, &g.cap_posts, g.n_posts + 1, sizeof *g.posts) ||
        grow((void **)&g.members, &g.cap_members, g.n_members + 1, sizeof *g.members))
        return -1;
    g.posts[g.n_posts] = (post){s, g.heads[k]};
    g.heads[k] = (uint32_t)++g.n_posts;
    g.members[g.n_members++] = off;
    return 0;
}

static void load(void)
{
    rh_kan *kan = NULL;
    if (rh_kan_new(RH_KAN_STEM, &kan, NULL) != RH_OK)
        return;
    for (size_t i = 0; i < N_LEGAL; i++)
        for (int j = 0; j < 2; j++)
            rh_kan_term(kan, legal_table[i][j], strlen(legal_table[i][j]), g.legal[i][j],
                        sizeof g.legal[i][j]);
    const char *path = getenv("RATHAUS_THESAURUS");
    if (!path || !*path)
        path = "/usr/share/openthesaurus-de/openthesaurus.txt";
    FILE *fp = fopen(path, "rb");
    char *line = rh_malloc(MAX_LINE);
    size_t total = 0;
    while (fp && line && fgets(line, MAX_LINE, fp) && g.n_sets < MAX_SETS) {
        total += strlen(line);
        if (total > MAX_FILE)
            break;
        if (line[0] == '#')
            continue;
        if (grow((void **)&g.set_start, &g.cap_sets, g.n_sets + 2, sizeof *g.set_start))
            break;
        uint32_t s = (uint32_t)g.n_sets;
        g.set_start[s] = (uint32_t)g.n_members;
        char *p = line;
        while (*p && *p != '\n') {
            size_t l = strcspn(p, ";\n");
            char term[256];
            size_t tl = 0;
            int depth = 0, words = 0, inword = 0;
            for (size_t i = 0; i < l; i++) {
                char c = p[i];
                if (c == '(')
                    depth++;
                else if (c == ')')
                    depth = depth ? depth - 1 : 0;
                else if (!depth && tl < sizeof term - 1) {
                    if (c == ' ' || c == '\t') {
                        inword = 0;
                    } else {
                        if (!inword) {
                            words++;
                            if (tl)
                                term[tl++] = ' ';
                        }
                        inword = 1;
                        term[tl++] = c;
                    }
                }
            }
            term[tl] = '\0';
            if (words == 1) {
                char a[RH_KAN_TERM_MAX + 1];
                if (rh_kan_term(kan, term, tl, a, sizeof a) >= 3 && add_member(a, s))
                    break;
            }
            p += l;
            if (*p == ';')
                p++;
        }
        if (g.n_members > g.set_start[s] + 1)
            g.n_sets++;
        else
            g.n_members = g.set_start[s]; /* a set of one is no synonym set */
        g.set_start[g.n_sets] = (uint32_t)g.n_members;
    }
    /* drop postings of discarded single-member sets: they point at sets
     * >= n_sets or at sets now holding other members; filter at lookup */
    rh_free(line);
    if (fp)
        fclose(fp);
    rh_kan_free(kan);
}

size_t rh_ksyn_sets(void)
{
    pthread_once(&once, load);
    return g.n_sets;
}

static int set_has(uint32_t s, const char *term)
{
    for (uint32_t m = g.set_start[s]; m < g.set_start[s + 1]; m++)
        if (strcmp(g.pool + g.members[m], term) == 0)
            return 1;
    return 0;
}

void rh_ksyn_thesaurus(const char *term, size_t max_sets, rh_ksyn_fn fn, void *ctx)
{
    pthread_once(&once, load);
    long k = key_find(term);
    if (k < 0)
        return;
    size_t used = 0;
    for (uint32_t p = g.heads[k]; p && used < max_sets; p = g.posts[p - 1].next) {
        uint32_t s = g.posts[p - 1].set;
        if (s >= g.n_sets || !set_has(s, term))
            continue; /* a posting of a discarded set */
        used++;
        size_t size = g.set_start[s + 1] - g.set_start[s];
        for (uint32_t m = g.set_start[s]; m < g.set_start[s + 1]; m++) {
            const char *t = g.pool + g.members[m];
            if (strcmp(t, term) != 0 && fn(ctx, t, size))
                return;
        }
    }
}

void rh_ksyn_legal(const char *term, rh_ksyn_fn fn, void *ctx)
{
    pthread_once(&once, load);
    for (size_t i = 0; i < N_LEGAL; i++)
        if (g.legal[i][0][0] && strcmp(g.legal[i][0], term) == 0 && fn(ctx, g.legal[i][1], 1))
            return;
}
