#!/bin/sh
# checksrc.sh - bans functions that have no place in rathaus (like curl's
# checksrc): unbounded string functions, atoi-style parsing without error
# checks, and heap allocation that bypasses src/core/alloc.c.
# Prints each violation as file:line and exits 1 if there is any.
set -u
cd "$(dirname "$0")/.."
status=0
files=$(find src tests fuzz -name '*.[ch]' 2>/dev/null)
[ -z "$files" ] && exit 0
# 1. unsafe or unchecked functions, anywhere
if grep -nE '(^|[^_a-zA-Z0-9.>])(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atoll|atof|strtok)[[:space:]]*\(' $files; then
    echo "checksrc: use bounded / checked alternatives (snprintf, rh_buf, strtol with checks)" >&2
    status=1
fi
# 2. raw heap allocation outside the wrapper
if grep -nE '(^|[^_a-zA-Z0-9.>])(malloc|calloc|realloc|strdup|strndup)[[:space:]]*\(' $(echo "$files" | grep -v '^src/core/alloc\.c$'); then
    echo "checksrc: allocate through rh_malloc & co. (src/core/alloc.h)" >&2
    status=1
fi
exit $status
