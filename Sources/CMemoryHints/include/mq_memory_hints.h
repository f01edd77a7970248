// CPU hints the Swift standard library does not expose: MQKernels' packed linear kernel asks for
// the next slice of weights while it computes the current one, so their trip from memory overlaps
// the arithmetic; the worker pool's threads pause politely while they spin between products.
#ifndef MQ_MEMORY_HINTS_H
#define MQ_MEMORY_HINTS_H

/// Start fetching the cache line holding `p` into the second-level cache (not L1, whose 32 KiB
/// hold the slice in use). No fault on any address, no effect on results.
static inline void mq_prefetch_l2(const void *p) { __builtin_prefetch(p, 0, 2); }

/// One spin-wait iteration: x86 `pause` (lets the sibling hyperthread run and saves power while a
/// thread polls a flag another core will set), a compiler barrier elsewhere.
static inline void mq_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#else
    __asm__ __volatile__("" ::: "memory");
#endif
}

#endif
