/*
 * chat.c - chat template families: detection from the (untrusted) Jinja
 * template text by substrings, and fixed rendering code per family.
 * See chat.h.
 */
#include "engine/chat.h"

#include <string.h>

static const char *const family_names[RH_CHAT_COUNT] = {
    [RH_CHAT_CHATML] = "chatml",
    [RH_CHAT_LLAMA3] = "llama3",
    [RH_CHAT_LLAMA2] = "llama2",
    [RH_CHAT_MISTRAL_V1] = "mistral-v1",
    [RH_CHAT_MISTRAL_V3] = "mistral-v3",
    [RH_CHAT_MISTRAL_V3_TEKKEN] = "mistral-v3-tekken",
    [RH_CHAT_GEMMA] = "gemma",
    [RH_CHAT_PHI3] = "phi3",
};

static const char *const end_markers[RH_CHAT_COUNT] = {
    [RH_CHAT_CHATML] = "<|im_end|>",
    [RH_CHAT_LLAMA3] = "<|eot_id|>",
    [RH_CHAT_LLAMA2] = "</s>",
    [RH_CHAT_MISTRAL_V1] = "</s>",
    [RH_CHAT_MISTRAL_V3] = "</s>",
    [RH_CHAT_MISTRAL_V3_TEKKEN] = "</s>",
    [RH_CHAT_GEMMA] = "<end_of_turn>",
    [RH_CHAT_PHI3] = "<|end|>",
};

const char *rh_chat_family_name(rh_chat_family f)
{
    if ((int)f < 0 || f >= RH_CHAT_COUNT)
        return "?";
    return family_names[f];
}

const char *rh_chat_end_marker(rh_chat_family f)
{
    if ((int)f < 0 || f >= RH_CHAT_COUNT)
        return end_markers[RH_CHAT_CHATML];
    return end_markers[f];
}

static const struct {
    const char *name;
    rh_chat_family f;
} aliases[] = {
    {"llama-3", RH_CHAT_LLAMA3},     {"llama3.1", RH_CHAT_LLAMA3},
    {"llama-2", RH_CHAT_LLAMA2},     {"qwen", RH_CHAT_CHATML},
    {"qwen2", RH_CHAT_CHATML},       {"smollm", RH_CHAT_CHATML},
    {"eurollm", RH_CHAT_CHATML},     {"phi-3", RH_CHAT_PHI3},
    {"mistral", RH_CHAT_MISTRAL_V3}, {"mistral-v3tekken", RH_CHAT_MISTRAL_V3_TEKKEN},
    {"tekken", RH_CHAT_MISTRAL_V3_TEKKEN},
};

int rh_chat_family_from_name(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < RH_CHAT_COUNT; i++)
        if (strcmp(name, family_names[i]) == 0)
            return i;
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(name, aliases[i].name) == 0)
            return (int)aliases[i].f;
    return -1;
}

int rh_chat_role_from_name(const char *name)
{
    if (!name)
        return -1;
    if (strcmp(name, "system") == 0)
        return RH_ROLE_SYSTEM;
    if (strcmp(name, "user") == 0)
        return RH_ROLE_USER;
    if (strcmp(name, "assistant") == 0)
        return RH_ROLE_ASSISTANT;
    return -1;
}

/* ---- detection ------------------------------------------------------------ */

typedef struct {
    const char *p;
    size_t n;
} span;

static bool has(span t, const char *needle)
{
    return memmem(t.p, t.n, needle, strlen(needle)) != NULL; /* linear (two-way) */
}

rh_chat_family rh_chat_detect(const char *tmpl, size_t len, bool *fallback)
{
    if (fallback)
        *fallback = false;
    if (!tmpl || len == 0)
        goto unknown;
    if (len > RH_CHAT_TEMPLATE_SCAN_MAX)
        len = RH_CHAT_TEMPLATE_SCAN_MAX;
    span t = {tmpl, len};

    /* a bare family name (some converters store that instead of Jinja) */
    if (len < 32) {
        char name[32];
        memcpy(name, tmpl, len);
        name[len] = '\0';
        int f = rh_chat_family_from_name(name);
        if (f >= 0)
            return (rh_chat_family)f;
    }
    if (has(t, "<|im_start|>"))
        return RH_CHAT_CHATML;
    if (has(t, "<|start_header_id|>") && has(t, "<|end_header_id|>"))
        return RH_CHAT_LLAMA3;
    if (has(t, "<start_of_turn>"))
        return RH_CHAT_GEMMA;
    if (has(t, "[INST]")) {
        if (has(t, "<<SYS>>"))
            return RH_CHAT_LLAMA2;
        /* the Mistral variants differ only in the spaces around the markers,
         * as the template's string literals show them */
        if (has(t, "' [INST] '") || has(t, "\" [INST] \""))
            return RH_CHAT_MISTRAL_V1;
        if (has(t, "'[INST]'") || has(t, "\"[INST]\""))
            return RH_CHAT_MISTRAL_V3_TEKKEN;
        if (has(t, "'[/INST]'") || has(t, "\"[/INST]\"") || has(t, "[AVAILABLE_TOOLS]"))
            return RH_CHAT_MISTRAL_V3;
        /* "[INST] " ... " [/INST]" without system support: the early
         * Mistral Instruct templates, closest to v1 */
        return RH_CHAT_MISTRAL_V1;
    }
    if ((has(t, "<|assistant|>") || has(t, "<|user|>")) && has(t, "<|end|>"))
        return RH_CHAT_PHI3;
unknown:
    if (fallback)
        *fallback = true;
    return RH_CHAT_CHATML;
}

/* ---- rendering ------------------------------------------------------------ */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Output plus the record of where the template's own markers are. */
typedef struct rctx {
    rh_buf *out;
    rh_chat_mark *marks; /* NULL: not recorded */
    size_t max_marks, n_marks;
} rctx;

static int app(rctx *r, const char *s) { return rh_buf_appends(r->out, s); }

/* Append a control marker of the template (e.g. "<|im_start|>"). */
static int app_mark(rctx *r, const char *s)
{
    if (r->marks) {
        if (r->n_marks >= r->max_marks)
            return RH_ELIMIT;
        r->marks[r->n_marks].off = r->out->len;
        r->marks[r->n_marks].len = strlen(s);
    }
    int rc = rh_buf_appends(r->out, s);
    if (rc == RH_OK && r->marks)
        r->n_marks++;
    return rc;
}

/* Append s without leading/trailing ASCII white space. */
static int app_trim(rctx *r, const char *s)
{
    size_t n = strlen(s), i = 0;
    while (i < n && is_space(s[i]))
        i++;
    while (n > i && is_space(s[n - 1]))
        n--;
    return rh_buf_append(r->out, s + i, n - i);
}

static const char *role_name(rh_chat_role role)
{
    switch (role) {
    case RH_ROLE_SYSTEM: return "system";
    case RH_ROLE_USER: return "user";
    case RH_ROLE_ASSISTANT: return "assistant";
    }
    return "user";
}

#define APP(s)                                                                 \
    do {                                                                       \
        if ((rc = app(r, (s))) != RH_OK)                                       \
            goto out;                                                          \
    } while (0)
#define MARK(s)                                                                \
    do {                                                                       \
        if ((rc = app_mark(r, (s))) != RH_OK)                                  \
            goto out;                                                          \
    } while (0)
#define APP_TRIM(s)                                                            \
    do {                                                                       \
        if ((rc = app_trim(r, (s))) != RH_OK)                                  \
            goto out;                                                          \
    } while (0)

static int render_mistral(rctx *r, rh_chat_family f, const rh_chat_msg *msgs, size_t n)
{
    int rc = RH_OK;
    /* v1: " [INST] user [/INST] answer</s>"; v3: "[INST] user[/INST] answer</s>";
     * v3-tekken: "[INST]user[/INST]answer</s>" */
    bool v1 = f == RH_CHAT_MISTRAL_V1, tekken = f == RH_CHAT_MISTRAL_V3_TEKKEN;
    bool in_turn = false;
    for (size_t i = 0; i < n; i++) {
        if (!in_turn) {
            if (v1)
                APP(" ");
            MARK("[INST]");
            if (!tekken)
                APP(" ");
            in_turn = true;
        }
        switch (msgs[i].role) {
        case RH_ROLE_SYSTEM:
            APP(msgs[i].content);
            APP("\n\n");
            break;
        case RH_ROLE_USER:
            APP(msgs[i].content);
            if (v1)
                APP(" ");
            MARK("[/INST]");
            break;
        case RH_ROLE_ASSISTANT:
            if (!tekken)
                APP(" ");
            if (f == RH_CHAT_MISTRAL_V3)
                APP_TRIM(msgs[i].content);
            else
                APP(msgs[i].content);
            MARK("</s>");
            in_turn = false;
            break;
        }
    }
out:
    return rc;
}

static int render_llama2(rctx *r, const rh_chat_msg *msgs, size_t n)
{
    int rc = RH_OK;
    /* "[INST] <<SYS>>\nsys\n<</SYS>>\n\nuser [/INST] answer </s><s>[INST] user [/INST]"
     * (the first BOS comes from the tokenizer) */
    bool in_turn = true;
    MARK("[INST]");
    APP(" ");
    for (size_t i = 0; i < n; i++) {
        if (!in_turn) {
            MARK("<s>");
            MARK("[INST]");
            APP(" ");
            in_turn = true;
        }
        switch (msgs[i].role) {
        case RH_ROLE_SYSTEM:
            MARK("<<SYS>>");
            APP("\n");
            APP_TRIM(msgs[i].content);
            APP("\n");
            MARK("<</SYS>>");
            APP("\n\n");
            break;
        case RH_ROLE_USER:
            APP_TRIM(msgs[i].content);
            APP(" ");
            MARK("[/INST]");
            break;
        case RH_ROLE_ASSISTANT:
            APP(" ");
            APP_TRIM(msgs[i].content);
            APP(" ");
            MARK("</s>");
            in_turn = false;
            break;
        }
    }
out:
    return rc;
}

static int render_gemma(rctx *r, const rh_chat_msg *msgs, size_t n, bool gen)
{
    int rc = RH_OK;
    /* No system role: system text goes at the start of the next user turn. */
    const char *pending_sys[16];
    size_t n_sys = 0;
    for (size_t i = 0; i < n; i++) {
        const rh_chat_msg *m = &msgs[i];
        if (m->role == RH_ROLE_SYSTEM) {
            if (n_sys < sizeof pending_sys / sizeof pending_sys[0])
                pending_sys[n_sys++] = m->content;
            continue;
        }
        bool user = m->role == RH_ROLE_USER;
        MARK("<start_of_turn>");
        APP(user ? "user\n" : "model\n");
        if (user && n_sys) {
            for (size_t k = 0; k < n_sys; k++)
                APP_TRIM(pending_sys[k]);
            APP("\n\n");
            n_sys = 0;
        }
        APP_TRIM(m->content);
        MARK("<end_of_turn>");
        APP("\n");
    }
    if (gen) {
        MARK("<start_of_turn>");
        APP("model\n");
    }
out:
    return rc;
}

static int render(rctx *r, rh_chat_family f, const rh_chat_msg *msgs, size_t n, bool gen)
{
    int rc = RH_OK;
    switch (f) {
    case RH_CHAT_CHATML:
        for (size_t i = 0; i < n; i++) {
            MARK("<|im_start|>");
            APP(role_name(msgs[i].role));
            APP("\n");
            APP(msgs[i].content);
            MARK("<|im_end|>");
            APP("\n");
        }
        if (gen) {
            MARK("<|im_start|>");
            APP("assistant\n");
        }
        break;
    case RH_CHAT_LLAMA3:
        for (size_t i = 0; i < n; i++) {
            MARK("<|start_header_id|>");
            APP(role_name(msgs[i].role));
            MARK("<|end_header_id|>");
            APP("\n\n");
            APP_TRIM(msgs[i].content);
            MARK("<|eot_id|>");
        }
        if (gen) {
            MARK("<|start_header_id|>");
            APP("assistant");
            MARK("<|end_header_id|>");
            APP("\n\n");
        }
        break;
    case RH_CHAT_LLAMA2:
        rc = render_llama2(r, msgs, n);
        break;
    case RH_CHAT_MISTRAL_V1:
    case RH_CHAT_MISTRAL_V3:
    case RH_CHAT_MISTRAL_V3_TEKKEN:
        /* the answer follows [/INST] directly: no generation prompt needed */
        rc = render_mistral(r, f, msgs, n);
        break;
    case RH_CHAT_GEMMA:
        rc = render_gemma(r, msgs, n, gen);
        break;
    case RH_CHAT_PHI3:
        for (size_t i = 0; i < n; i++) {
            const char *role = msgs[i].role == RH_ROLE_SYSTEM ? "<|system|>"
                               : msgs[i].role == RH_ROLE_USER ? "<|user|>"
                                                              : "<|assistant|>";
            MARK(role);
            APP("\n");
            APP(msgs[i].content);
            MARK("<|end|>");
            APP("\n");
        }
        if (gen) {
            MARK("<|assistant|>");
            APP("\n");
        }
        break;
    case RH_CHAT_COUNT:
        break;
    }
out:
    return rc;
}

int rh_chat_render_marked(rh_chat_family f, const rh_chat_msg *msgs, size_t n,
                          bool add_generation_prompt, rh_buf *out, rh_chat_mark *marks,
                          size_t max_marks, size_t *n_marks, rh_error *err)
{
    if (n_marks)
        *n_marks = 0;
    if ((int)f < 0 || f >= RH_CHAT_COUNT)
        return rh_error_set(err, RH_EINVAL, "unknown chat template family %d", (int)f);
    if (n > 0 && !msgs)
        return rh_error_set(err, RH_EINVAL, "chat messages missing");
    for (size_t i = 0; i < n; i++) {
        if ((int)msgs[i].role < RH_ROLE_SYSTEM || msgs[i].role > RH_ROLE_ASSISTANT)
            return rh_error_set(err, RH_EINVAL, "message %zu has an unknown role", i + 1);
        if (!msgs[i].content)
            return rh_error_set(err, RH_EINVAL, "message %zu has no content", i + 1);
    }
    rctx r = {out, marks, marks ? max_marks : 0, 0};
    int rc = render(&r, f, msgs, n, add_generation_prompt);
    if (n_marks)
        *n_marks = r.n_marks;
    if (rc == RH_ELIMIT)
        rh_error_set(err, rc, "the chat prompt is too long");
    else if (rc == RH_ENOMEM)
        rh_error_set(err, rc, "out of memory while building the chat prompt");
    return rc;
}

int rh_chat_render(rh_chat_family f, const rh_chat_msg *msgs, size_t n,
                   bool add_generation_prompt, rh_buf *out, rh_error *err)
{
    return rh_chat_render_marked(f, msgs, n, add_generation_prompt, out, NULL, 0, NULL, err);
}
