// Helpers shared by the trace tests.
#pragma once

#include <string>

namespace smaragdine::testing {

// SMARAGDINE_TEST_DATA/<rel>.
std::string DataPath(const std::string& rel);
std::string ReadText(const std::string& path);
// A copy of `path` in the temporary directory, named `name` (a second file
// with the same content: ReadTraces refuses one file given twice).
std::string CopyToTemp(const std::string& path, const std::string& name);
// Compares `actual` with tests/golden/<golden_rel>; SMARAGDINE_UPDATE_GOLDEN=1 rewrites it.
void ExpectGolden(const std::string& golden_rel, const std::string& actual);

}  // namespace smaragdine::testing
