// sliced_parse.h — the events array parsed in slices, with retry.
//
// simdjson's index costs ~150 bytes per event for a whole document; parsing
// the events array in slices of ~1 MiB, each cut in place at a ',' between
// '}' and '{' and parsed as an array of its own, keeps that index small. A
// cut can be false (inside a string or a nested value): the slice is undone
// and the next cut tried, and whenever the result is not certain to equal
// the whole-document parse's, the caller parses the whole document instead.
//
//   if (!ParseSliced(name, buf, size, capacity, first, kDefaultSliceBytes, &out)) {
//     /* parse the whole document: same result, or its error */
//   }
#pragma once

#include <cstddef>
#include <string>

#include "trace/event_reader.h"

namespace smaragdine::trace_internal {

// Finds the '[' of the first "traceEvents" key of the top-level object that
// starts at `first`, by a plain scan that tracks strings and depth. False
// when there is none or it is not an array (the whole-document parse then
// gives the error).
bool FindEventsArray(const char* buf, size_t size, size_t first, size_t* open);

// A place to end a slice at or after `from`: a ',' between '}' and '{' (what
// separates events), or `size` when there is none. It may be a false one
// (inside a string or a nested value); parsing the slice then fails.
size_t FindCut(const char* buf, size_t size, size_t from);

// The memory-lean path: the events array of `buf[0, size)` (document starts
// at `first`; `capacity` >= size + kParsePadding) in slices of ~slice_bytes,
// each parsed as an array of its own, then the document with the array
// emptied; the fast scanner reads events of the common shape. The result
// equals the whole-document parse's; false (and `buf` unchanged) whenever
// that is not certain, e.g. for any invalid JSON. `out` then holds partial
// results and must be reset by the caller.
//
// Two parts: when the process may run on a second core (its CPU affinity:
// taskset or a cpuset of one core reads in one part) and the 1-minute load
// average leaves half a core free, a document of 16 MB or more
// (or any, with SMARAGDINE_PARSE_THREADS=2; =1: never) is first tried with
// ParseSlicedInTwoParts; when that declines, `out` is reset and the document
// read in one part.
//
// `source`: the file `buf` was mapped from (chrome_json.h's SourceFile): the
// scanner's events are read from it a window at a time; same result.
bool ParseSliced(const std::string& name, char* buf, size_t size, size_t capacity, size_t first,
                 size_t slice_bytes, RawTrace* out, const SourceFile& source = {});

// The events array read in two parts at once: from its start to a ',' near
// its middle on this thread, the rest on a second one into a string table of
// its own, then appended with its strings interned again in their order of
// first use, which gives the strings, ids, events, inputs and counts of a
// reading from start to end. False (`out` then holds partial results) when
// that is not certain: the first part must end with a whole event at that
// ',', which shows it separates two events; the second part may hold no B/E
// event (an E may close a B of the first) and no string flow id (its number
// holds a string id); slices of either that would touch the bytes the other
// reads decline; and any error declines.
bool ParseSlicedInTwoParts(const std::string& name, char* buf, size_t size, size_t capacity,
                           size_t first, size_t slice_bytes, RawTrace* out,
                           const SourceFile& source = {});

}  // namespace smaragdine::trace_internal
