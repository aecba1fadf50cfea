/*
 * engine_args.h - what the engine commands of the CLI (`rathaus embed`,
 * `rathaus logits`) share: reading an integer option, reading the input
 * file, and loading a model with its thread pool and context.
 */
#ifndef RH_CLI_ENGINE_ARGS_H
#define RH_CLI_ENGINE_ARGS_H

#include <stddef.h>

#include "engine/model.h"
#include "engine/ops.h"

/* A decimal integer in [lo, hi] (the whole string) into *out; -1 if not. */
int cli_parse_int(const char *s, int lo, int hi, int *out);

/* A whole file of at most `max` bytes, rh_malloc'ed and NUL-terminated
 * (its length in *len); NULL when it is missing, unreadable or larger. */
char *cli_read_file(const char *path, size_t max, size_t *len);

/* Load the model at `path`, start a pool of n_threads (0: as many as
 * cores) and a context of n_ctx tokens (0: the model's) for one sequence.
 * With need_causal an encoder model is refused. Errors are printed as
 * "rathaus <cmd>: ..."; returns 0, or -1 with whatever was created left in
 * *m, *pool, *c for the caller to free. */
int cli_engine_open(const char *cmd, const char *path, int n_ctx, int n_threads, int need_causal, rh_model **m,
                    rh_pool **pool, rh_ctx **c);

#endif
