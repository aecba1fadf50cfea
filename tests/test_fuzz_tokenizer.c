/*
 * test_fuzz_tokenizer.c - replays the tokenizer fuzz target's seeds and every
 * kept crasher (tests/data/tokenizer/crashers/) through the very same
 * harness, so a fixed crash stays fixed.
 */
#define LLVMFuzzerTestOneInput fuzz_tokenizer_one
#define LLVMFuzzerInitialize fuzz_tokenizer_init
#include "../fuzz/fuzz_tokenizer.c"

#include "fuzz_replay.h"
#include "test.h"

TEST(fuzz_tokenizer_replay)
{
    if (!test_data_dir())
        SKIP("test data not found (../shared/testdata)");
    fuzz_tokenizer_init(NULL, NULL);
    int n = fuzz_replay_dir("fuzz/corpus/tokenizer", fuzz_tokenizer_one);
    n += fuzz_replay_dir("tests/data/tokenizer/crashers", fuzz_tokenizer_one);
    ASSERT(n >= 3);
}
