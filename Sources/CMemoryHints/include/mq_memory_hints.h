// Cache hints the Swift standard library does not expose: MQKernels' packed linear kernel asks for
// the next slice of weights while it computes the current one, so their trip from memory overlaps
// the arithmetic.
#ifndef MQ_MEMORY_HINTS_H
#define MQ_MEMORY_HINTS_H

/// Start fetching the cache line holding `p` into the second-level cache (not L1, whose 32 KiB
/// hold the slice in use). No fault on any address, no effect on results.
static inline void mq_prefetch_l2(const void *p) { __builtin_prefetch(p, 0, 2); }

#endif
