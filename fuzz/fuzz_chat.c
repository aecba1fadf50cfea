/*
 * fuzz_chat.c - libFuzzer target for chat-template recognition and
 * rendering.
 *
 * The template string of a model file is untrusted: any size, any bytes.
 * The input is split at the first NUL byte: before it the template, after
 * it up to three message texts separated by NUL. The template is recognised
 * (rh_chat_detect), and the messages are rendered with the recognised
 * family and with every other family, plain and with control markers; the
 * markers must lie inside the rendered text, in order, without overlap.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "engine/chat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MSGS 3

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    const char *nul = memchr(in, 0, size);
    size_t tlen = nul ? (size_t)(nul - in) : size;
    bool fallback = false;
    rh_chat_family fam = rh_chat_detect(in, tlen, &fallback);
    if (!rh_chat_family_name(fam) || strcmp(rh_chat_family_name(fam), "?") == 0)
        abort();

    /* messages: NUL-separated after the template; copy to terminate them */
    char *copy = rh_malloc(size + 1);
    if (!copy)
        return 0;
    memcpy(copy, in, size);
    copy[size] = '\0';
    rh_chat_msg msgs[MAX_MSGS];
    size_t n = 0;
    size_t pos = nul ? tlen + 1 : size;
    while (pos <= size && n < MAX_MSGS && nul) {
        msgs[n].role = n == 0 && size % 2 ? RH_ROLE_SYSTEM : (n % 2 ? RH_ROLE_ASSISTANT : RH_ROLE_USER);
        msgs[n].content = copy + pos;
        n++;
        pos += strlen(copy + pos) + 1;
    }

    for (int f = -1; f < 8; f++) {
        rh_chat_family use = f < 0 ? fam : (rh_chat_family)f;
        if (f >= 0 && strcmp(rh_chat_family_name(use), "?") == 0)
            continue;
        rh_buf out;
        rh_error err;
        rh_buf_init(&out, 1u << 22);
        (void)rh_chat_render(use, msgs, n, true, &out, &err);
        rh_buf_reset(&out);
        rh_chat_mark marks[RH_CHAT_MAX_MARKS(MAX_MSGS)];
        size_t n_marks = 0;
        if (rh_chat_render_marked(use, msgs, n, n % 2 == 1, &out, marks, RH_CHAT_MAX_MARKS(MAX_MSGS),
                                  &n_marks, &err) == RH_OK) {
            size_t end = 0;
            for (size_t i = 0; i < n_marks; i++) {
                if (marks[i].off < end || marks[i].off + marks[i].len > out.len)
                    abort();
                end = marks[i].off + marks[i].len;
            }
        }
        rh_buf_free(&out);
    }
    rh_free(copy);
    return 0;
}
