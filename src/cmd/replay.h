/*
 * replay.h - `fanzha replay`: the pipeline over NDJSON files or stdin,
 * alerts as JSON lines to stdout or a file, no broker.
 */
#ifndef FZ_REPLAY_H
#define FZ_REPLAY_H

#include "config.h"

/* Runs to completion on the calling thread (plus threads-1 helpers).
 * Returns the process exit code. */
int fz_replay_main(const fz_config *cfg);

#endif
