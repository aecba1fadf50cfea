/*
 * list.c - walking comma separated lists (see list.h).
 */
#include "core/list.h"

const char *rh_list_next(const char **p, size_t *len)
{
    const char *s = *p;
    if (!s || !*s)
        return NULL;
    while (*s == ' ' || *s == ',')
        s++;
    const char *e = s;
    while (*e && *e != ',')
        e++;
    const char *t = e;
    while (t > s && t[-1] == ' ')
        t--;
    *len = (size_t)(t - s);
    *p = e;
    return s;
}
