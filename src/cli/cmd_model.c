/*
 * cmd_model.c - `rathaus model`: inspecting and producing model files.
 *
 *   rathaus model info FILE.gguf [--full]   version, alignment, metadata,
 *                                           tensor table, totals
 *   rathaus model quantize ...              (model_quantize.c)
 *   rathaus model synth ...                 (model_synth.c)
 *
 * `info` validates the whole file (gguf_open) before printing anything, and
 * prints text from the file escaped, so a hostile file cannot send control
 * sequences to the terminal.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/error.h"
#include "engine/gguf.h"
#include "engine/quant.h"

/* Linked in when their files exist (as in main.c). */
#pragma weak cmd_model_quantize
#pragma weak cmd_model_synth

#define SHOW_STR_MAX 120 /* bytes of a string value shown before "..." */
#define SHOW_ARR_MAX 8   /* array elements shown */

static void usage(FILE *out)
{
    fprintf(out, "usage: rathaus model info FILE.gguf [--full]\n"
                 "       rathaus model quantize IN.gguf OUT.gguf TYPE\n"
                 "       rathaus model synth ...   (see rathaus model synth --help)\n"
                 "\n"
                 "info prints the GGUF version, alignment, all metadata (long strings and\n"
                 "arrays shortened; --full prints them whole), every tensor with type,\n"
                 "shape and size, and totals per tensor type.\n");
}

/* Print bytes as a quoted string, escaping quotes, backslashes and control
 * characters; at most max bytes (0: all), then "...". */
static void print_str(gguf_str s, uint64_t max)
{
    uint64_t n = (max && s.len > max) ? max : s.len;
    putchar('"');
    for (uint64_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c == '\n')
            fputs("\\n", stdout);
        else if (c == '\t')
            fputs("\\t", stdout);
        else if (c < 0x20 || c == 0x7f)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
    putchar('"');
    if (n < s.len)
        printf("... (%llu bytes)", (unsigned long long)s.len);
}

static void print_scalar(const gguf_kv *kv)
{
    switch (kv->type) {
    case GGUF_VT_UINT8:
    case GGUF_VT_UINT16:
    case GGUF_VT_UINT32:
    case GGUF_VT_UINT64: printf("%llu", (unsigned long long)kv->v.u64); break;
    case GGUF_VT_INT8:
    case GGUF_VT_INT16:
    case GGUF_VT_INT32:
    case GGUF_VT_INT64: printf("%lld", (long long)kv->v.i64); break;
    case GGUF_VT_FLOAT32: printf("%.7g", kv->v.f64); break;
    case GGUF_VT_FLOAT64: printf("%.17g", kv->v.f64); break;
    case GGUF_VT_BOOL: fputs(kv->v.u64 ? "true" : "false", stdout); break;
    default: break;
    }
}

static void print_value(const gguf_kv *kv, bool full)
{
    if (kv->type == GGUF_VT_STRING) {
        print_str(kv->v.str, full ? 0 : SHOW_STR_MAX);
        return;
    }
    if (kv->type != GGUF_VT_ARRAY) {
        print_scalar(kv);
        return;
    }
    uint64_t n = (!full && kv->arr_n > SHOW_ARR_MAX) ? SHOW_ARR_MAX : kv->arr_n;
    putchar('[');
    for (uint64_t i = 0; i < n; i++) {
        if (i)
            fputs(", ", stdout);
        if (kv->arr_type == GGUF_VT_STRING) {
            print_str(kv->arr_str[i], full ? 0 : 40);
        } else if (kv->arr_type == GGUF_VT_FLOAT32) {
            printf("%.7g", gguf_arr_num(kv, i));
        } else if (kv->arr_type == GGUF_VT_FLOAT64) {
            printf("%.17g", gguf_arr_num(kv, i));
        } else if (kv->arr_type == GGUF_VT_BOOL) {
            fputs(gguf_arr_int(kv, i) ? "true" : "false", stdout);
        } else if (kv->arr_type == GGUF_VT_UINT64) {
            /* beyond int64: print the raw unsigned value */
            uint64_t u = (uint64_t)gguf_arr_int(kv, i);
            printf("%llu", (unsigned long long)u);
        } else {
            printf("%lld", (long long)gguf_arr_int(kv, i));
        }
    }
    if (n < kv->arr_n)
        printf(", ... (%llu more)", (unsigned long long)(kv->arr_n - n));
    putchar(']');
}

static void print_type(const gguf_kv *kv, char *buf, size_t cap)
{
    if (kv->type == GGUF_VT_ARRAY)
        snprintf(buf, cap, "%s[%llu]", gguf_vtype_name(kv->arr_type), (unsigned long long)kv->arr_n);
    else
        snprintf(buf, cap, "%s", gguf_vtype_name(kv->type));
}

static const char *type_name(int type)
{
    const rh_type_info *ti = rh_type_get(type);
    return ti ? ti->name : "?";
}

/* Human-readable size: "12.3 MiB". */
static void human_bytes(uint64_t n, char *buf, size_t cap)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, cap, "%llu B", (unsigned long long)n);
    else
        snprintf(buf, cap, "%.1f %s", v, units[u]);
}

static int model_info(int argc, char **argv)
{
    const char *path = NULL;
    bool full = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--full") == 0) {
            full = true;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' || path) {
            fprintf(stderr, "rathaus: model info: unexpected argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        usage(stderr);
        return 2;
    }

    gguf_file *f = NULL;
    rh_error err;
    rh_error_clear(&err);
    int rc = gguf_open(path, &f, &err);
    if (rc != RH_OK) {
        fprintf(stderr, "rathaus: %s\n", err.msg[0] ? err.msg : rh_strerror(rc));
        return 1;
    }

    char hb[32], tb[48];
    human_bytes(gguf_file_size(f), hb, sizeof hb);
    printf("file:       %s\n", path);
    printf("size:       %llu bytes (%s)\n", (unsigned long long)gguf_file_size(f), hb);
    printf("version:    %u\n", gguf_version(f));
    printf("alignment:  %u\n", gguf_alignment(f));
    if (gguf_tensor_count(f))
        printf("data at:    byte %llu\n", (unsigned long long)gguf_data_offset(f));

    size_t nkv = gguf_kv_count(f);
    size_t keyw = 10;
    for (size_t i = 0; i < nkv; i++) {
        uint64_t l = gguf_kv_at(f, i)->key.len;
        if (l > keyw && l <= 48)
            keyw = (size_t)l;
    }
    printf("\nmetadata:   %zu entries\n", nkv);
    for (size_t i = 0; i < nkv; i++) {
        const gguf_kv *kv = gguf_kv_at(f, i);
        fputs("  ", stdout);
        /* keys are escaped like values but printed unquoted */
        size_t shown = 0;
        for (uint64_t j = 0; j < kv->key.len && j < 200; j++, shown++) {
            unsigned char c = (unsigned char)kv->key.ptr[j];
            if (c < 0x20 || c == 0x7f)
                printf("\\x%02x", c);
            else
                putchar(c);
        }
        for (; shown < keyw; shown++)
            putchar(' ');
        print_type(kv, tb, sizeof tb);
        printf("  %-14s ", tb);
        print_value(kv, full);
        putchar('\n');
    }

    size_t nt = gguf_tensor_count(f);
    size_t namew = 4;
    for (size_t i = 0; i < nt; i++) {
        uint64_t l = gguf_tensor_at(f, i)->name.len;
        if (l > namew && l <= 64)
            namew = (size_t)l;
    }
    uint64_t params = 0, bytes = 0;
    uint64_t per_type_bytes[RH_TYPE_COUNT] = {0};
    uint64_t per_type_count[RH_TYPE_COUNT] = {0};
    uint64_t per_type_params[RH_TYPE_COUNT] = {0};
    printf("\ntensors:    %zu\n", nt);
    if (nt)
        printf("  %-*s  %-5s  %-24s  %s\n", (int)namew, "name", "type", "shape", "bytes");
    for (size_t i = 0; i < nt; i++) {
        const gguf_tensor *t = gguf_tensor_at(f, i);
        char shape[96];
        size_t pos = 0;
        uint64_t n = 1;
        shape[0] = '\0';
        for (uint32_t d = 0; d < t->n_dims; d++) {
            int w = snprintf(shape + pos, sizeof shape - pos, "%s%llu", d ? " x " : "",
                             (unsigned long long)t->ne[d]);
            if (w > 0 && (size_t)w < sizeof shape - pos)
                pos += (size_t)w;
            n *= t->ne[d]; /* the reader checked the product fits */
        }
        fputs("  ", stdout);
        size_t shown = 0;
        for (uint64_t j = 0; j < t->name.len; j++, shown++) {
            unsigned char c = (unsigned char)t->name.ptr[j];
            if (c < 0x20 || c == 0x7f)
                printf("\\x%02x", c);
            else
                putchar(c);
        }
        for (; shown < namew; shown++)
            putchar(' ');
        printf("  %-5s  %-24s  %llu\n", type_name(t->type), shape, (unsigned long long)t->nbytes);
        params += n;
        bytes += t->nbytes;
        per_type_bytes[t->type] += t->nbytes; /* t->type < RH_TYPE_COUNT: checked on open */
        per_type_count[t->type]++;
        per_type_params[t->type] += n;
    }

    printf("\ntotals:\n");
    human_bytes(bytes, hb, sizeof hb);
    printf("  parameters: %llu (%.2f M)\n", (unsigned long long)params, (double)params / 1e6);
    printf("  bytes:      %llu (%s", (unsigned long long)bytes, hb);
    if (params)
        printf(", %.2f bits per parameter", 8.0 * (double)bytes / (double)params);
    printf(")\n");
    for (int ty = 0; ty < RH_TYPE_COUNT; ty++) {
        if (!per_type_count[ty])
            continue;
        human_bytes(per_type_bytes[ty], hb, sizeof hb);
        printf("  %-5s  %4llu tensors  %12llu parameters  %12llu bytes (%s)\n", type_name(ty),
               (unsigned long long)per_type_count[ty], (unsigned long long)per_type_params[ty],
               (unsigned long long)per_type_bytes[ty], hb);
    }
    gguf_close(f);
    return 0;
}

int cmd_model(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "info") == 0)
        return model_info(argc - 1, argv + 1);
    if (strcmp(sub, "quantize") == 0 || strcmp(sub, "synth") == 0) {
        int (*fn)(int, char **) = strcmp(sub, "quantize") == 0 ? cmd_model_quantize : cmd_model_synth;
        if (!fn) {
            fprintf(stderr, "rathaus: command 'model %s' is not available in this build\n", sub);
            return 2;
        }
        return fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "rathaus: unknown model command '%s'\n\n", sub);
    usage(stderr);
    return 2;
}
