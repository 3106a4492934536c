// The target's code is in include/CTimerFD.h (static inline); SwiftPM wants a source file.
#include "CTimerFD.h"
