#ifndef COHORT_CTIMERFD_H
#define COHORT_CTIMERFD_H

// A timer descriptor of its own for NIOSupport's LoopTimer (Linux). Glibc's Swift module does not carry
// <sys/timerfd.h>; these two wrappers are all LoopTimer needs.

#ifdef __linux__
#include <sys/timerfd.h>
#include <time.h>

/// A disarmed, non-blocking, close-on-exec timer on CLOCK_MONOTONIC; -1 with errno on failure.
static inline int cohort_timerfd_create(void) {
    return timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
}

/// Arms `fd` to expire once, `nanoseconds` from now (0 disarms it); 0 or -1 with errno.
static inline int cohort_timerfd_set(int fd, long long nanoseconds) {
    struct itimerspec value = {{0, 0}, {0, 0}};
    value.it_value.tv_sec = (time_t)(nanoseconds / 1000000000LL);
    value.it_value.tv_nsec = (long)(nanoseconds % 1000000000LL);
    return timerfd_settime(fd, 0, &value, 0);
}
#endif

#endif
