/*
 * log.h - the application log.
 *
 * One line per event: time, level, message, to stderr (or a file set by
 * rh_log_open). Thread-safe. Never logs prompts or passwords by design:
 * callers pass what is safe to keep.
 */
#ifndef RH_CORE_LOG_H
#define RH_CORE_LOG_H

enum { RH_LOG_DEBUG = 0, RH_LOG_INFO = 1, RH_LOG_WARN = 2, RH_LOG_ERROR = 3 };

void rh_log_set_level(int level);
int rh_log_open(const char *path); /* NULL: stderr */
void rh_log_close(void);
void rh_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define rh_debug(...) rh_log(RH_LOG_DEBUG, __VA_ARGS__)
#define rh_info(...) rh_log(RH_LOG_INFO, __VA_ARGS__)
#define rh_warn(...) rh_log(RH_LOG_WARN, __VA_ARGS__)
#define rh_errorf(...) rh_log(RH_LOG_ERROR, __VA_ARGS__)

#endif
