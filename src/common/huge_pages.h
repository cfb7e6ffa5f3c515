// huge_pages.h — a hint for the large buffers of trace reading and attribution,
// and keeping freed memory for the next buffer.
#pragma once

#include <cstddef>

namespace smaragdine {

// Asks for transparent huge pages on a large buffer before it is first
// written: one fault per 2 MiB instead of per 4 KiB (page faults were a
// quarter of `account`'s time on 10 M events). Advisory; errors are ignored.
void AdviseHugePages(const void* p, size_t bytes);

// Gives the kernel back the whole pages inside [p, p + bytes) of a buffer that
// is no longer read, before the buffer itself is freed (they read as zero if
// touched again): a large buffer copied elsewhere block by block need not be
// held whole beside its copy. Advisory; errors are ignored.
void ReleasePages(void* p, size_t bytes);

// Keeps freed memory in the process for the next allocation (glibc: blocks
// up to 1 GiB come from the heap rather than a mapping of their own, and up
// to 1 GiB of free heap is not given back). Reading a trace frees its raw
// events (72 bytes each) and the attribution then allocates as much again:
// by default each big block is a fresh mapping, faulted and zeroed page by
// page by the kernel (a quarter of `account`'s CPU time on 1 M events; with
// this, minor faults 22,000 -> 5,600). The process's peak does not move (it
// is set while the trace is parsed). Process-wide and idempotent; a no-op
// without glibc.
void KeepFreedMemory();

}  // namespace smaragdine
