/*
 * test_fuzz_chat.c - replays the chat-template fuzz target's seeds and every
 * kept crasher (tests/data/chat/crashers/) through the same harness.
 */
#define LLVMFuzzerTestOneInput fuzz_chat_one
#include "../fuzz/fuzz_chat.c"

#include "fuzz_replay.h"
#include "test.h"

TEST(fuzz_chat_replay)
{
    int n = fuzz_replay_dir("fuzz/corpus/chat", fuzz_chat_one);
    n += fuzz_replay_dir("tests/data/chat/crashers", fuzz_chat_one);
    ASSERT(n >= 3);
}
