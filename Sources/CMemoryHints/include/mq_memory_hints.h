// Cache hints the Swift standard library does not expose: MQKernels' packed linear kernel asks for
// weights a few hundred bytes ahead of use so their trip from memory overlaps the arithmetic.
#ifndef MQ_MEMORY_HINTS_H
#define MQ_MEMORY_HINTS_H

/// Start fetching the cache line holding `p` into all cache levels (no fault, no effect on results).
static inline void mq_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

#endif
