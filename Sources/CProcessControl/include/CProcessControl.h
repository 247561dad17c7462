// The prctl(2) call that Swift's Glibc module cannot import (it is variadic).
#ifndef C_PROCESS_CONTROL_H
#define C_PROCESS_CONTROL_H

#include <sys/prctl.h>

/// Marks the calling process not dumpable: no core file, and /proc/<pid> (its memory, environment, open files, root
/// directory) and ptrace are closed to every process without CAP_SYS_PTRACE, its own user's included. Returns 0, or
/// -1 with errno set.
static inline int wg_forbid_inspection(void) {
    return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

#endif
