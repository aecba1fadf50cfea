/*
 * main.c - entry point of the `rathaus` binary: dispatches to subcommands.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

/* Commands are linked in when their file exists; weak so that the binary
 * builds while a subsystem is still missing. */
#pragma weak cmd_serve
#pragma weak cmd_user
#pragma weak cmd_apikey
#pragma weak cmd_generate
#pragma weak cmd_logits
#pragma weak cmd_embed
#pragma weak cmd_tokenize
#pragma weak cmd_model
#pragma weak cmd_bench
#pragma weak cmd_ingest
#pragma weak cmd_search
#pragma weak cmd_eval_retrieval

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} command;

static const command commands[] = {
    {"serve", cmd_serve, "start the portal (rathaus serve [--config FILE])"},
    {"user", cmd_user, "manage accounts (rathaus user add --admin NAME)"},
    {"apikey", cmd_apikey, "manage API keys (rathaus apikey create USER)"},
    {"generate", cmd_generate, "generate text with a model"},
    {"logits", cmd_logits, "print top logits per prompt position"},
    {"embed", cmd_embed, "print sentence embeddings"},
    {"tokenize", cmd_tokenize, "tokenize text or run tokenizer test vectors"},
    {"model", cmd_model, "model files: info, quantize, synth"},
    {"bench", cmd_bench, "measure inference speed"},
    {"ingest", cmd_ingest, "add documents to a collection"},
    {"search", cmd_search, "search a collection"},
    {"eval-retrieval", cmd_eval_retrieval, "measure search quality"},
};

static void usage(FILE *out)
{
    fprintf(out, "rathaus - sovereign AI portal for municipal administrations\n\n"
                 "usage: rathaus COMMAND [ARGS...]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (commands[i].fn)
            fprintf(out, "  %-15s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(argv[1], commands[i].name) != 0)
            continue;
        if (!commands[i].fn) {
            fprintf(stderr, "rathaus: command '%s' is not available in this build\n", argv[1]);
            return 2;
        }
        return commands[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "rathaus: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
