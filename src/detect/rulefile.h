/*
 * rulefile.h - opening a file the rules directory names (a rule file, a
 * list file) so that it cannot be anything but a regular file inside that
 * directory.
 *
 * Symlinks are followed only while they stay beneath the directory, so a
 * Kubernetes ConfigMap volume (rules.yaml -> ..data/rules.yaml, ..data ->
 * ..2026_12_07_05_40_00.123456789) works and a link to /etc/shadow does
 * not; FIFOs, devices, sockets and directories are refused without being
 * opened for reading, so nothing in the directory can block the reload
 * thread.
 */
#ifndef FZ_RULEFILE_H
#define FZ_RULEFILE_H

#include <stddef.h>

/*
 * Open rel (relative, no leading '/') beneath dir for reading. Returns a
 * descriptor of a regular file (O_CLOEXEC; the caller closes it), or -1
 * with why set to the reason in words ("resolves outside the rules
 * directory", "is a FIFO, not a regular file", ...), without the file
 * name. Any thread.
 */
int fz_rulefile_open(const char *dir, const char *rel, char *why, size_t why_size);

#endif
