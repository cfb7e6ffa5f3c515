// Helpers shared by the trace tests.
#pragma once

#include <string>

namespace smaragdine::testing {

// SMARAGDINE_TEST_DATA/<rel>.
std::string DataPath(const std::string& rel);
std::string ReadText(const std::string& path);
// Compares `actual` with tests/golden/<golden_rel>; SMARAGDINE_UPDATE_GOLDEN=1 rewrites it.
void ExpectGolden(const std::string& golden_rel, const std::string& actual);

}  // namespace smaragdine::testing
