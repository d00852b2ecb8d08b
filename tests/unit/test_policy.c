/* STUB: being written; fails until it is. */
#include "harness.h"
int main(void) { return unit_run(NULL, 0); }
