/*
 * cmd_logits.c - `rathaus logits`: the top logits at every prompt position
 * and a greedy continuation, printed in the format of the reference files
 * in ../shared/testdata/reference (*.ref), so the engine can be compared
 * with llama.cpp line by line.
 *
 *   rathaus logits -m MODEL.gguf -f PROMPT_FILE [--top 10] [--greedy 32]
 *                  [-c CTX] [-t THREADS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/engine_args.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "engine/model.h"

#define MAX_PROMPT_BYTES (1u << 20)

static void usage(void)
{
    fprintf(stderr, "usage: rathaus logits -m MODEL.gguf -f PROMPT_FILE [--top N] [--greedy N] "
                    "[-c CTX] [-t THREADS]\n");
}

/* Indices of the k largest values (descending; ties: lower id first). */
static void top_k(const float *v, int n, int k, int *idx)
{
    for (int j = 0; j < k; j++)
        idx[j] = -1;
    for (int i = 0; i < n; i++) {
        if (idx[k - 1] >= 0 && !(v[i] > v[idx[k - 1]]))
            continue;
        int j = k - 1;
        while (j > 0 && (idx[j - 1] < 0 || v[i] > v[idx[j - 1]])) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
}

static void print_top(const char *label, const float *v, int n, int k, int *idx)
{
    top_k(v, n, k, idx);
    printf("%s top:", label);
    for (int j = 0; j < k; j++)
        if (idx[j] >= 0)
            printf(" %d:%f", idx[j], (double)v[idx[j]]);
    printf("\n");
}

int cmd_logits(int argc, char **argv)
{
    const char *model_path = NULL, *prompt_path = NULL;
    int top = 10, n_greedy = 32, n_ctx = 4096, n_threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            return 0;
        } else if (!val) {
            bad = 1;
        } else if (strcmp(a, "-m") == 0 || strcmp(a, "--model") == 0) {
            model_path = val;
        } else if (strcmp(a, "-f") == 0 || strcmp(a, "--file") == 0) {
            prompt_path = val;
        } else if (strcmp(a, "--top") == 0) {
            bad = cli_parse_int(val, 1, 1000, &top);
        } else if (strcmp(a, "--greedy") == 0) {
            bad = cli_parse_int(val, 0, 100000, &n_greedy);
        } else if (strcmp(a, "-c") == 0 || strcmp(a, "--ctx") == 0) {
            bad = cli_parse_int(val, 1, 1 << 22, &n_ctx);
        } else if (strcmp(a, "-t") == 0 || strcmp(a, "--threads") == 0) {
            bad = cli_parse_int(val, 1, 1024, &n_threads);
        } else {
            bad = 1;
        }
        if (bad) {
            fprintf(stderr, "rathaus logits: bad or incomplete option '%s'\n", a);
            usage();
            return 2;
        }
        i++;
    }
    if (!model_path || !prompt_path) {
        usage();
        return 2;
    }

    int ret = 1;
    rh_error err = {0};
    rh_model *m = NULL;
    rh_ctx *c = NULL;
    rh_pool *pool = NULL;
    char *text = NULL;
    int32_t *tok = NULL, *pos = NULL, *seq = NULL, *gen = NULL;
    uint8_t *want = NULL;
    float *logits = NULL;
    int *idx = NULL;
    size_t text_len = 0, n_tok = 0;

    text = cli_read_file(prompt_path, MAX_PROMPT_BYTES, &text_len);
    if (!text) {
        fprintf(stderr, "rathaus logits: cannot read %s (missing, unreadable or larger than 1 MiB)\n",
                prompt_path);
        goto out;
    }
    if (cli_engine_open("logits", model_path, n_ctx, n_threads, 1, &m, &pool, &c))
        goto out;
    const rh_model_info *in = rh_model_get_info(m);
    if (rh_tokenize(rh_model_vocab(m), text, text_len, true, true, &tok, &n_tok, &err) != RH_OK) {
        fprintf(stderr, "rathaus logits: %s\n", err.msg);
        goto out;
    }
    if (n_tok == 0) {
        fprintf(stderr, "rathaus logits: the prompt gives no tokens\n");
        goto out;
    }
    if (n_tok + (size_t)n_greedy > (size_t)rh_ctx_n_ctx(c)) {
        fprintf(stderr, "rathaus logits: %zu prompt tokens + %d greedy tokens exceed the context "
                        "size %d (use -c)\n", n_tok, n_greedy, rh_ctx_n_ctx(c));
        goto out;
    }
    int n = (int)n_tok, nv = in->n_vocab;
    pos = rh_malloc_array(n_tok, sizeof *pos);
    seq = rh_calloc(n_tok, sizeof *seq);
    want = rh_malloc(n_tok);
    gen = rh_malloc_array((size_t)n_greedy + 1, sizeof *gen);
    logits = rh_malloc_array(n_tok * (size_t)nv, sizeof *logits);
    idx = rh_malloc_array((size_t)top, sizeof *idx);
    if (!pos || !seq || !want || !gen || !logits || !idx) {
        fprintf(stderr, "rathaus logits: out of memory\n");
        goto out;
    }
    for (int i = 0; i < n; i++) {
        pos[i] = i;
        want[i] = 1;
    }
    rh_batch b = {n, tok, pos, seq, want};
    if (rh_decode(c, &b, logits, &err) != RH_OK) {
        fprintf(stderr, "rathaus logits: %s\n", err.msg);
        goto out;
    }
    printf("tokens:");
    for (int i = 0; i < n; i++)
        printf(" %d", tok[i]);
    printf("\n");
    char label[32];
    for (int i = 0; i < n; i++) {
        snprintf(label, sizeof label, "pos %d", i);
        print_top(label, logits + (size_t)i * (size_t)nv, nv, top, idx);
    }

    /* greedy: argmax, then decode that token, n_greedy times */
    float *last = logits + (size_t)(n - 1) * (size_t)nv;
    for (int g = 0; g < n_greedy; g++) {
        int best = 0;
        top_k(last, nv, 1, &best);
        gen[g] = best;
        int32_t p = n + g, s = 0;
        uint8_t w = 1;
        rh_batch one = {1, &gen[g], &p, &s, &w};
        if (rh_decode(c, &one, logits, &err) != RH_OK) {
            fprintf(stderr, "rathaus logits: %s\n", err.msg);
            goto out;
        }
        last = logits;
    }
    printf("greedy:");
    for (int g = 0; g < n_greedy; g++)
        printf(" %d", gen[g]);
    printf("\n");
    print_top("last", last, nv, top, idx);

    printf("text: ");
    char piece[256];
    for (int g = 0; g < n_greedy; g++) {
        int len = rh_token_to_piece(rh_model_vocab(m), gen[g], piece, sizeof piece, false);
        if (len < 0)
            continue;
        if (len > (int)sizeof piece)
            len = (int)sizeof piece;
        for (int i = 0; i < len; i++)
            if (piece[i] == '\n' || piece[i] == '\r')
                piece[i] = ' ';
        fwrite(piece, 1, (size_t)len, stdout);
    }
    printf("\n");
    ret = 0;
out:
    rh_free(text);
    rh_free(tok);
    rh_free(pos);
    rh_free(seq);
    rh_free(want);
    rh_free(gen);
    rh_free(logits);
    rh_free(idx);
    rh_ctx_free(c);
    rh_pool_free(pool);
    rh_model_free(m);
    return ret;
}
