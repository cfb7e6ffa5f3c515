// report_presets.h — named sets of path rules for comparing models whose
// scopes differ, e.g. ALBERT against BERT.
//
//   SMG_ASSIGN_OR_RETURN(std::vector<PathRule> rules, PathRulePreset("albert-to-bert"));
//   DiffOptions o;
//   o.rules = rules;
//   std::string text = RenderDiff(DiffProfiles(bert, albert, o), o);
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "smaragdine/report.h"
#include "smaragdine/status.h"

namespace smaragdine {

struct PathRulePresetInfo {
  std::string name;
  std::string description;            // one line, for --help
  std::vector<std::string> map_specs;  // the --map RE=REPL rules it stands for, in order
};

// Every preset, in a stable order.
const std::vector<PathRulePresetInfo>& PathRulePresets();

// The compiled rules of a preset (kMap rules). Errors: kUsage naming the known presets.
Result<std::vector<PathRule>> PathRulePreset(std::string_view name);

}  // namespace smaragdine
