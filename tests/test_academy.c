/*
 * test_academy.c - the academy (KI-Schwimmabzeichen): content loading,
 * quiz engine, PII detector and capability matrix as units, and end to
 * end against the real server in-process (libcurl on a loopback port):
 * every level x gated endpoint, admin bypass and gating off, quiz rules,
 * award/revoke with audit entries, exports, feedback ownership, lesson
 * editing, pii_check = block on send, dashboard.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "academy/academy.h"
#include "chat/backend.h"
#include "chat/chat.h"
#include "config/config.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "store/astore.h"
#include "test.h"
#include "web/auth.h"
#include "web/web.h"
#include "web_client.h"

/* ------------------------------------------------------------ units */

TEST(acad_builtin_content_loads)
{
    academy *a;
    rh_error e;
    ASSERT_EQ(academy_load(NULL, &a, &e), RH_OK);
    ASSERT_EQ(a->n_levels, 4);
    ASSERT_STREQ(a->levels[0].id, "seepferdchen");
    ASSERT_STREQ(a->levels[1].id, "bronze");
    ASSERT_STREQ(a->levels[2].id, "silber");
    ASSERT_STREQ(a->levels[3].id, "gold");
    ASSERT_EQ(a->n_lessons, 10);
    ASSERT_STREQ(a->lessons[0].id, "sprachmodell"); /* sorted by level, order */
    ASSERT(academy_lesson_index(a, "datenschutz") >= 0);
    ASSERT(academy_lesson_index(a, "halluzinationen") >= 0);
    ASSERT(!strncmp(a->lessons[academy_lesson_index(a, "datenschutz")].markdown, "# Datenschutz", 13));
    ASSERT_EQ(a->n_questions, 25);
    ASSERT_EQ(a->pass_percent, 80);
    for (size_t i = 0; i < a->n_lessons; i++)
        ASSERT(academy_level_index(a, a->lessons[i].level) >= 0);
    academy_free(a);
}

TEST(acad_lesson_front_matter)
{
    academy_lesson l;
    rh_error e;
    const char ok[] = "---\nid: test-1\nlevel: bronze\norder: 4\ntitle: \"Ein Titel\"\nminutes: 7\n---\n\n# Text\n";
    ASSERT_EQ(academy_lesson_parse(ok, strlen(ok), "t", &l, &e), RH_OK);
    ASSERT_STREQ(l.id, "test-1");
    ASSERT_STREQ(l.title, "Ein Titel");
    ASSERT_EQ(l.order, 4);
    ASSERT_EQ(l.minutes, 7);
    ASSERT_STREQ(l.markdown, "# Text\n");
    academy_lesson_clear(&l);
    const char *bad[] = {"# no front matter\n", "---\nid: x\nlevel: bronze\ntitle: t\n", /* not closed */
                         "---\nid: X Y\nlevel: bronze\ntitle: t\n---\n", "---\nid: x\ntitle: t\n---\n",
                         "---\nid: x\nlevel: bronze\ntitle: t\norder: zwei\n---\n", "---\nnonsense\n---\n",
                         "---\nid: x\nlevel: bronze\ntitle: Stra\xdf\x65\n---\n", /* Latin-1, not UTF-8 */
                         "---\nid: x\nlevel: bronze\ntitle: t\n---\n\xc0\xaf"}; /* overlong */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (academy_lesson_parse(bad[i], strlen(bad[i]), "t", &l, &e) == RH_OK)
            FAIL("accepted bad lesson %zu", i);
}

TEST(acad_content_dir_overrides)
{
    char path[512];
    const char *d = test_tmpdir();
    snprintf(path, sizeof path, "%s/levels.json", d);
    FILE *f = fopen(path, "w");
    ASSERT(f);
    fputs("{\"levels\":[{\"id\":\"gold\",\"order\":2,\"name\":\"Meister\",\"description\":\"\"},"
          "{\"id\":\"seepferdchen\",\"order\":1,\"name\":\"Anfang\",\"description\":\"d\"},"
          "{\"id\":\"bronze\",\"order\":3,\"name\":\"B\"},{\"id\":\"silber\",\"order\":4,\"name\":\"S\"}]}",
          f);
    fclose(f);
    academy *a;
    rh_error e;
    ASSERT_EQ(academy_load(d, &a, &e), RH_OK);
    ASSERT_STREQ(a->levels[0].name, "Anfang");
    ASSERT_STREQ(a->levels[1].id, "gold");
    ASSERT_STREQ(a->levels[1].name, "Meister");
    academy_free(a);
    /* broken JSON is an error naming the file */
    f = fopen(path, "w");
    fputs("{\"levels\": [", f);
    fclose(f);
    ASSERT_NE(academy_load(d, &a, &e), RH_OK);
    ASSERT(strstr(e.msg, "levels.json"));
}

static uint32_t seq_rng(uint32_t upper, void *ud)
{
    uint32_t *s = ud;
    *s = *s * 1103515245u + 12345u;
    return (*s >> 8) % upper;
}

/* the mask of the correct shown positions of item i */
static uint32_t want_mask(const academy_quiz *qz, size_t i)
{
    uint32_t m = 0;
    for (size_t p = 0; p < qz->items[i].q->n_options; p++)
        if (qz->items[i].q->options[qz->items[i].perm[p]].correct)
            m |= 1u << p;
    return m;
}

TEST(acad_quiz_scoring_and_pass_mark)
{
    academy *a;
    rh_error e;
    ASSERT_EQ(academy_load(NULL, &a, &e), RH_OK);
    uint32_t seed = 42;
    academy_quiz qz, back;
    ASSERT_EQ(academy_quiz_new(a, "seepferdchen", 0, seq_rng, &seed, &qz), RH_OK);
    ASSERT_EQ(qz.n, 7);
    ASSERT_EQ(academy_quiz_new(a, "nope", 0, seq_rng, &seed, &back), RH_ENOTFOUND);
    /* shuffled: over several draws the first question is not always the same */
    int differs = 0;
    for (int k = 0; k < 8; k++) {
        academy_quiz q2;
        ASSERT_EQ(academy_quiz_new(a, "seepferdchen", 3, seq_rng, &seed, &q2), RH_OK);
        ASSERT_EQ(q2.n, 3);
        differs |= strcmp(q2.items[0].q->id, qz.items[0].q->id) != 0;
        academy_quiz_free(&q2);
    }
    ASSERT(differs);
    /* plan round trip */
    char *plan = NULL;
    ASSERT_EQ(academy_quiz_encode(&qz, &plan), RH_OK);
    ASSERT_EQ(academy_quiz_decode(a, plan, &back), RH_OK);
    ASSERT_EQ(back.n, qz.n);
    for (size_t i = 0; i < qz.n; i++) {
        ASSERT(back.items[i].q == qz.items[i].q);
        ASSERT(!memcmp(back.items[i].perm, qz.items[i].perm, sizeof qz.items[i].perm));
    }
    academy_quiz_free(&back);
    ASSERT_NE(academy_quiz_decode(a, "s1:0.0.1", &back), RH_OK);   /* repeated option */
    ASSERT_NE(academy_quiz_decode(a, "zz:0.1.2", &back), RH_OK);   /* unknown question */
    ASSERT_NE(academy_quiz_decode(a, "s1:0.1", &back), RH_OK);     /* too few options */
    ASSERT_NE(academy_quiz_decode(a, "", &back), RH_OK);
    rh_free(plan);
    /* all correct */
    uint32_t chosen[16];
    int right[16];
    for (size_t i = 0; i < qz.n; i++)
        chosen[i] = want_mask(&qz, i);
    ASSERT_EQ(academy_quiz_score(&qz, chosen, right), qz.n);
    /* multiple choice: one correct option missing or one wrong added -> the whole question is wrong */
    size_t multi = qz.n;
    for (size_t i = 0; i < qz.n; i++)
        if (qz.items[i].q->multiple)
            multi = i;
    ASSERT(multi < qz.n);
    uint32_t full = want_mask(&qz, multi);
    uint32_t partial = full & (full - 1); /* drop the lowest correct */
    ASSERT(partial != 0);
    chosen[multi] = partial;
    ASSERT_EQ(academy_quiz_score(&qz, chosen, right), qz.n - 1);
    ASSERT_EQ(right[multi], 0);
    uint32_t wrong_bit = 0;
    for (size_t p = 0; p < qz.items[multi].q->n_options; p++)
        if (!(full & (1u << p)))
            wrong_bit = 1u << p;
    chosen[multi] = full | wrong_bit;
    ASSERT_EQ(academy_quiz_score(&qz, chosen, NULL), qz.n - 1);
    /* single choice: the wrong option, or two options, are wrong */
    chosen[multi] = full;
    size_t single = 0;
    while (qz.items[single].q->multiple)
        single++;
    uint32_t ok = want_mask(&qz, single);
    chosen[single] = ok == 1 ? 2 : 1;
    ASSERT_EQ(academy_quiz_score(&qz, chosen, NULL), qz.n - 1);
    chosen[single] = ok | (ok == 1 ? 2 : 1);
    ASSERT_EQ(academy_quiz_score(&qz, chosen, NULL), qz.n - 1);
    chosen[single] = 0;
    ASSERT_EQ(academy_quiz_score(&qz, chosen, NULL), qz.n - 1);
    academy_quiz_free(&qz);
    /* pass mark: exact, no rounding */
    ASSERT(academy_quiz_passed(4, 5, 80));
    ASSERT(!academy_quiz_passed(3, 4, 80));
    ASSERT(academy_quiz_passed(6, 7, 80));  /* 85.7 % */
    ASSERT(!academy_quiz_passed(5, 7, 80)); /* 71.4 % */
    ASSERT(!academy_quiz_passed(79, 100, 80));
    ASSERT(academy_quiz_passed(80, 100, 80));
    ASSERT(!academy_quiz_passed(0, 0, 80));
    academy_free(a);
}

static int has_kind(const char *text, pii_kind k)
{
    pii_finding f[32];
    size_t n = pii_scan(text, strlen(text), f, 32);
    for (size_t i = 0; i < n && i < 32; i++)
        if (f[i].kind == k)
            return 1;
    return 0;
}

TEST(acad_pii_detector)
{
    /* check digit helpers */
    ASSERT(pii_iban_valid("DE02120300000000202051", 22));
    ASSERT(pii_iban_valid("DE02 1203 0000 0000 2020 51", 27));
    ASSERT(!pii_iban_valid("DE03120300000000202051", 22));
    ASSERT(pii_iban_valid("GB82WEST12345698765432", 22));
    ASSERT(pii_taxid_valid("86095742719"));
    ASSERT(!pii_taxid_valid("86095742718"));
    ASSERT(!pii_taxid_valid("12345678901")); /* no digit repeated */
    /* true positives */
    ASSERT(has_kind("Bitte überweisen an DE02 1203 0000 0000 2020 51, danke.", PII_IBAN));
    ASSERT(has_kind("IBAN: DE02120300000000202051", PII_IBAN));
    ASSERT(has_kind("Steuer-ID 86095742719 liegt vor", PII_TAX_ID));
    ASSERT(has_kind("Steuer-ID 86 095 742 719 liegt vor", PII_TAX_ID));
    ASSERT(has_kind("Rückruf unter +49 351 1234567 erbeten", PII_PHONE));
    ASSERT(has_kind("Tel. 0351/123456-78", PII_PHONE));
    ASSERT(has_kind("Telefon (0351) 4567890", PII_PHONE));
    ASSERT(has_kind("mobil 0170 1234567", PII_PHONE));
    ASSERT(has_kind("Mail an erika.mustermann@example.org senden", PII_EMAIL));
    ASSERT(has_kind("Frau Mustermann, geb. 12.08.1964, beantragt", PII_BIRTH_DATE));
    ASSERT(has_kind("Geburtsdatum: 1.2.05", PII_BIRTH_DATE));
    ASSERT(has_kind("der Antragsteller (03.11.1987) wohnt", PII_BIRTH_DATE));
    ASSERT(has_kind("wohnhaft Lindenstraße 5 in Musterstadt", PII_ADDRESS));
    ASSERT(has_kind("Hauptstr. 12a, 01067 Dresden", PII_ADDRESS));
    ASSERT(has_kind("Am Markt 3", PII_ADDRESS));
    ASSERT(has_kind("Berliner Allee 117-119", PII_ADDRESS));
    /* offsets */
    const char *t = "x DE02120300000000202051 y";
    pii_finding f[4];
    ASSERT_EQ(pii_scan(t, strlen(t), f, 4), 1);
    ASSERT_EQ(f[0].start, 2);
    ASSERT_EQ(f[0].end, 24);
    ASSERT_STREQ(pii_kind_name(f[0].kind), "iban");
    /* true negatives: what administrations write every day */
    const char *neg[] = {
        "Nach § 35 VwVfG ist ein Verwaltungsakt jede Verfügung.",
        "Aktenzeichen 12-345/2024, bitte stets angeben.",
        "Der Betrag von 1.234,56 € ist bis zum 15.04.2025 zu zahlen.",
        "Bescheid vom 03.02.2026 über 250,00 EUR",
        "Die Sitzung findet in Raum 2.014 statt, Tagesordnungspunkt 7.",
        "Gemäß Art. 6 Abs. 1 lit. e DSGVO und § 3 Abs. 2 BDSG",
        "Die Verordnung (EU) 2024/1689 gilt ab dem 2. August 2026.",
        "Es wurden 12345678 Euro bewilligt, Version 3.2.1 der Software",
        "Punkt 3 der Tagesordnung, Anlage 2, Kapitel 5",
        "DE02 1203 0000 0000 2020 52 ist keine gültige IBAN",
        "Teilnehmende: 45 Personen aus 12 Ämtern; Quote 0,85",
        "user@localhost ist keine Adresse",
    };
    for (size_t i = 0; i < sizeof neg / sizeof neg[0]; i++) {
        pii_finding g[4];
        if (pii_scan(neg[i], strlen(neg[i]), g, 4))
            FAIL("false positive in \"%s\" (kind %s)", neg[i], pii_kind_name(g[0].kind));
    }
    /* hostile input does not crash */
    char big[4096];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = "0+@.-( )1DE9"[i % 12];
    pii_scan(big, sizeof big, f, 4);
    pii_scan(NULL, 0, f, 4);
}

TEST(acad_capability_matrix_units)
{
    rh_config cfg;
    rh_error e;
    academy *a;
    config_defaults(&cfg);
    ASSERT_EQ(academy_load(NULL, &a, &e), RH_OK);
    static const char *const caps[] = {"chat", "knowledge", "assistants", "uploads", "own_assistants",
                                       "attachments", "api_keys", "share_assistants", "batch"};
    static const int first_rank[] = {1, 2, 2, 3, 3, 3, 4, 4, 4};
    for (int rank = 0; rank <= 4; rank++)
        for (size_t c = 0; c < 9; c++)
            if (academy_rank_has(&cfg, a, rank, caps[c]) != (rank >= first_rank[c]))
                FAIL("rank %d, %s", rank, caps[c]);
    ASSERT_EQ(academy_cap_min_rank(&cfg, a, "api_keys"), 4);
    ASSERT_EQ(academy_cap_min_rank(&cfg, a, "no_such"), -1);
    /* the matrix is configuration */
    ASSERT_EQ(config_parse_string(&cfg, "[academy]\ncapabilities.seepferdchen = chat, api_keys\ncapabilities.gold =\n",
                                  "t", &e),
              RH_OK);
    ASSERT(academy_rank_has(&cfg, a, 1, "api_keys"));
    ASSERT(!academy_rank_has(&cfg, a, 4, "batch"));
    ASSERT(academy_rank_has(&cfg, a, 4, "chat"));
    /* the route table */
    ASSERT_STREQ(academy_route_capability("GET", "/api/conversations"), "chat");
    ASSERT_STREQ(academy_route_capability("POST", "/api/conversations/:id/messages"), "chat");
    ASSERT_STREQ(academy_route_capability("POST", "/api/messages/:id/feedback"), "chat");
    ASSERT_STREQ(academy_route_capability("POST", "/api/keys"), "api_keys");
    ASSERT(!academy_route_capability("DELETE", "/api/keys/:id"));
    ASSERT(!academy_route_capability("GET", "/api/academy"));
    ASSERT(!academy_route_capability("GET", "/api/session"));
    academy_free(a);
    config_free(&cfg);
}

TEST(acad_config_keys)
{
    rh_config c;
    rh_error e;
    config_defaults(&c);
    ASSERT_EQ(c.academy_gating, 1);
    ASSERT_EQ(c.pii_check, RH_PII_WARN);
    ASSERT_EQ(c.quiz_pass_percent, 80);
    ASSERT_EQ(config_parse_string(&c, "[academy]\nacademy_gating = off\npii_check = block\nquiz_pass_percent = 90\n"
                                      "quiz_retry_minutes = 5\nquiz_questions = 0\n",
                                  "t", &e),
              RH_OK);
    ASSERT_EQ(c.academy_gating, 0);
    ASSERT_EQ(c.pii_check, RH_PII_BLOCK);
    ASSERT_EQ(c.quiz_pass_percent, 90);
    ASSERT_EQ(c.quiz_retry_minutes, 5);
    ASSERT_EQ(c.quiz_questions, 0);
    ASSERT_NE(config_parse_string(&c, "pii_check = maybe\n", "t", &e), RH_OK);
    ASSERT(strstr(e.msg, "pii_check"));
    ASSERT_NE(config_parse_string(&c, "quiz_pass_percent = 101\n", "t", &e), RH_OK);
    ASSERT_NE(config_parse_string(&c, "capabilities.Gold = chat\n", "t", &e), RH_OK);
    ASSERT_NE(config_parse_string(&c, "capabilities.gold = chat; rm\n", "t", &e), RH_OK);
    config_free(&c);
    /* the documented example parses, with the academy's defaults */
    config_defaults(&c);
    if (config_parse_file(&c, "rathaus.conf.example", &e))
        FAIL("rathaus.conf.example: %s", e.msg);
    ASSERT_EQ(c.academy_gating, 1);
    ASSERT_EQ(c.pii_check, RH_PII_WARN);
    ASSERT_EQ(c.quiz_retry_minutes, 30);
    config_free(&c);
}

TEST(acad_store_tables_have_tenant)
{
    store *s;
    rh_error e;
    ASSERT_EQ(store_open(":memory:", &s, &e), RH_OK);
    const char *tables[] = {"academy_levels", "academy_level_log", "academy_progress", "academy_attempts",
                            "academy_lessons", "message_feedback"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        if (!store_has_column(s, tables[i], "tenant_id"))
            FAIL("%s has no tenant_id", tables[i]);
    store_close(s);
}

/* ------------------------------------------------------------ server */

/* the portal in-process (web_client.h) */
typedef wc_server asrv;

typedef struct cli {
    CURL *h;
    char csrf[128];
    long status;
    rh_buf body, hdr;
} cli;

static long req(asrv *t, cli *c, const char *method, const char *path, const char *body, const char *extra_hdr)
{
    rh_buf_free(&c->body);
    rh_buf_free(&c->hdr);
    rh_buf_init(&c->body, 1 << 22);
    rh_buf_init(&c->hdr, 1 << 16);
    wc_req rq = {.base = t->base, .method = method, .path = path, .body = body, .csrf = c->csrf,
                 .hdr = extra_hdr, .body_out = &c->body, .hdr_out = &c->hdr};
    c->status = wc_perform(c->h, &rq);
    return c->status;
}

static const char *B(cli *c) { return c->body.data ? c->body.data : ""; }
static const char *H(cli *c) { return c->hdr.data ? c->hdr.data : ""; }

static void grab_csrf(asrv *t, cli *c)
{
    c->csrf[0] = '\0';
    ASSERT_EQ(req(t, c, "GET", "/api/session", NULL, NULL), 200);
    wc_csrf_parse(B(c), c->csrf, sizeof c->csrf);
}

static void cli_init(cli *c)
{
    memset(c, 0, sizeof *c);
    c->h = curl_easy_init();
    curl_easy_setopt(c->h, CURLOPT_COOKIEFILE, "");
    rh_buf_init(&c->body, 1 << 22);
    rh_buf_init(&c->hdr, 1 << 16);
}

static void cli_free(cli *c)
{
    curl_easy_cleanup(c->h);
    rh_buf_free(&c->body);
    rh_buf_free(&c->hdr);
}

/* Create a user (role, level or NULL) in the store and log a client in. */
static int64_t user_login(asrv *t, cli *c, const char *name, const char *role, const char *level)
{
    char hash[AUTH_HASH_MAX], body[256];
    int64_t id;
    rh_error e;
    ASSERT_EQ(auth_password_hash("passwort1", hash), RH_OK);
    if (store_user_create(t->st, STORE_TENANT_DEFAULT, name, name, hash, role, &id, &e))
        FAIL("user: %s", e.msg);
    if (level)
        wc_award(t->st, id, level, "setup");
    cli_init(c);
    grab_csrf(t, c);
    snprintf(body, sizeof body, "{\"username\":\"%s\",\"password\":\"passwort1\"}", name);
    if (req(t, c, "POST", "/api/login", body, NULL) != 200)
        FAIL("login %s: %ld %s", name, c->status, B(c));
    grab_csrf(t, c);
    return id;
}

TEST(acad_api_capability_matrix_per_level)
{
    asrv t;
    wc_server_start(&t, NULL);
    static const char *const levels[] = {NULL, "seepferdchen", "bronze", "silber", "gold"};
    for (int lv = 0; lv < 5; lv++) {
        cli c;
        char name[32], key[AUTH_APIKEY_MAX], auth[200];
        snprintf(name, sizeof name, "user%d", lv);
        int64_t uid = user_login(&t, &c, name, "user", levels[lv]);
        int chat = lv >= 1, keys = lv >= 4;
        /* the academy is open to everyone */
        ASSERT_EQ(req(&t, &c, "GET", "/api/academy", NULL, NULL), 200);
        ASSERT_EQ(req(&t, &c, "GET", "/api/academy/lessons/datenschutz", NULL, NULL), 200);
        ASSERT_EQ(req(&t, &c, "POST", "/api/academy/lessons/sprachmodell/complete", "{}", NULL), 200);
        ASSERT_EQ(req(&t, &c, "GET", "/api/session", NULL, NULL), 200);
        /* chat */
        ASSERT_EQ(req(&t, &c, "GET", "/api/conversations", NULL, NULL), chat ? 200 : 403);
        if (!chat) {
            ASSERT(strstr(B(&c), "\"code\":\"level_required\""));
            ASSERT(strstr(B(&c), "\"level\":\"seepferdchen\""));
            ASSERT(strstr(B(&c), "\"capability\":\"chat\""));
        }
        ASSERT_EQ(req(&t, &c, "POST", "/api/conversations", "{\"title\":\"x\"}", NULL), chat ? 200 : 403);
        ASSERT_EQ(req(&t, &c, "GET", "/api/conversations/999999", NULL, NULL), chat ? 404 : 403);
        ASSERT_EQ(req(&t, &c, "POST", "/api/conversations/999999/messages", "{\"content\":\"hi\"}", NULL),
                  chat ? 404 : 403);
        ASSERT_EQ(req(&t, &c, "POST", "/api/messages/1/feedback", "{\"rating\":\"up\"}", NULL), chat ? 404 : 403);
        /* knowledge (Bronze) and uploads (Silber): allowed means the
         * handler answers (an unknown collection is 404), forbidden is
         * 403 level_required naming the level */
        int know = lv >= 2, up = lv >= 3;
        ASSERT_EQ(req(&t, &c, "GET", "/api/collections", NULL, NULL), know ? 200 : 403);
        if (!know)
            ASSERT(strstr(B(&c), "\"level\":\"bronze\""));
        long st = req(&t, &c, "GET", "/api/search?q=Antrag", NULL, NULL);
        ASSERT(know ? st != 403 : st == 403);
        ASSERT_EQ(req(&t, &c, "GET", "/api/collections/999999", NULL, NULL), know ? 404 : 403);
        ASSERT_EQ(req(&t, &c, "POST", "/api/collections/999999/sync", "{}", NULL), up ? 404 : 403);
        if (!up)
            ASSERT(strstr(B(&c), "\"level\":\"silber\""));
        /* API keys (Gold) */
        ASSERT_EQ(req(&t, &c, "GET", "/api/keys", NULL, NULL), keys ? 200 : 403);
        ASSERT_EQ(req(&t, &c, "POST", "/api/keys", "{\"name\":\"n\"}", NULL), keys ? 200 : 403);
        if (!keys)
            ASSERT(strstr(B(&c), "\"level\":\"gold\""));
        wc_apikey(t.st, uid, key);
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        c.csrf[0] = '\0';
        ASSERT_EQ(req(&t, &c, "GET", "/v1/models", NULL, auth), keys ? 200 : 403);
        /* trainer routes stay closed */
        ASSERT_EQ(req(&t, &c, "GET", "/api/trainer/participants", NULL, NULL), 403);
        ASSERT_EQ(req(&t, &c, "GET", "/api/dashboard", NULL, NULL), 403);
        /* the overview names the capabilities */
        ASSERT_EQ(req(&t, &c, "GET", "/api/academy", NULL, NULL), 200);
        ASSERT_EQ(strstr(B(&c), "\"capabilities\":[],\"levels\"") == NULL, chat);
        ASSERT_EQ(strstr(B(&c), "\"batch\"],\"levels\"") != NULL, keys);
        cli_free(&c);
    }
    /* admins are always allowed */
    cli adm;
    char key[AUTH_APIKEY_MAX], auth[200];
    int64_t aid = user_login(&t, &adm, "chefin", "admin", NULL);
    ASSERT_EQ(req(&t, &adm, "GET", "/api/conversations", NULL, NULL), 200);
    ASSERT_EQ(req(&t, &adm, "POST", "/api/keys", "{\"name\":\"n\"}", NULL), 200);
    wc_apikey(t.st, aid, key);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
    ASSERT_EQ(req(&t, &adm, "GET", "/v1/models", NULL, auth), 200);
    cli_free(&adm);
    /* a trainer without a level: trainer routes yes, chat no */
    cli tr;
    user_login(&t, &tr, "trainerin", "trainer", NULL);
    ASSERT_EQ(req(&t, &tr, "GET", "/api/trainer/participants", NULL, NULL), 200);
    ASSERT_EQ(req(&t, &tr, "GET", "/api/conversations", NULL, NULL), 403);
    cli_free(&tr);
    wc_server_stop(&t);
}

TEST(acad_api_gating_off)
{
    asrv t;
    cli c;
    char key[AUTH_APIKEY_MAX], auth[200];
    wc_server_start(&t, "academy_gating = off\n");
    int64_t uid = user_login(&t, &c, "frei", "user", NULL);
    ASSERT_EQ(req(&t, &c, "GET", "/api/conversations", NULL, NULL), 200);
    ASSERT_EQ(req(&t, &c, "POST", "/api/keys", "{\"name\":\"n\"}", NULL), 200);
    wc_apikey(t.st, uid, key);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
    ASSERT_EQ(req(&t, &c, "GET", "/v1/models", NULL, auth), 200);
    ASSERT_EQ(req(&t, &c, "GET", "/api/academy", NULL, NULL), 200);
    ASSERT(strstr(B(&c), "\"gating\":false"));
    cli_free(&c);
    wc_server_stop(&t);
}

/* Answers for the user's open attempt: all correct, or all wrong. */
static void answers_json(asrv *t, int64_t uid, const char *level, int correct, char *out, size_t cap)
{
    astore_attempt at;
    academy_quiz qz;
    ASSERT_EQ(astore_attempt_open(t->st, uid, level, &at), RH_OK);
    ASSERT_EQ(academy_quiz_decode(academy_get(&t->cfg), at.plan, &qz), RH_OK);
    size_t n = (size_t)snprintf(out, cap, "{\"attempt_id\":%lld,\"answers\":{", (long long)at.id);
    for (size_t i = 0; i < qz.n; i++) {
        n += (size_t)snprintf(out + n, cap - n, "%s\"%s\":[", i ? "," : "", qz.items[i].q->id);
        int first = 1;
        for (size_t p = 0; p < qz.items[i].q->n_options; p++) {
            int ok = qz.items[i].q->options[qz.items[i].perm[p]].correct;
            if (ok == correct) {
                n += (size_t)snprintf(out + n, cap - n, "%s%zu", first ? "" : ",", p);
                first = 0;
            }
        }
        n += (size_t)snprintf(out + n, cap - n, "]");
    }
    snprintf(out + n, cap - n, "}}");
    academy_quiz_free(&qz);
    astore_attempt_clear(&at);
}

static void complete_level(asrv *t, cli *c, const char *level)
{
    const academy *a = academy_get(&t->cfg);
    char path[128];
    for (size_t i = 0; i < a->n_lessons; i++)
        if (!strcmp(a->lessons[i].level, level)) {
            snprintf(path, sizeof path, "/api/academy/lessons/%s/complete", a->lessons[i].id);
            ASSERT_EQ(req(t, c, "POST", path, "{}", NULL), 200);
        }
}

TEST(acad_api_quiz_rules)
{
    asrv t;
    cli c, adm;
    char ans[8192];
    wc_server_start(&t, "quiz_retry_minutes = 30\n");
    int64_t uid = user_login(&t, &c, "lena", "user", NULL);
    /* GET only shows the status (no state change on GET) */
    ASSERT_EQ(req(&t, &c, "GET", "/api/academy/quiz/seepferdchen", NULL, NULL), 200);
    ASSERT(strstr(B(&c), "\"available\":false"));
    ASSERT(strstr(B(&c), "\"reason\":\"lessons_incomplete\""));
    ASSERT(strstr(B(&c), "\"open_attempt\":false"));
    ASSERT(!strstr(B(&c), "\"questions\""));
    /* lessons first */
    ASSERT_EQ(req(&t, &c, "POST", "/api/academy/quiz/seepferdchen/start", "{}", NULL), 409);
    ASSERT(strstr(B(&c), "\"code\":\"lessons_incomplete\""));
    ASSERT(strstr(B(&c), "\"datenschutz\""));
    ASSERT_EQ(req(&t, &c, "GET", "/api/academy/quiz/nope", NULL, NULL), 404);
    ASSERT_EQ(req(&t, &c, "POST", "/api/academy/quiz/nope/start", "{}", NULL), 404);
    ASSERT_NE(req(&t, &c, "GET", "/api/academy/quiz/seepferdchen/start", NULL, NULL), 200);
    ASSERT_EQ(req(&t, &c, "GET", "/api/academy/lessons/nope", NULL, NULL), 404);
    ASSERT_EQ(req(&t, &c, "POST", "/api/academy/lessons/nope/complete", "{}", NULL), 404);
    complete_level(&t, &c, "seepferdchen");
    /* the previous level first */
    complete_level(&t, &c, "bronze");
    ASSERT_EQ(req(&t, &c, "POST", "/api/academy/quiz/bronze/start", "{}", NULL), 409);
    ASSERT(strstr(B(&c), "\"code\":\"previous_level_required\""));
    /* a status GET with everything done still starts nothing */
    ASSERT_EQ(req(&t, &c, "GET", "/api/academy/quiz/seepferdchen", NULL, NULL), 200);
    ASSERT(strstr(B(&c), "\"available\":true"));
    ASSERT(strstr(B(&c), "\"open_attempt\":false"));
    {
        astore_attempt none;
        ASSERT_EQ(astore_attempt_open(t.st, uid, "seepferdchen", &none), RH_ENOTFOUND);
    }
    /* submitting without an attempt */
    ASSERT_EQ(req(&t, &c, "POST", "/api/academy/quiz/seepferdchen", "{\"answers\":{}}", NULL), 409);
    /* start: shuffled questions without the answers */
    ASSERT_EQ(req(&t, &c, "POST", "/api/academy/quiz/seepferdchen/start", "{}", NULL), 200);
    ASSERT(strstr(B(&c), "\"attempt_id\":"));
    ASSERT(strstr(B(&c), "\"type\":\"multiple\""));
    ASSERT(!strstr(B(&c), "correct"));
    ASSERT(!strstr(B(&c), "explanation"));
    /* fail: all wrong */
    answers_json(&t, uid, "seepferdchen", 0, ans, sizeof ans);
    ASSERT_EQ(req(&t, &c, "POST", "/api/academy/quiz/seepferdchen", ans, NULL), 200);
    ASSERT(strstr(B(&c), "\"passed\":false"));
    ASSERT(strstr(B(&c), "\"score\":0"));
    ASSERT(strstr(B(&c), "\"explanation\":"));
    ASSERT(strstr(B(&c), "\"level_awarded\":null"));
    /* the same attempt cannot be submitted twice */
    ASSERT_EQ(req(&t, &c, "POST", "/api/academy/quiz/seepferdchen", ans, NULL), 409);
    /* waiting time: the status says so, starting is refused */
    ASSERT_EQ(req(&t, &c, "GET", "/api/academy/quiz/seepferdchen", NULL, NULL), 200);
    ASSERT(strstr(B(&c), "\"reason\":\"quiz_wait\""));
    ASSERT(strstr(B(&c), "\"passed\":false"));
    ASSERT_EQ(req(&t, &c, "POST", "/api/academy/quiz/seepferdchen/start", "{}", NULL), 429);
    ASSERT(strstr(B(&c), "\"code\":\"quiz_wait\""));
    ASSERT(strstr(B(&c), "\"next_attempt_at\":\""));
    ASSERT(c.hdr.data && strstr(c.hdr.data, "Retry-After: "));
    ASSERT_EQ(req(&t, &c, "GET", "/api/conversations", NULL, NULL), 403);
    /* ... which passes (moved back in the store) */
    {
        astore_attempt last;
        ASSERT_EQ(astore_attempt_last(t.st, uid, "seepferdchen", &last), RH_OK);
        sqlite3_exec(store__db(t.st), "UPDATE academy_attempts SET finished_at = finished_at - 1801", NULL, NULL,
                     NULL);
        astore_attempt_clear(&last);
    }
    ASSERT_EQ(req(&t, &c, "POST", "/api/academy/quiz/seepferdchen/start", "{}", NULL), 200);
    ASSERT_EQ(req(&t, &c, "GET", "/api/academy/quiz/seepferdchen", NULL, NULL), 200);
    ASSERT(strstr(B(&c), "\"open_attempt\":true"));
    answers_json(&t, uid, "seepferdchen", 1, ans, sizeof ans);
    ASSERT_EQ(req(&t, &c, "POST", "/api/academy/quiz/seepferdchen", ans, NULL), 200);
    ASSERT(strstr(B(&c), "\"passed\":true"));
    ASSERT(strstr(B(&c), "\"percent\":100"));
    ASSERT(strstr(B(&c), "\"level_awarded\":\"seepferdchen\""));
    /* the level opens chat at once */
    ASSERT_EQ(req(&t, &c, "GET", "/api/conversations", NULL, NULL), 200);
    ASSERT_EQ(req(&t, &c, "GET", "/api/academy", NULL, NULL), 200);
    ASSERT(strstr(B(&c), "\"level\":\"seepferdchen\""));
    ASSERT(strstr(B(&c), "\"via\":\"quiz\""));
    /* bronze quiz is open now; a bad answers body is 400 */
    ASSERT_EQ(req(&t, &c, "POST", "/api/academy/quiz/bronze/start", "{}", NULL), 200);
    ASSERT_EQ(req(&t, &c, "POST", "/api/academy/quiz/bronze", "{\"answers\":{\"b1\":[99]}}", NULL), 400);
    ASSERT_EQ(req(&t, &c, "POST", "/api/academy/quiz/bronze", "{\"answers\":[]}", NULL), 400);
    ASSERT_EQ(req(&t, &c, "POST", "/api/academy/quiz/bronze", "{\"attempt_id\":999,\"answers\":{}}", NULL), 409);
    answers_json(&t, uid, "bronze", 1, ans, sizeof ans); /* a newer attempt replaces the open one */
    ASSERT_EQ(req(&t, &c, "POST", "/api/academy/quiz/bronze/start", "{}", NULL), 200);
    ASSERT_EQ(req(&t, &c, "POST", "/api/academy/quiz/bronze", ans, NULL), 409);
    /* audit */
    user_login(&t, &adm, "chef", "admin", NULL);
    ASSERT_EQ(req(&t, &adm, "GET", "/api/admin/audit?limit=100", NULL, NULL), 200);
    ASSERT(strstr(B(&adm), "\"action\":\"academy_quiz\""));
    ASSERT(strstr(B(&adm), "\"action\":\"academy_award\""));
    cli_free(&adm);
    cli_free(&c);
    wc_server_stop(&t);
}

TEST(acad_api_award_revoke_records)
{
    asrv t;
    cli tr, u, adm;
    char path[128];
    wc_server_start(&t, NULL);
    user_login(&t, &tr, "trainer1", "trainer", NULL);
    int64_t uid = user_login(&t, &u, "max", "user", NULL);
    ASSERT_EQ(store_user_update(t.st, STORE_TENANT_DEFAULT, uid, "Max <script>alert(1)</script> & \"Co\"", NULL,
                                NULL, -1),
              RH_OK);
    int64_t g;
    ASSERT_EQ(store_group_create(t.st, STORE_TENANT_DEFAULT, "=Bauamt", &g), RH_OK);
    ASSERT_EQ(store_user_set_groups(t.st, STORE_TENANT_DEFAULT, uid, &g, 1), RH_OK);
    snprintf(path, sizeof path, "/api/trainer/participants/%lld/award", (long long)uid);
    ASSERT_EQ(req(&t, &tr, "POST", path, "{\"level\":\"bronze\"}", NULL), 400); /* a reason is required */
    ASSERT(strstr(B(&tr), "reason_required"));
    ASSERT_EQ(req(&t, &tr, "POST", path, "{\"level\":\"platin\",\"reason\":\"x\"}", NULL), 400);
    ASSERT_EQ(req(&t, &tr, "POST", "/api/trainer/participants/999/award", "{\"level\":\"bronze\",\"reason\":\"x\"}",
                  NULL),
              404);
    ASSERT_EQ(req(&t, &tr, "POST", path, "{\"level\":\"bronze\",\"reason\":\"Präsenzkurs 12.03.\"}", NULL), 200);
    ASSERT(strstr(B(&tr), "\"level\":\"bronze\""));
    ASSERT(strstr(B(&tr), "\"level_by\":\"trainer1\""));
    /* the participant has bronze's rights now */
    ASSERT_EQ(req(&t, &u, "GET", "/api/conversations", NULL, NULL), 200);
    ASSERT_EQ(req(&t, &u, "POST", path, "{\"level\":\"gold\",\"reason\":\"x\"}", NULL), 403); /* not a trainer */
    /* revoke: one level down */
    snprintf(path, sizeof path, "/api/trainer/participants/%lld/revoke", (long long)uid);
    ASSERT_EQ(req(&t, &tr, "POST", path, "{}", NULL), 400);
    ASSERT_EQ(req(&t, &tr, "POST", path, "{\"level\":\"gold\",\"reason\":\"x\"}", NULL), 409); /* not held */
    ASSERT_EQ(req(&t, &tr, "POST", path, "{\"reason\":\"Verstoß gegen Datenschutz\"}", NULL), 200);
    ASSERT(strstr(B(&tr), "\"level\":\"seepferdchen\""));
    ASSERT_EQ(req(&t, &tr, "POST", path, "{\"level\":\"seepferdchen\",\"reason\":\"ganz\"}", NULL), 200);
    ASSERT(strstr(B(&tr), "\"level\":null"));
    ASSERT_EQ(req(&t, &u, "GET", "/api/conversations", NULL, NULL), 403);
    ASSERT_EQ(req(&t, &tr, "POST", path, "{\"reason\":\"nochmal\"}", NULL), 409);
    /* history in the store and audit entries */
    astore_events ev;
    ASSERT_EQ(astore_level_log(t.st, uid, &ev), RH_OK);
    ASSERT_EQ(ev.n, 3);
    ASSERT_STREQ(ev.items[0].action, "award");
    ASSERT_STREQ(ev.items[0].actor, "trainer1");
    ASSERT_STREQ(ev.items[1].action, "revoke");
    ASSERT_STREQ(ev.items[1].previous, "bronze");
    ASSERT_STREQ(ev.items[1].reason, "Verstoß gegen Datenschutz");
    astore_events_free(&ev);
    user_login(&t, &adm, "chef", "admin", NULL);
    ASSERT_EQ(req(&t, &adm, "GET", "/api/admin/audit?limit=100", NULL, NULL), 200);
    ASSERT(strstr(B(&adm), "\"action\":\"academy_award\",\"target\":\"max\""));
    ASSERT(strstr(B(&adm), "\"action\":\"academy_revoke\",\"target\":\"max\""));
    ASSERT(strstr(B(&adm), "reason=Verstoß gegen Datenschutz"));
    /* participants list */
    ASSERT_EQ(req(&t, &tr, "POST", "/api/trainer/participants/1/award", "{\"level\":\"gold\",\"reason\":\"Kurs\"}",
                  NULL),
              200);
    ASSERT_EQ(req(&t, &tr, "GET", "/api/trainer/participants", NULL, NULL), 200);
    ASSERT(strstr(B(&tr), "\"username\":\"max\""));
    ASSERT(strstr(B(&tr), "\"groups\":\"=Bauamt\""));
    snprintf(path, sizeof path, "/api/trainer/participants/%lld", (long long)uid);
    ASSERT_EQ(req(&t, &tr, "GET", path, NULL, NULL), 200);
    ASSERT(strstr(B(&tr), "\"history\":[{"));
    /* CSV */
    ASSERT_EQ(req(&t, &u, "GET", "/api/trainer/export.csv", NULL, NULL), 403);
    ASSERT_EQ(req(&t, &tr, "GET", "/api/trainer/export.csv", NULL, NULL), 200);
    ASSERT(strstr(H(&tr), "text/csv"));
    ASSERT(strstr(B(&tr), "\"Benutzername\";\"Name\";\"Abteilung\";\"Stufe\""));
    ASSERT(strstr(B(&tr), "\"max\";\"Max <script>alert(1)</script> & \"\"Co\"\"\";\"'=Bauamt\";\"\";"));
    ASSERT(strstr(B(&tr), "\"trainer1\";\"trainer1\";\"\";\"Gold\";"));
    /* record page: everything escaped, stylesheet linked, no inline style */
    snprintf(path, sizeof path, "/api/trainer/participants/%lld/record", (long long)uid);
    ASSERT_EQ(req(&t, &tr, "GET", path, NULL, NULL), 200);
    ASSERT(strstr(H(&tr), "text/html"));
    ASSERT(strstr(B(&tr), "Max &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot;"));
    ASSERT(!strstr(B(&tr), "<script"));
    ASSERT(!strstr(B(&tr), "style="));
    ASSERT(!strstr(B(&tr), "<style"));
    ASSERT(strstr(B(&tr), "href=\"/record.css\""));
    ASSERT(strstr(B(&tr), "Verstoß gegen Datenschutz"));
    ASSERT(strstr(B(&tr), "Präsenzkurs 12.03."));
    ASSERT_EQ(req(&t, &tr, "GET", "/api/trainer/participants/999/record", NULL, NULL), 404);
    cli_free(&adm);
    cli_free(&u);
    cli_free(&tr);
    wc_server_stop(&t);
}

TEST(acad_api_feedback_ownership_and_dashboard)
{
    asrv t;
    cli a, b, tr;
    char path[128];
    int64_t conv, q, ans;
    wc_server_start(&t, NULL);
    int64_t ua = user_login(&t, &a, "anna", "user", "seepferdchen");
    user_login(&t, &b, "bert", "user", "seepferdchen");
    int64_t now = (int64_t)time(NULL);
    ASSERT_EQ(store_conv_create(t.st, STORE_TENANT_DEFAULT, ua, "t", NULL, NULL, now, &conv), RH_OK);
    ASSERT_EQ(store_msg_add(t.st, conv, "user", "Frage", NULL, now, &q), RH_OK);
    ASSERT_EQ(store_msg_add(t.st, conv, "assistant", "Antwort", "m", now, &ans), RH_OK);
    snprintf(path, sizeof path, "/api/messages/%lld/feedback", (long long)ans);
    ASSERT_EQ(req(&t, &a, "POST", path, "{\"rating\":\"sideways\"}", NULL), 400);
    ASSERT_EQ(req(&t, &a, "POST", path, "{\"rating\":\"down\",\"comment\":\"Paragraph falsch zitiert\"}", NULL),
              200);
    ASSERT_EQ(req(&t, &b, "POST", path, "{\"rating\":\"up\"}", NULL), 404); /* someone else's */
    snprintf(path, sizeof path, "/api/messages/%lld/feedback", (long long)q);
    ASSERT_EQ(req(&t, &a, "POST", path, "{\"rating\":\"up\"}", NULL), 404); /* a question, not an answer */
    ASSERT_EQ(req(&t, &a, "POST", "/api/messages/99999/feedback", "{\"rating\":\"up\"}", NULL), 404);
    snprintf(path, sizeof path, "/api/conversations/%lld/feedback", (long long)conv);
    ASSERT_EQ(req(&t, &a, "GET", path, NULL, NULL), 200);
    ASSERT(strstr(B(&a), "\"rating\":\"down\""));
    ASSERT_EQ(req(&t, &b, "GET", path, NULL, NULL), 404);
    /* dashboard */
    ASSERT_EQ(req(&t, &a, "GET", "/api/dashboard", NULL, NULL), 403);
    user_login(&t, &tr, "trainer1", "trainer", NULL);
    ASSERT_EQ(req(&t, &tr, "GET", "/api/dashboard", NULL, NULL), 200);
    ASSERT(strstr(B(&tr), "\"comment\":\"Paragraph falsch zitiert\""));
    ASSERT(strstr(B(&tr), "\"down\":1"));
    ASSERT(strstr(B(&tr), "\"answers\":1"));
    ASSERT(strstr(B(&tr), "\"charts\":[{"));
    ASSERT(strstr(B(&tr), "\"type\":\"stacked_bar\""));
    ASSERT(strstr(B(&tr), "\"name\":\"(ohne Abteilung)\""));
    ASSERT(strstr(B(&tr), "\"id\":\"seepferdchen\",\"name\":\"Seepferdchen\",\"count\":2"));
    ASSERT(strstr(B(&tr), "\"assistants\":[]"));
    ASSERT(strstr(B(&tr), "\"collections\":[]"));
    ASSERT(!strstr(B(&tr), "\"id\":\"collections\""));
    /* 12 weeks, this week's counts at the end */
    const char *m = strstr(B(&tr), "\"messages\":[");
    ASSERT(m);
    ASSERT(!strncmp(m, "\"messages\":[0,0,0,0,0,0,0,0,0,0,0,2]", 36));
    /* grounded answers: the collections they drew on, most used first */
    {
        int64_t a2, a3;
        ASSERT_EQ(store_msg_add(t.st, conv, "assistant", "Mit Quellen", "m", now, &a2), RH_OK);
        ASSERT_EQ(store_msg_add(t.st, conv, "assistant", "Auch", "m", now, &a3), RH_OK);
        ASSERT_EQ(store_msg_set_sources(t.st, a2, "{\"sources\":[{\"collection_id\":7,\"collection\":\"Satzungen\"},"
                                                  "{\"collection_id\":8,\"collection\":\"Formulare\"}],"
                                                  "\"collections\":[7,8]}"),
                  RH_OK);
        ASSERT_EQ(store_msg_set_sources(t.st, a3, "{\"sources\":[{\"collection_id\":7,\"collection\":\"Satzungen\"}],"
                                                  "\"collections\":[7,9]}"),
                  RH_OK);
        ASSERT_EQ(store_msg_set_sources(t.st, ans, "kaputt"), RH_OK); /* not JSON: ignored */
        ASSERT_EQ(req(&t, &tr, "GET", "/api/dashboard", NULL, NULL), 200);
        ASSERT(strstr(B(&tr), "\"collections\":[{\"id\":7,\"name\":\"Satzungen\",\"count\":2},"
                              "{\"id\":8,\"name\":\"Formulare\",\"count\":1},{\"id\":9,\"name\":\"#9\",\"count\":1}]"));
        ASSERT(strstr(B(&tr), "\"id\":\"collections\",\"type\":\"bar\""));
    }
    cli_free(&a);
    cli_free(&b);
    cli_free(&tr);
    wc_server_stop(&t);
}

TEST(acad_api_pii_check_and_block_on_send)
{
    asrv t;
    cli c;
    char path[128];
    int64_t conv;
    wc_server_start(&t, "pii_check = block\n");
    int64_t uid = user_login(&t, &c, "paul", "user", "seepferdchen");
    ASSERT_EQ(req(&t, &c, "POST", "/api/pii-check", "{\"text\":\"Grüße, IBAN DE02120300000000202051\"}", NULL), 200);
    ASSERT(strstr(B(&c), "\"mode\":\"block\""));
    ASSERT(strstr(B(&c), "\"kind\":\"iban\",\"start\":12,\"end\":34")); /* UTF-16 offsets: ü is one */
    ASSERT(strstr(B(&c), "\"lesson\":\"datenschutz\""));
    ASSERT_EQ(req(&t, &c, "POST", "/api/pii-check", "{\"text\":\"Nach § 35 VwVfG\"}", NULL), 200);
    ASSERT(strstr(B(&c), "\"findings\":[]"));
    ASSERT_EQ(req(&t, &c, "POST", "/api/pii-check", "{}", NULL), 400);
    ASSERT_EQ(store_conv_create(t.st, STORE_TENANT_DEFAULT, uid, "t", NULL, NULL, (int64_t)time(NULL), &conv),
              RH_OK);
    snprintf(path, sizeof path, "/api/conversations/%lld/messages", (long long)conv);
    ASSERT_EQ(req(&t, &c, "POST", path, "{\"content\":\"Schreibe an erika@example.org, geb. 12.08.1964\"}", NULL),
              422);
    ASSERT(strstr(B(&c), "\"code\":\"pii_blocked\""));
    ASSERT(strstr(B(&c), "Datenschutz"));
    ASSERT(strstr(B(&c), "\"lesson\":\"datenschutz\""));
    ASSERT(strstr(B(&c), "\"email\""));
    store_msgs ml;
    ASSERT_EQ(store_msg_list(t.st, conv, &ml), RH_OK);
    ASSERT_EQ(ml.n, 0); /* nothing stored */
    store_msg_list_free(&ml);
    /* without personal data it goes on (no model here: 409 no_model, not 422) */
    ASSERT_EQ(req(&t, &c, "POST", path, "{\"content\":\"Erkläre § 35 VwVfG\"}", NULL), 409);
    ASSERT(strstr(B(&c), "no_model"));
    cli_free(&c);
    wc_server_stop(&t);
    /* warn mode: never blocks */
    wc_server_start(&t, "pii_check = warn\n");
    uid = user_login(&t, &c, "paul", "user", "seepferdchen");
    ASSERT_EQ(store_conv_create(t.st, STORE_TENANT_DEFAULT, uid, "t", NULL, NULL, (int64_t)time(NULL), &conv),
              RH_OK);
    snprintf(path, sizeof path, "/api/conversations/%lld/messages", (long long)conv);
    ASSERT_EQ(req(&t, &c, "POST", path, "{\"content\":\"IBAN DE02120300000000202051\"}", NULL), 409);
    ASSERT_EQ(req(&t, &c, "POST", "/api/pii-check", "{\"text\":\"IBAN DE02120300000000202051\"}", NULL), 200);
    ASSERT(strstr(B(&c), "\"mode\":\"warn\""));
    ASSERT(strstr(B(&c), "\"kind\":\"iban\""));
    cli_free(&c);
    wc_server_stop(&t);
}

TEST(acad_api_trainer_edits_lessons)
{
    asrv t;
    cli tr, u;
    wc_server_start(&t, NULL);
    user_login(&t, &tr, "trainer1", "trainer", NULL);
    user_login(&t, &u, "uwe", "user", NULL);
    const char *body = "{\"title\":\"Datenschutz (Hausregeln)\",\"markdown\":\"# Unsere Regeln\\n\\nNie Namen.\"}";
    ASSERT_EQ(req(&t, &u, "PUT", "/api/trainer/lessons/datenschutz", body, NULL), 403);
    ASSERT_EQ(req(&t, &tr, "PUT", "/api/trainer/lessons/datenschutz", "{\"title\":\"x\"}", NULL), 400);
    ASSERT_EQ(req(&t, &tr, "PUT", "/api/trainer/lessons/datenschutz", body, NULL), 200);
    ASSERT_EQ(req(&t, &u, "GET", "/api/academy/lessons/datenschutz", NULL, NULL), 200);
    ASSERT(strstr(B(&u), "\"markdown\":\"# Unsere Regeln\\n\\nNie Namen.\""));
    ASSERT(strstr(B(&u), "\"edited\":true"));
    ASSERT(strstr(B(&u), "\"level\":\"seepferdchen\""));
    /* a new lesson needs a level */
    ASSERT_EQ(req(&t, &tr, "PUT", "/api/trainer/lessons/hausintern", "{\"title\":\"T\",\"markdown\":\"m\"}", NULL),
              400);
    ASSERT_EQ(req(&t, &tr, "PUT", "/api/trainer/lessons/hausintern",
                  "{\"title\":\"Hausintern\",\"markdown\":\"m\",\"level\":\"bronze\",\"order\":9}", NULL),
              200);
    ASSERT_EQ(req(&t, &u, "GET", "/api/academy", NULL, NULL), 200);
    ASSERT(strstr(B(&u), "\"id\":\"hausintern\""));
    ASSERT(strstr(B(&u), "Datenschutz (Hausregeln)"));
    /* bronze now needs the new lesson too */
    ASSERT(strstr(B(&u), "\"lessons_total\":4"));
    /* DELETE restores the built-in text */
    ASSERT_EQ(req(&t, &tr, "DELETE", "/api/trainer/lessons/datenschutz", NULL, NULL), 204);
    ASSERT_EQ(req(&t, &tr, "DELETE", "/api/trainer/lessons/datenschutz", NULL, NULL), 404);
    ASSERT_EQ(req(&t, &u, "GET", "/api/academy/lessons/datenschutz", NULL, NULL), 200);
    ASSERT(strstr(B(&u), "\"edited\":false"));
    ASSERT(strstr(B(&u), "# Datenschutz"));
    ASSERT_EQ(req(&t, &tr, "PUT", "/api/trainer/lessons/Bad%20Id", body, NULL), 404);
    cli_free(&u);
    cli_free(&tr);
    wc_server_stop(&t);
}

/* Random text made of the characters the detectors look at, in buffers
 * of exactly their length (no NUL), so a sanitizer catches over-reads. */
/* The option id (shown position) whose text is `text` in question `qid` of
 * a quiz start answer, or -1. */
static int shown_option(const char *start_json, const char *qid, const char *text)
{
    json_t *o = json_loads(start_json, 0, NULL);
    json_t *qs = json_object_get(o, "questions"), *q;
    size_t i;
    int found = -1;
    json_array_foreach(qs, i, q) {
        if (strcmp(json_string_value(json_object_get(q, "id")) ? json_string_value(json_object_get(q, "id")) : "",
                   qid))
            continue;
        size_t k;
        json_t *op;
        json_array_foreach(json_object_get(q, "options"), k, op) {
            const char *tx = json_string_value(json_object_get(op, "text"));
            if (tx && !strcmp(tx, text))
                found = (int)json_integer_value(json_object_get(op, "id"));
        }
    }
    json_decref(o);
    return found;
}

TEST(acad_api_trainer_edits_question_bank)
{
    asrv t;
    cli tr, u, adm;
    char body[2048];
    wc_server_start(&t, "quiz_questions = 0\n");
    user_login(&t, &tr, "trainer2", "trainer", NULL);
    user_login(&t, &u, "ute", "user", NULL);
    ASSERT_EQ(req(&t, &u, "GET", "/api/trainer/questions", NULL, NULL), 403);
    ASSERT_EQ(req(&t, &tr, "GET", "/api/trainer/questions", NULL, NULL), 200);
    ASSERT(strstr(B(&tr), "\"id\":\"s1\""));
    ASSERT(strstr(B(&tr), "\"correct\":true"));
    ASSERT(strstr(B(&tr), "\"builtin\":true"));
    const char *good = "{\"level\":\"seepferdchen\",\"lesson\":\"sprachmodell\",\"type\":\"single\","
                       "\"question\":\"Neue Hausfrage?\",\"options\":[{\"text\":\"Falsch\",\"correct\":false},"
                       "{\"text\":\"Neue richtige Antwort\",\"correct\":true}],\"explanation\":\"Weil.\"}";
    ASSERT_EQ(req(&t, &u, "PUT", "/api/trainer/questions/s1", good, NULL), 403);
    /* validation: like quiz.json */
    static const char *const bad[] = {
        "{\"level\":\"seepferdchen\",\"type\":\"single\",\"question\":\"Q\",\"options\":[{\"text\":\"a\","
        "\"correct\":true},{\"text\":\"b\",\"correct\":true}]}", /* two correct for single choice */
        "{\"level\":\"seepferdchen\",\"type\":\"multiple\",\"question\":\"Q\",\"options\":[{\"text\":\"a\"},"
        "{\"text\":\"b\"}]}",                                    /* none correct */
        "{\"level\":\"seepferdchen\",\"type\":\"single\",\"question\":\"Q\",\"options\":[{\"text\":\"a\","
        "\"correct\":true}]}",                                   /* one option */
        "{\"level\":\"seepferdchen\",\"type\":\"single\",\"question\":\"\",\"options\":[{\"text\":\"a\","
        "\"correct\":true},{\"text\":\"b\"}]}",                  /* no text */
        "{\"level\":\"seepferdchen\",\"type\":\"essay\",\"question\":\"Q\",\"options\":[{\"text\":\"a\","
        "\"correct\":true},{\"text\":\"b\"}]}",                  /* bad type */
        "{\"level\":\"seepferdchen\",\"type\":\"single\",\"question\":\"Q\",\"options\":[{\"text\":\"a\","
        "\"correct\":\"ja\"},{\"text\":\"b\"}]}",                 /* correct not a boolean */
        "{\"level\":\"seepferdchen\",\"type\":\"single\",\"question\":\"Q\",\"options\":[\"a\",\"b\"]}",
        "[]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long st = req(&t, &tr, "PUT", "/api/trainer/questions/s1", bad[i], NULL);
        if (st != 400)
            FAIL("bad question %zu: %ld %s", i, st, B(&tr));
    }
    snprintf(body, sizeof body, "%s", good);
    memcpy(strstr(body, "seepferdchen"), "nixda_level_", 12);
    ASSERT_EQ(req(&t, &tr, "PUT", "/api/trainer/questions/s1", body, NULL), 400);
    ASSERT(strstr(B(&tr), "\"code\":\"bad_level\""));
    snprintf(body, sizeof body, "%s", good);
    memcpy(strstr(body, "sprachmodell"), "sprachmodelx", 12);
    ASSERT_EQ(req(&t, &tr, "PUT", "/api/trainer/questions/s1", body, NULL), 400);
    ASSERT(strstr(B(&tr), "\"code\":\"bad_lesson\""));
    ASSERT_EQ(req(&t, &tr, "PUT", "/api/trainer/questions/Bad%20Id", good, NULL), 404);
    /* replace s1, add hx1, hide s3 */
    ASSERT_EQ(req(&t, &tr, "PUT", "/api/trainer/questions/s1", good, NULL), 200);
    ASSERT(strstr(B(&tr), "\"edited\":true"));
    ASSERT_EQ(req(&t, &tr, "PUT", "/api/trainer/questions/hx1", good, NULL), 200);
    ASSERT(strstr(B(&tr), "\"builtin\":false"));
    ASSERT_EQ(req(&t, &tr, "DELETE", "/api/trainer/questions/s3", NULL, NULL), 204);
    ASSERT_EQ(req(&t, &tr, "GET", "/api/trainer/questions", NULL, NULL), 200);
    ASSERT(strstr(B(&tr), "\"hidden\":true"));
    /* the participant's quiz draws from the edited bank */
    complete_level(&t, &u, "seepferdchen");
    ASSERT_EQ(req(&t, &u, "POST", "/api/academy/quiz/seepferdchen/start", "{}", NULL), 200);
    ASSERT(strstr(B(&u), "\"id\":\"hx1\""));
    ASSERT(strstr(B(&u), "\"id\":\"s1\""));
    ASSERT(!strstr(B(&u), "\"id\":\"s3\""));
    ASSERT(strstr(B(&u), "Neue Hausfrage?"));
    ASSERT(!strstr(B(&u), "Wie entsteht die Antwort eines Sprachmodells?"));
    int right = shown_option(B(&u), "hx1", "Neue richtige Antwort");
    int wrong = shown_option(B(&u), "s1", "Falsch");
    ASSERT(right >= 0 && wrong >= 0);
    snprintf(body, sizeof body, "{\"answers\":{\"hx1\":[%d],\"s1\":[%d]}}", right, wrong);
    ASSERT_EQ(req(&t, &u, "POST", "/api/academy/quiz/seepferdchen", body, NULL), 200);
    ASSERT(strstr(B(&u), "{\"id\":\"hx1\",\"correct\":true"));
    ASSERT(strstr(B(&u), "{\"id\":\"s1\",\"correct\":false"));
    /* restore and delete */
    ASSERT_EQ(req(&t, &tr, "POST", "/api/trainer/questions/s1/restore", "{}", NULL), 204);
    ASSERT_EQ(req(&t, &tr, "POST", "/api/trainer/questions/s1/restore", "{}", NULL), 404);
    ASSERT_EQ(req(&t, &tr, "POST", "/api/trainer/questions/hx1/restore", "{}", NULL), 404);
    ASSERT_EQ(req(&t, &tr, "POST", "/api/trainer/questions/s3/restore", "{}", NULL), 204);
    ASSERT_EQ(req(&t, &tr, "DELETE", "/api/trainer/questions/hx1", NULL, NULL), 204);
    ASSERT_EQ(req(&t, &tr, "DELETE", "/api/trainer/questions/hx1", NULL, NULL), 404);
    ASSERT_EQ(req(&t, &tr, "GET", "/api/trainer/questions", NULL, NULL), 200);
    ASSERT(!strstr(B(&tr), "\"hidden\":true"));
    ASSERT(!strstr(B(&tr), "\"edited\":true"));
    ASSERT(!strstr(B(&tr), "hx1"));
    user_login(&t, &adm, "chef2", "admin", NULL);
    ASSERT_EQ(req(&t, &adm, "GET", "/api/admin/audit?limit=100", NULL, NULL), 200);
    ASSERT(strstr(B(&adm), "\"action\":\"academy_question_edit\""));
    ASSERT(strstr(B(&adm), "\"action\":\"academy_question_hide\""));
    ASSERT(strstr(B(&adm), "\"action\":\"academy_question_restore\""));
    cli_free(&adm);
    cli_free(&u);
    cli_free(&tr);
    wc_server_stop(&t);
}

TEST(acad_pii_and_front_matter_survive_random_input)
{
    static const char alpha[] = "0123456789+-/().,: @DEdexXIBANgeb.straßeStr.Am Markt\n\t€§";
    uint32_t seed = 7;
    pii_finding f[8];
    for (int round = 0; round < 3000; round++) {
        size_t len = seq_rng(160, &seed);
        char *t = rh_malloc(len ? len : 1);
        ASSERT(t);
        for (size_t i = 0; i < len; i++)
            t[i] = alpha[seq_rng((uint32_t)(sizeof alpha - 1), &seed)];
        size_t n = pii_scan(t, len, f, 8);
        for (size_t i = 0; i < n && i < 8; i++) {
            ASSERT(f[i].start < f[i].end && f[i].end <= len);
            if (i)
                ASSERT(f[i - 1].end <= f[i].start);
        }
        academy_lesson l;
        rh_error e;
        if (len >= 3)
            memcpy(t, "---", 3);
        if (academy_lesson_parse(t, len, "random", &l, &e) == RH_OK)
            academy_lesson_clear(&l);
        rh_free(t);
    }
}
