/*
 * cmd_embed.c - `rathaus embed`: sentence embeddings of each line of a text
 * file, printed in the format of the reference embedding file
 * (../shared/testdata/reference, .embd.ref: `tokens: ...` and `embd: ...`
 * per line; pooled, not normalized).
 *
 *   rathaus embed -m MODEL.gguf -f TEXTS_FILE [-t THREADS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/engine_args.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "engine/model.h"

#define MAX_TEXT_BYTES (16u << 20)

static void usage(void)
{
    fprintf(stderr, "usage: rathaus embed -m MODEL.gguf -f TEXTS_FILE [-t THREADS]\n"
                    "  embeds each non-empty line of TEXTS_FILE\n");
}

int cmd_embed(int argc, char **argv)
{
    const char *model_path = NULL, *text_path = NULL;
    int n_threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            return 0;
        }
        if (!val) {
            fprintf(stderr, "rathaus embed: option '%s' needs a value\n", a);
            return 2;
        }
        if (strcmp(a, "-m") == 0 || strcmp(a, "--model") == 0) {
            model_path = val;
        } else if (strcmp(a, "-f") == 0 || strcmp(a, "--file") == 0) {
            text_path = val;
        } else if (strcmp(a, "-t") == 0 || strcmp(a, "--threads") == 0) {
            if (cli_parse_int(val, 1, 1024, &n_threads)) {
                fprintf(stderr, "rathaus embed: bad thread count '%s'\n", val);
                return 2;
            }
        } else {
            fprintf(stderr, "rathaus embed: unknown option '%s'\n", a);
            usage();
            return 2;
        }
        i++;
    }
    if (!model_path || !text_path) {
        usage();
        return 2;
    }

    int ret = 1;
    rh_error err = {0};
    rh_model *m = NULL;
    rh_ctx *c = NULL;
    rh_pool *pool = NULL;
    float *emb = NULL;
    size_t len = 0;
    char *text = cli_read_file(text_path, MAX_TEXT_BYTES, &len);
    if (!text) {
        fprintf(stderr, "rathaus embed: cannot read %s (missing, unreadable or too large)\n",
                text_path);
        goto out;
    }
    if (cli_engine_open("embed", model_path, 0, n_threads, 0, &m, &pool, &c))
        goto out;
    const rh_model_info *in = rh_model_get_info(m);
    emb = rh_malloc_array((size_t)in->n_embd, sizeof *emb);
    if (!emb) {
        fprintf(stderr, "rathaus embed: out of memory\n");
        goto out;
    }
    size_t start = 0;
    while (start < len) {
        size_t end = start;
        while (end < len && text[end] != '\n')
            end++;
        size_t line_len = end - start;
        if (line_len > 0 && text[start + line_len - 1] == '\r')
            line_len--;
        if (line_len > 0) {
            int32_t *tok = NULL;
            size_t n_tok = 0;
            if (rh_tokenize(rh_model_vocab(m), text + start, line_len, true, true, &tok, &n_tok,
                            &err) != RH_OK ||
                rh_embed(c, tok, (int)n_tok, emb, &err) != RH_OK) {
                fprintf(stderr, "rathaus embed: %s\n", err.msg);
                rh_free(tok);
                goto out;
            }
            printf("tokens:");
            for (size_t i = 0; i < n_tok; i++)
                printf(" %d", tok[i]);
            printf("\nembd:");
            for (int i = 0; i < in->n_embd; i++)
                printf(" %f", (double)emb[i]);
            printf("\n");
            rh_free(tok);
        }
        start = end + 1;
    }
    ret = 0;
out:
    rh_free(text);
    rh_free(emb);
    rh_ctx_free(c);
    rh_pool_free(pool);
    rh_model_free(m);
    return ret;
}
