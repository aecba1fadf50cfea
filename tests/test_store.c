/* test_store.c - the SQLite store: migrations, CRUD, scoping, tenants. */
#include "core/alloc.h"
#include "store/store.h"
#include "test.h"

static store *open_mem(void)
{
    store *s = NULL;
    rh_error e;
    if (store_open(":memory:", &s, &e) != RH_OK)
        FAIL("store_open: %s", e.msg);
    return s;
}

TEST(store_migrations_and_tenant_columns)
{
    char path[512];
    snprintf(path, sizeof path, "%s/db.sqlite", test_tmpdir());
    store *s = NULL;
    rh_error e;
    ASSERT_EQ(store_open(path, &s, &e), RH_OK);
    ASSERT_EQ(store_schema_version(s), store_latest_version());
    ASSERT_EQ(store_ping(s), RH_OK);
    const char *tables[] = {"users", "groups", "user_groups", "sessions", "api_keys",
                            "conversations", "messages", "audit"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        if (!store_has_column(s, tables[i], "tenant_id"))
            FAIL("%s has no tenant_id", tables[i]);
    ASSERT(!store_has_column(s, "users", "no_such_column"));
    store_close(s);
    /* re-open: migrations are not applied twice */
    ASSERT_EQ(store_open(path, &s, &e), RH_OK);
    ASSERT_EQ(store_schema_version(s), store_latest_version());
    store_close(s);
}

TEST(store_users_and_groups)
{
    store *s = open_mem();
    rh_error e;
    int64_t id = 0, id2 = 0, n = -1, g1 = 0, g2 = 0;
    ASSERT_EQ(store_user_count(s, 1, &n), RH_OK);
    ASSERT_EQ(n, 0);
    ASSERT_EQ(store_user_create_first(s, 1, "anna", "Anna A.", "h1", &id, &e), RH_OK);
    ASSERT_EQ(store_user_create_first(s, 1, "bert", "Bert", "h2", &id2, &e), RH_EEXIST);
    ASSERT_EQ(store_user_create(s, 1, "bert", "Bert", "h2", "user", &id2, &e), RH_OK);
    ASSERT_EQ(store_user_create(s, 1, "bert", "B2", "h3", "user", NULL, &e), RH_EEXIST);
    ASSERT_EQ(store_user_create(s, 1, "carl", "C", "h3", "emperor", NULL, &e), RH_EEXIST);
    store_user u;
    char *hash = NULL;
    ASSERT_EQ(store_user_by_name(s, 1, "anna", &u, &hash), RH_OK);
    ASSERT_STREQ(u.role, "admin");
    ASSERT_STREQ(hash, "h1");
    ASSERT_EQ(u.tenant_id, 1);
    store_user_free(&u);
    rh_free(hash);
    ASSERT_EQ(store_group_create(s, 1, "Bauamt", &g1), RH_OK);
    ASSERT_EQ(store_group_create(s, 1, "Bauamt", NULL), RH_EEXIST);
    ASSERT_EQ(store_group_create(s, 1, "Ordnungsamt", &g2), RH_OK);
    int64_t gs[2] = {g1, g2};
    ASSERT_EQ(store_user_set_groups(s, 1, id2, gs, 2), RH_OK);
    ASSERT_EQ(store_user_get(s, 1, id2, &u), RH_OK);
    ASSERT_EQ(u.n_groups, 2);
    store_user_free(&u);
    ASSERT_EQ(store_user_update(s, 1, id2, "Bert B.", "trainer", "en", 1), RH_OK);
    ASSERT_EQ(store_user_get(s, 1, id2, &u), RH_OK);
    ASSERT_STREQ(u.display_name, "Bert B.");
    ASSERT_STREQ(u.role, "trainer");
    ASSERT_STREQ(u.lang, "en");
    ASSERT_EQ(u.disabled, 1);
    store_user_free(&u);
    ASSERT_EQ(store_user_update(s, 1, id2, NULL, "pope", NULL, -1), RH_EINVAL);
    ASSERT_EQ(store_user_get(s, 2, id2, &u), RH_ENOTFOUND); /* other tenant */
    store_groups gl;
    ASSERT_EQ(store_group_list_all(s, 1, &gl), RH_OK);
    ASSERT_EQ(gl.n, 2);
    ASSERT_EQ(gl.items[0].members, 1);
    store_group_list_free(&gl);
    ASSERT_EQ(store_group_delete(s, 1, g1), RH_OK);
    ASSERT_EQ(store_user_get(s, 1, id2, &u), RH_OK);
    ASSERT_EQ(u.n_groups, 1);
    store_user_free(&u);
    store_users ul;
    ASSERT_EQ(store_user_list_all(s, 1, &ul), RH_OK);
    ASSERT_EQ(ul.n, 2);
    store_user_list_free(&ul);
    ASSERT_EQ(store_user_delete(s, 1, id2), RH_OK);
    ASSERT_EQ(store_user_delete(s, 1, id2), RH_ENOTFOUND);
    store_close(s);
}

TEST(store_sessions_expire)
{
    store *s = open_mem();
    rh_error e;
    int64_t uid;
    ASSERT_EQ(store_user_create(s, 1, "u", "U", "h", "user", &uid, &e), RH_OK);
    ASSERT_EQ(store_session_create(s, 1, "hashA", "csrfA", uid, "127.0.0.1", 1000), RH_OK);
    store_session ss;
    ASSERT_EQ(store_session_lookup(s, "hashA", 1100, 300, 3600, &ss), RH_OK);
    ASSERT_EQ(ss.user_id, uid);
    ASSERT_STREQ(ss.csrf, "csrfA");
    ASSERT_EQ(store_session_lookup(s, "hashA", 1350, 300, 3600, &ss), RH_OK); /* touched at 1100 */
    ASSERT_EQ(store_session_lookup(s, "hashA", 1351 + 300, 300, 3600, &ss), RH_ENOTFOUND); /* idle */
    ASSERT_EQ(store_session_lookup(s, "hashA", 1100, 300, 3600, &ss), RH_ENOTFOUND); /* deleted */
    ASSERT_EQ(store_session_create(s, 1, "hashB", "c", uid, NULL, 1000), RH_OK);
    ASSERT_EQ(store_session_lookup(s, "hashB", 4700, 300000, 3600, &ss), RH_ENOTFOUND); /* absolute */
    ASSERT_EQ(store_session_create(s, 1, "hashC", "c", uid, NULL, 1000), RH_OK);
    ASSERT_EQ(store_session_delete_user(s, uid), RH_OK);
    ASSERT_EQ(store_session_lookup(s, "hashC", 1001, 300, 3600, &ss), RH_ENOTFOUND);
    store_close(s);
}

TEST(store_conversations_are_scoped)
{
    store *s = open_mem();
    rh_error e;
    int64_t a, b, c1, c2, m1, m2;
    ASSERT_EQ(store_user_create(s, 1, "a", "A", "h", "user", &a, &e), RH_OK);
    ASSERT_EQ(store_user_create(s, 1, "b", "B", "h", "user", &b, &e), RH_OK);
    ASSERT_EQ(store_conv_create(s, 1, a, "Bauantrag 50%", "m", NULL, 10, &c1), RH_OK);
    ASSERT_EQ(store_conv_create(s, 1, a, "Hund", "m", "sys", 20, &c2), RH_OK);
    store_conv c;
    ASSERT_EQ(store_conv_get(s, b, c1, &c), RH_ENOTFOUND);
    ASSERT_EQ(store_conv_update(s, b, c1, "x", NULL, NULL, 30), RH_ENOTFOUND);
    ASSERT_EQ(store_conv_delete(s, b, c1), RH_ENOTFOUND);
    store_convs l;
    ASSERT_EQ(store_conv_list(s, a, NULL, 0, &l), RH_OK);
    ASSERT_EQ(l.n, 2);
    ASSERT_EQ(l.items[0].id, c2); /* newest first */
    store_conv_list_free(&l);
    ASSERT_EQ(store_conv_list(s, a, "50%", 0, &l), RH_OK);
    ASSERT_EQ(l.n, 1);
    store_conv_list_free(&l);
    ASSERT_EQ(store_conv_list(s, a, "_", 0, &l), RH_OK);
    ASSERT_EQ(l.n, 0);
    store_conv_list_free(&l);
    ASSERT_EQ(store_conv_list(s, b, NULL, 0, &l), RH_OK);
    ASSERT_EQ(l.n, 0);
    store_conv_list_free(&l);
    ASSERT_EQ(store_msg_add(s, c1, "user", "Hallo", NULL, 40, &m1), RH_OK);
    ASSERT_EQ(store_msg_add(s, c1, "assistant", "", "m", 41, &m2), RH_OK);
    ASSERT_EQ(store_msg_finish(s, m2, "Guten Tag", 5, 3, "stop"), RH_OK);
    store_msgs ml;
    ASSERT_EQ(store_msg_list(s, c1, &ml), RH_OK);
    ASSERT_EQ(ml.n, 2);
    ASSERT_STREQ(ml.items[1].content, "Guten Tag");
    ASSERT_EQ(ml.items[1].completion_tokens, 3);
    store_msg_list_free(&ml);
    ASSERT_EQ(store_msg_delete_from(s, c1, m2), RH_OK);
    ASSERT_EQ(store_msg_list(s, c1, &ml), RH_OK);
    ASSERT_EQ(ml.n, 1);
    store_msg_list_free(&ml);
    ASSERT_EQ(store_conv_get(s, a, c1, &c), RH_OK);
    ASSERT_EQ(c.updated_at, 41);
    store_conv_free(&c);
    ASSERT_EQ(store_conv_delete(s, a, c1), RH_OK);
    ASSERT_EQ(store_msg_list(s, c1, &ml), RH_OK);
    ASSERT_EQ(ml.n, 0); /* cascaded */
    store_msg_list_free(&ml);
    store_close(s);
}

TEST(store_apikeys_audit_settings)
{
    store *s = open_mem();
    rh_error e;
    int64_t a, b, k;
    ASSERT_EQ(store_user_create(s, 1, "a", "A", "h", "user", &a, &e), RH_OK);
    ASSERT_EQ(store_user_create(s, 1, "b", "B", "h", "user", &b, &e), RH_OK);
    ASSERT_EQ(store_apikey_create(s, 1, a, "ci", "khash", "rh_abcd", 5, &k), RH_OK);
    store_apikey key;
    ASSERT_EQ(store_apikey_lookup(s, "khash", 9, &key), RH_OK);
    ASSERT_EQ(key.user_id, a);
    store_apikey_free(&key);
    ASSERT_EQ(store_apikey_revoke(s, b, k), RH_ENOTFOUND);
    store_apikeys kl;
    ASSERT_EQ(store_apikey_list_user(s, a, &kl), RH_OK);
    ASSERT_EQ(kl.n, 1);
    ASSERT_EQ(kl.items[0].last_used_at, 9);
    store_apikey_list_free(&kl);
    ASSERT_EQ(store_apikey_revoke(s, a, k), RH_OK);
    ASSERT_EQ(store_apikey_lookup(s, "khash", 9, &key), RH_ENOTFOUND);
    for (int i = 0; i < 5; i++)
        ASSERT_EQ(store_audit_add(s, 1, "a", "login", "a", NULL, "127.0.0.1", 100 + i), RH_OK);
    store_audits al;
    ASSERT_EQ(store_audit_list(s, 1, 0, 3, &al), RH_OK);
    ASSERT_EQ(al.n, 3);
    int64_t last = al.items[2].id;
    store_audit_list_free(&al);
    ASSERT_EQ(store_audit_list(s, 1, last, 10, &al), RH_OK);
    ASSERT_EQ(al.n, 2);
    store_audit_list_free(&al);
    char *v = NULL;
    ASSERT_EQ(store_setting_get(s, "x", &v), RH_ENOTFOUND);
    ASSERT_EQ(store_setting_set(s, "x", "1"), RH_OK);
    ASSERT_EQ(store_setting_set(s, "x", "2"), RH_OK);
    ASSERT_EQ(store_setting_get(s, "x", &v), RH_OK);
    ASSERT_STREQ(v, "2");
    rh_free(v);
    store_close(s);
}

TEST(store_survives_allocation_failures)
{
    store *s = open_mem();
    rh_error e;
    int64_t uid, gid, cid;
    ASSERT_EQ(store_user_create(s, 1, "anna", "Anna", "h", "user", &uid, &e), RH_OK);
    ASSERT_EQ(store_user_create(s, 1, "bert", "Bert", "h", "admin", NULL, &e), RH_OK);
    ASSERT_EQ(store_group_create(s, 1, "Bauamt", &gid), RH_OK);
    ASSERT_EQ(store_user_set_groups(s, 1, uid, &gid, 1), RH_OK);
    ASSERT_EQ(store_conv_create(s, 1, uid, "Hund anmelden", NULL, NULL, 1, &cid), RH_OK);
    ASSERT_EQ(store_msg_add(s, cid, "user", "Wie?", NULL, 2, NULL), RH_OK);
    int failures = 0;
    for (long n = 0; n < 40; n++) {
        store_users ul;
        store_convs cl;
        store_msgs ml;
        store_user u;
        rh_alloc_fail_after(n);
        int r1 = store_user_list_all(s, 1, &ul);
        int r2 = store_conv_list(s, uid, "Hund", 0, &cl);
        int r3 = store_msg_list(s, cid, &ml);
        int r4 = store_user_get(s, 1, uid, &u);
        rh_alloc_fail_reset();
        if (r1 == RH_OK) {
            store_user_list_free(&ul);
        } else {
            ASSERT_EQ(r1, RH_ENOMEM);
            failures++;
        }
        if (r2 == RH_OK)
            store_conv_list_free(&cl);
        else
            ASSERT_EQ(r2, RH_ENOMEM);
        if (r3 == RH_OK)
            store_msg_list_free(&ml);
        else
            ASSERT_EQ(r3, RH_ENOMEM);
        if (r4 == RH_OK)
            store_user_free(&u);
        else
            ASSERT_EQ(r4, RH_ENOMEM);
    }
    ASSERT(failures > 0); /* the walk did reach our allocations */
    store_close(s);
}
