/*
 * daemon.h - `fanzha run`: the Kafka consume -> match -> produce service.
 */
#ifndef FZ_DAEMON_H
#define FZ_DAEMON_H

#include "config.h"

/* Runs until SIGTERM/SIGINT or a fatal error; returns the exit code. */
int fz_daemon_main(const fz_config *cfg);

#endif
