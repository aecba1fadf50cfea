/*
 * chat.h - chat templates: turning system/user/assistant turns into the
 * prompt text a model was trained on.
 *
 * The GGUF key `tokenizer.chat_template` holds a Jinja template. It is
 * untrusted input and is never executed: rh_chat_detect recognises the
 * family by distinctive substrings (bounded work on any size and any bytes)
 * and the rendering is done by fixed code per family. A family can also be
 * chosen by name ("llama3", "chatml", ...) in the configuration.
 *
 * The rendered text does not contain the BOS token: tokenize it with
 * add_special = true (the tokenizer adds BOS if the model wants it) and
 * parse_special = true (so that markers like <|im_start|> become their
 * control tokens) - or, safer, use rh_chat_render_marked and parse control
 * tokens only at the template's own markers (the engine does).
 */
#ifndef RH_ENGINE_CHAT_H
#define RH_ENGINE_CHAT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/error.h"

typedef enum rh_chat_family {
    RH_CHAT_CHATML = 0,        /* <|im_start|>role\n...<|im_end|>\n (Qwen, SmolLM, EuroLLM) */
    RH_CHAT_LLAMA3,            /* <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|> */
    RH_CHAT_LLAMA2,            /* [INST] <<SYS>>\n...\n<</SYS>>\n\n... [/INST] */
    RH_CHAT_MISTRAL_V1,        /* " [INST] ... [/INST] ...</s>" */
    RH_CHAT_MISTRAL_V3,        /* "[INST] ...[/INST] ...</s>" */
    RH_CHAT_MISTRAL_V3_TEKKEN, /* "[INST]...[/INST]...</s>" */
    RH_CHAT_GEMMA,             /* <start_of_turn>user\n...<end_of_turn>\n, "model" */
    RH_CHAT_PHI3,              /* <|user|>\n...<|end|>\n */
    RH_CHAT_COUNT
} rh_chat_family;

typedef enum rh_chat_role {
    RH_ROLE_SYSTEM = 0,
    RH_ROLE_USER = 1,
    RH_ROLE_ASSISTANT = 2,
} rh_chat_role;

typedef struct rh_chat_msg {
    rh_chat_role role;
    const char *content; /* NUL-terminated UTF-8 */
} rh_chat_msg;

/* Templates longer than this are only searched in their first part. */
#define RH_CHAT_TEMPLATE_SCAN_MAX (1u << 20)

/* "chatml", "llama3", "llama2", "mistral-v1", "mistral-v3",
 * "mistral-v3-tekken", "gemma", "phi3"; "?" for an invalid value. */
const char *rh_chat_family_name(rh_chat_family f);
/* Family by name (the names above; a few aliases such as "qwen", "llama-3",
 * "phi-3" are accepted); -1 if unknown. */
int rh_chat_family_from_name(const char *name);

/* Recognise the family of a Jinja chat template (len bytes, may contain any
 * bytes, need not be NUL-terminated; NULL or empty allowed). Unrecognised
 * templates give RH_CHAT_CHATML with *fallback = true (fallback may be NULL). */
rh_chat_family rh_chat_detect(const char *tmpl, size_t len, bool *fallback);

/* "system", "user", "assistant"; -1 if unknown. */
int rh_chat_role_from_name(const char *name);

/* Append the prompt text for msgs[0..n) to `out`; with add_generation_prompt
 * the assistant header follows, so the model answers as the assistant.
 * RH_EINVAL for a bad role or missing content; RH_ELIMIT / RH_ENOMEM from
 * the buffer (then `out` may hold a partial prompt). */
int rh_chat_render(rh_chat_family f, const rh_chat_msg *msgs, size_t n,
                   bool add_generation_prompt, rh_buf *out, rh_error *err);

/* Where the template put one of its own control markers in the output. */
typedef struct rh_chat_mark {
    size_t off, len;
} rh_chat_mark;

/* Marks needed at most for n messages. */
#define RH_CHAT_MAX_MARKS(n) (6 * (n) + 8)

/* rh_chat_render that also records the template's own control markers
 * ("<|im_start|>", "[INST]", "</s>", ...) in marks[0..*n_marks), in order.
 * Tokenize the text between markers with parse_special = false and the
 * markers as their control tokens: then control-token text inside a
 * message stays plain text (no faked turns). RH_ELIMIT if more than
 * max_marks markers (RH_CHAT_MAX_MARKS(n) always suffices). */
int rh_chat_render_marked(rh_chat_family f, const rh_chat_msg *msgs, size_t n,
                          bool add_generation_prompt, rh_buf *out, rh_chat_mark *marks,
                          size_t max_marks, size_t *n_marks, rh_error *err);

/* The text that ends the assistant's turn ("<|eot_id|>", "<|im_end|>",
 * "</s>", "<end_of_turn>", "<|end|>"): generation stops there. */
const char *rh_chat_end_marker(rh_chat_family f);

#endif
