/*
 * rules_diff.h - `fanzha rules diff OLD NEW EVENTS...`: what a rule change
 * does to traffic, before it is deployed (docs/rules.md "Changing rules
 * safely").
 */
#ifndef FZ_RULES_DIFF_H
#define FZ_RULES_DIFF_H

/* argv: the arguments after "rules diff". Returns the exit status: 0 no
 * gate failed, 1 a gate failed, 2 usage or input error. Main thread. */
int fz_rules_diff_main(int argc, char **argv);

#endif
