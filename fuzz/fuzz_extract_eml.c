/*
 * fuzz_extract_eml.c - libFuzzer target for the eml extractor
 * (src/knowledge/extract_*.c): any input must give a result or an error
 * with a message, within the text limit, without crashing or leaking.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "knowledge/extract.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rh_kdoc doc;
    rh_error err;
    /* no OCR of attached images while fuzzing (slow, and not ours) */
    setenv("RATHAUS_OCR_LANG", "keine-ocr-beim-fuzzen", 0);
    rh_kdoc_init(&doc, 1 << 20, rh_monotonic_seconds() + 5);
    rh_error_clear(&err);
    int rc = rh_extract_eml((const char *)data, size, &doc, &err);
    if ((rc != RH_OK && !err.msg[0]) || doc.text_bytes > (1 << 20))
        abort();
    rh_kdoc_free(&doc);
    return 0;
}
