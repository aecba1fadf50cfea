/*
 * fuzz_replay.h - feed every file of a folder to a fuzz harness (tests that
 * replay seeds and kept crashers). Returns the number of files replayed; a
 * missing folder counts as none.
 */
#ifndef RH_TEST_FUZZ_REPLAY_H
#define RH_TEST_FUZZ_REPLAY_H

#include <stddef.h>
#include <stdint.h>

int fuzz_replay_dir(const char *dir, int (*one)(const uint8_t *data, size_t size));

#endif
