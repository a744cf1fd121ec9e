#ifndef STRATA_CLINUX_SHIM_H
#define STRATA_CLINUX_SHIM_H
#if defined(__linux__)
/// syncfs(2) (glibc 2.14+), declared here: Swift's Glibc module is built without _GNU_SOURCE.
extern int syncfs(int fd);
#endif
#endif
