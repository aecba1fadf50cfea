/* test_utf8.c - the strict UTF-8 validator shared by the extractors. */
#include "engine/unicode.h"
#include "test.h"

TEST(utf8_valid_accepts_and_rejects)
{
    ASSERT(rh_utf8_valid("", 0));
    ASSERT(rh_utf8_valid("Gr\xC3\xBC\xC3\x9F Gott \xE2\x82\xAC \xF0\x9F\x99\x82", 20));
    ASSERT(rh_utf8_valid("\xF4\x8F\xBF\xBF", 4));   /* U+10FFFF */
    ASSERT(!rh_utf8_valid("\xF5\x80\x80\x80", 4));  /* lead byte F5 */
    ASSERT(!rh_utf8_valid("\xFF\x80\x80", 3));      /* lead byte FF (was taken as 3 bytes) */
    ASSERT(!rh_utf8_valid("\xF4\x90\x80\x80", 4));  /* above U+10FFFF */
    ASSERT(!rh_utf8_valid("\xC0\xAF", 2));          /* overlong '/' */
    ASSERT(!rh_utf8_valid("\xE0\x80\xAF", 3));      /* overlong, 3 bytes */
    ASSERT(!rh_utf8_valid("\xF0\x80\x80\xAF", 4));  /* overlong, 4 bytes */
    ASSERT(!rh_utf8_valid("\xED\xA0\x80", 3));      /* surrogate U+D800 */
    ASSERT(!rh_utf8_valid("\xC3", 1));              /* truncated */
    ASSERT(!rh_utf8_valid("\xE2\x82", 2));
    ASSERT(!rh_utf8_valid("\x80", 1));              /* lone continuation */
    ASSERT(!rh_utf8_valid("\xC3\x28", 2));          /* bad continuation */
}
