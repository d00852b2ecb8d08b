/* format.h -- STUB: being written. */
#ifndef NOQ_FORMAT_H
#define NOQ_FORMAT_H
#endif
