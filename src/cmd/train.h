/*
 * train.h - `fanzha model train|eval|info`: write a text scorer's model
 * file from labelled corpora (liblinear, L2-regularised logistic
 * regression), measure one on labelled corpora, print what one holds.
 * The model itself (features, file format, scoring) is detect/model.h.
 */
#ifndef FZ_TRAIN_H
#define FZ_TRAIN_H

/* argv[0] is the subcommand (train, eval, info). Returns the process exit
 * code: 0 done, 1 failed, 2 usage. Main thread only. */
int fz_model_cmd(int argc, char **argv);

#endif
