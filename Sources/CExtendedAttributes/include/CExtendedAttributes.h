// The extended-attribute calls that Swift's Glibc module does not expose; the CLI reads POSIX access control lists
// through them.
#ifndef C_EXTENDED_ATTRIBUTES_H
#define C_EXTENDED_ATTRIBUTES_H

#include <sys/types.h>
#include <sys/xattr.h>

static inline ssize_t wg_fgetxattr(int descriptor, const char *name, void *value, size_t size) {
    return fgetxattr(descriptor, name, value, size);
}

static inline ssize_t wg_getxattr(const char *path, const char *name, void *value, size_t size) {
    return getxattr(path, name, value, size);
}

#endif
