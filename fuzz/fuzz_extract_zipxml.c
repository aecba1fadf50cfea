/*
 * fuzz_extract_zipxml.c - libFuzzer target for the other ZIP+XML formats:
 * the first byte chooses ODT, XLSX or ODS (value % 3), the rest is the
 * file. Any input must give a result or an error with a message, within
 * the text limit, without crashing or leaking.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "knowledge/extract.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    rh_extract_fn fns[3] = {rh_extract_odt, rh_extract_xlsx, rh_extract_ods};
    rh_kdoc doc;
    rh_error err;
    rh_kdoc_init(&doc, 1 << 20, rh_monotonic_seconds() + 5);
    rh_error_clear(&err);
    int rc = fns[data[0] % 3]((const char *)data + 1, size - 1, &doc, &err);
    if ((rc != RH_OK && !err.msg[0]) || doc.text_bytes > (1 << 20))
        abort();
    rh_kdoc_free(&doc);
    return 0;
}
