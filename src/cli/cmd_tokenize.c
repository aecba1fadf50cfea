/*
 * cmd_tokenize.c - `rathaus tokenize`: tokenize text with a GGUF
 * vocabulary, or run a tokenizer conformance file.
 *
 *   rathaus tokenize -m VOCAB.gguf -p TEXT [--no-special] [--parse-special]
 *       one line per token: id, then the piece in quotes
 *   rathaus tokenize -m VOCAB.gguf -f FILE ...     text from a file
 *   rathaus tokenize -m VOCAB.gguf --test FILE.inp
 *       FILE.inp holds strings each followed by "\n__ggml_vocab_test__\n";
 *       prints one line per string with " id" for each token (no special
 *       tokens added, special tokens not parsed): the .out format.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/alloc.h"
#include "core/error.h"
#include "engine/gguf.h"
#include "engine/tokenizer.h"

#define TEST_SEP "\n__ggml_vocab_test__\n"
#define MAX_INPUT (256u << 20)

static void usage(FILE *out)
{
    fprintf(out, "usage: rathaus tokenize -m VOCAB.gguf (-p TEXT | -f FILE | --test FILE.inp)\n"
                 "                        [--no-special] [--parse-special]\n"
                 "  -p TEXT          tokenize TEXT, print id and piece per token\n"
                 "  -f FILE          tokenize the contents of FILE\n"
                 "  --test FILE.inp  print the ids of each test string (the .out format)\n"
                 "  --no-special     do not add BOS/EOS ([CLS]/[SEP])\n"
                 "  --parse-special  recognise control tokens written in the text\n");
}

static char *read_all(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = rh_malloc(cap);
    while (buf) {
        if (n == cap) {
            if (cap >= MAX_INPUT) {
                rh_free(buf);
                buf = NULL;
                break;
            }
            char *nb = rh_realloc(buf, cap * 2);
            if (!nb) {
                rh_free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, fp);
        if (r == 0)
            break;
        n += r;
    }
    if (buf && ferror(fp)) {
        rh_free(buf);
        buf = NULL;
    }
    fclose(fp);
    *len = n;
    return buf;
}

static void print_piece(const rh_vocab *v, int32_t id)
{
    char piece[256];
    int n = rh_token_to_piece(v, id, piece, sizeof piece, true);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof piece)
        n = sizeof piece;
    fputc('\'', stdout);
    for (int i = 0; i < n; i++) {
        unsigned char c = (unsigned char)piece[i];
        if (c == '\n')
            fputs("\\n", stdout);
        else if (c == '\t')
            fputs("\\t", stdout);
        else if (c == '\r')
            fputs("\\r", stdout);
        else if (c < 0x20 || c == 0x7F)
            printf("\\x%02x", c);
        else
            fputc(c, stdout);
    }
    fputs("'\n", stdout);
}

static int run_test_file(const rh_vocab *v, const char *data, size_t len)
{
    size_t pos = 0, sl = strlen(TEST_SEP);
    while (pos < len) {
        const char *m = memmem(data + pos, len - pos, TEST_SEP, sl);
        size_t end = m ? (size_t)(m - data) : len;
        int32_t *ids = NULL;
        size_t n = 0;
        rh_error err = {0};
        if (rh_tokenize(v, data + pos, end - pos, false, false, &ids, &n, &err) != RH_OK) {
            fprintf(stderr, "rathaus tokenize: %s\n", err.msg);
            return 1;
        }
        for (size_t i = 0; i < n; i++)
            printf(" %d", ids[i]);
        putchar('\n');
        rh_free(ids);
        pos = m ? end + sl : len;
    }
    return 0;
}

int cmd_tokenize(int argc, char **argv)
{
    const char *model = NULL, *prompt = NULL, *file = NULL, *test = NULL;
    bool add_special = true, parse_special = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && has_val)
            model = argv[++i];
        else if ((!strcmp(a, "-p") || !strcmp(a, "--prompt")) && has_val)
            prompt = argv[++i];
        else if ((!strcmp(a, "-f") || !strcmp(a, "--file")) && has_val)
            file = argv[++i];
        else if (!strcmp(a, "--test") && has_val)
            test = argv[++i];
        else if (!strcmp(a, "--no-special"))
            add_special = false;
        else if (!strcmp(a, "--parse-special"))
            parse_special = true;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "rathaus tokenize: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!model || (!prompt && !file && !test)) {
        usage(stderr);
        return 2;
    }

    int status = 1;
    gguf_file *gf = NULL;
    rh_vocab *v = NULL;
    char *data = NULL;
    size_t len = 0;
    rh_error err = {0};
    if (gguf_open(model, &gf, &err) != RH_OK || rh_vocab_load(gf, &v, &err) != RH_OK) {
        fprintf(stderr, "rathaus tokenize: %s: %s\n", model, err.msg);
        goto out;
    }
    if (test || file) {
        const char *path = test ? test : file;
        data = read_all(path, &len);
        if (!data) {
            fprintf(stderr, "rathaus tokenize: cannot read %s\n", path);
            goto out;
        }
    }
    if (test) {
        status = run_test_file(v, data, len);
        goto out;
    }
    const char *text = prompt ? prompt : data;
    size_t tl = prompt ? strlen(prompt) : len;
    int32_t *ids = NULL;
    size_t n = 0;
    if (rh_tokenize(v, text, tl, add_special, parse_special, &ids, &n, &err) != RH_OK) {
        fprintf(stderr, "rathaus tokenize: %s\n", err.msg);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        printf("%6d -> ", ids[i]);
        print_piece(v, ids[i]);
    }
    rh_free(ids);
    status = 0;
out:
    rh_free(data);
    rh_vocab_free(v);
    gguf_close(gf);
    return status;
}
