#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>
#include "ragsys.h"

int ragsys_set_thread_name(const char *name) {
    char truncated[16];
    strncpy(truncated, name, sizeof truncated - 1);
    truncated[sizeof truncated - 1] = '\0';
#if defined(__linux__)
    return pthread_setname_np(pthread_self(), truncated);
#elif defined(__APPLE__)
    return pthread_setname_np(truncated);
#else
    return 0;
#endif
}
