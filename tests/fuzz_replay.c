/* fuzz_replay.c - replay a folder of inputs through a fuzz harness (see fuzz_replay.h). */
#include "fuzz_replay.h"

#include <dirent.h>
#include <stdio.h>

#include "core/alloc.h"
#include "test.h"

int fuzz_replay_dir(const char *dir, int (*one)(const uint8_t *data, size_t size))
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len = 0;
        char *data = test_read_file(path, &len);
        if (!data)
            continue;
        fprintf(stderr, "    replay %s\n", path);
        one((const uint8_t *)data, len);
        rh_free(data);
        n++;
    }
    closedir(d);
    return n;
}
