#ifndef STRATA_CLINUX_SHIM_H
#define STRATA_CLINUX_SHIM_H
#if defined(__linux__)
#include <spawn.h>
/// syncfs(2) (glibc 2.14+), declared here: Swift's Glibc module is built without _GNU_SOURCE.
extern int syncfs(int fd);
/// pipe2(2) (glibc 2.9+): a pipe whose ends are close-on-exec from the start.
extern int pipe2(int descriptors[2], int flags);
/// Closes every descriptor from `from` up in the child (glibc 2.34+), at spawn time: no descriptor
/// another thread opens meanwhile can leak into it. Declared here for the same reason.
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);

/// The server's own event loop (`SocketLoop`): epoll, an eventfd to wake it, sendfile, and
/// accept4 (a GNU extension, hence declared) so an accepted socket is non-blocking at once.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
extern int accept4(int socket, struct sockaddr *address, socklen_t *length, int flags);
#endif

#include <stdint.h>
/// A counter in memory shared with other processes (a mapped file): a load that sees every write
/// made before the writer's add returned, and the add itself. Swift's atomics cannot be placed on
/// memory it did not allocate.
static inline uint64_t strata_shared_load(const uint64_t *counter) {
    return __atomic_load_n(counter, __ATOMIC_ACQUIRE);
}
static inline uint64_t strata_shared_increment(uint64_t *counter) {
    return __atomic_add_fetch(counter, 1, __ATOMIC_ACQ_REL);
}
#endif
