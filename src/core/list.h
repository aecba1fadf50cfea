/*
 * list.h - walking the comma separated lists of configuration values
 * ("gold, silber", knowledge_roots, an upstream's models).
 */
#ifndef RH_CORE_LIST_H
#define RH_CORE_LIST_H

#include <stddef.h>

/* The next item of the comma separated list at *p: blanks and commas
 * before it are skipped, the item runs to the next comma, trailing blanks
 * cut off (it can be empty at the list's end). Returns the item's start
 * (not NUL-terminated; its length in *len) and advances *p, or NULL when
 * *p is NULL or at the end. */
const char *rh_list_next(const char **p, size_t *len);

#endif
