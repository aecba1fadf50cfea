/*
 * cli.h - the subcommands of the `rathaus` binary.
 *
 * Each command lives in its own file src/cli/cmd_<name>.c and has the
 * signature int cmd_<name>(int argc, char **argv), where argv[0] is the
 * command name; it returns the process exit code (0 ok, 1 failure, 2 usage).
 * main.c dispatches by name; a command whose file does not exist yet is
 * reported as not available.
 */
#ifndef RH_CLI_H
#define RH_CLI_H

#include <stdint.h>

int cmd_serve(int argc, char **argv);
int cmd_user(int argc, char **argv);
int cmd_apikey(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_model(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_ingest(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_eval_retrieval(int argc, char **argv);
/* eval_portal.c: BM25/dense/RRF table (emb_spec) and the relevance
 * threshold table (unanswerable questions file); either may be NULL. */
struct kstore;
struct rh_ksearcher;
int eval_portal_run(struct kstore *ks, struct rh_ksearcher *s, int64_t tenant, int64_t coll,
                    const char *questions, const char *emb_spec, const char *unanswerable);

/* Parts of `rathaus model` that live in their own files. */
int cmd_model_quantize(int argc, char **argv); /* model_quantize.c */
int cmd_model_synth(int argc, char **argv);    /* model_synth.c */

#endif
