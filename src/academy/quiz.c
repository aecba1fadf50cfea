/*
 * quiz.c - the quiz engine: draw an attempt (questions of a level in
 * random order, options shuffled), keep it as a compact plan string for
 * the store, and score the answers (a question counts only when exactly
 * its correct options are chosen).
 */
#include <stdio.h>
#include <string.h>

#include "academy/academy.h"
#include "core/alloc.h"
#include "core/buf.h"

void academy_quiz_free(academy_quiz *qz)
{
    if (!qz)
        return;
    rh_free(qz->items);
    qz->items = NULL;
    qz->n = 0;
}

static void shuffle_ints(int *v, size_t n, academy_rng rng, void *ud)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = rng((uint32_t)i, ud);
        if (j >= i)
            j = i - 1;
        int t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

int academy_quiz_new(const academy *a, const char *level_id, size_t max_questions, academy_rng rng, void *ud,
                     academy_quiz *out)
{
    memset(out, 0, sizeof *out);
    size_t n = 0;
    for (size_t i = 0; i < a->n_questions; i++)
        n += !strcmp(a->questions[i].level, level_id);
    if (n == 0)
        return RH_ENOTFOUND;
    int *idx = rh_malloc_array(n, sizeof *idx);
    if (!idx)
        return RH_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < a->n_questions; i++)
        if (!strcmp(a->questions[i].level, level_id))
            idx[k++] = (int)i;
    shuffle_ints(idx, n, rng, ud);
    if (max_questions && n > max_questions)
        n = max_questions;
    out->items = rh_calloc(n, sizeof *out->items);
    if (!out->items) {
        rh_free(idx);
        return RH_ENOMEM;
    }
    out->n = n;
    for (size_t i = 0; i < n; i++) {
        academy_quiz_item *it = &out->items[i];
        it->q = &a->questions[idx[i]];
        for (size_t p = 0; p < it->q->n_options; p++)
            it->perm[p] = (int)p;
        shuffle_ints(it->perm, it->q->n_options, rng, ud);
    }
    rh_free(idx);
    return RH_OK;
}

int academy_quiz_encode(const academy_quiz *qz, char **out)
{
    rh_buf b;
    rh_buf_init(&b, 1u << 20);
    int rc = RH_OK;
    for (size_t i = 0; i < qz->n && rc == RH_OK; i++) {
        const academy_quiz_item *it = &qz->items[i];
        rc = rh_buf_appendf(&b, "%s%s:", i ? ";" : "", it->q->id);
        for (size_t p = 0; p < it->q->n_options && rc == RH_OK; p++)
            rc = rh_buf_appendf(&b, "%s%d", p ? "." : "", it->perm[p]);
    }
    if (rc == RH_OK && !(*out = rh_buf_take(&b, NULL)))
        rc = RH_ENOMEM;
    rh_buf_free(&b);
    return rc;
}

static const academy_question *find_question(const academy *a, const char *id, size_t len)
{
    for (size_t i = 0; i < a->n_questions; i++)
        if (strlen(a->questions[i].id) == len && !memcmp(a->questions[i].id, id, len))
            return &a->questions[i];
    return NULL;
}

int academy_quiz_decode(const academy *a, const char *plan, academy_quiz *out)
{
    memset(out, 0, sizeof *out);
    size_t n = plan && *plan ? 1 : 0;
    for (const char *p = plan; p && *p; p++)
        n += *p == ';';
    if (n == 0 || n > 10000)
        return RH_EFORMAT;
    out->items = rh_calloc(n, sizeof *out->items);
    if (!out->items)
        return RH_ENOMEM;
    const char *p = plan;
    for (size_t i = 0; i < n; i++) {
        const char *colon = strchr(p, ':');
        const char *semi = strchr(p, ';');
        if (!semi)
            semi = p + strlen(p);
        if (!colon || colon > semi)
            goto bad;
        academy_quiz_item *it = &out->items[i];
        if (!(it->q = find_question(a, p, (size_t)(colon - p))))
            goto bad;
        const char *q = colon + 1;
        unsigned seen = 0;
        for (size_t k = 0; k < it->q->n_options; k++) {
            if (*q < '0' || *q > '9')
                goto bad;
            int v = 0;
            while (*q >= '0' && *q <= '9' && v < 100)
                v = v * 10 + (*q++ - '0');
            if (v >= (int)it->q->n_options || (seen & (1u << v)))
                goto bad;
            seen |= 1u << v;
            it->perm[k] = v;
            if (k + 1 < it->q->n_options && *q++ != '.')
                goto bad;
        }
        if (q != semi)
            goto bad;
        p = *semi ? semi + 1 : semi;
    }
    out->n = n;
    return RH_OK;
bad:
    academy_quiz_free(out);
    return RH_EFORMAT;
}

size_t academy_quiz_score(const academy_quiz *qz, const uint32_t *chosen, int *right)
{
    size_t correct = 0;
    for (size_t i = 0; i < qz->n; i++) {
        const academy_quiz_item *it = &qz->items[i];
        uint32_t want = 0;
        for (size_t p = 0; p < it->q->n_options; p++)
            if (it->q->options[it->perm[p]].correct)
                want |= 1u << p;
        int ok = chosen && chosen[i] == want;
        if (right)
            right[i] = ok;
        correct += (size_t)ok;
    }
    return correct;
}

int academy_quiz_passed(size_t correct, size_t total, int pass_percent)
{
    if (total == 0)
        return 0;
    return correct * 100 >= (size_t)pass_percent * total;
}
