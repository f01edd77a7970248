// CMemoryHints is header-only (static inline functions in include/); SwiftPM needs one source file.
#include "mq_memory_hints.h"
