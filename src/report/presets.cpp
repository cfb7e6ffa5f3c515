// Named path-rule presets: the --map rules that line one model's scopes up with another's.
#include <fmt/format.h>

#include "smaragdine/report_presets.h"

namespace smaragdine {

const std::vector<PathRulePresetInfo>& PathRulePresets() {
  static const std::vector<PathRulePresetInfo> presets = {
      {"albert-to-bert",
       "ALBERT's scopes as BERT's: albert/… becomes bert/…, and the factorized embedding's "
       "projection (albert/encoder/embedding_hidden_mapping_in) counts under bert/embeddings",
       {
           // ALBERT maps its E-sized embeddings to H inside the encoder; BERT's
           // embeddings are H-sized already, so the projection is embedding work.
           // (/|$) is put back with $1: the rules have no lookahead (RE2).
           R"(^albert/encoder/embedding_hidden_mapping_in(/|$)=bert/embeddings/embedding_hidden_mapping_in$1)",
           R"(^albert(/|$)=bert$1)",
       }},
  };
  return presets;
}

Result<std::vector<PathRule>> PathRulePreset(std::string_view name) {
  std::vector<std::string> names;
  for (const PathRulePresetInfo& p : PathRulePresets()) {
    if (p.name == name) {
      std::vector<PathRule> rules;
      for (const std::string& spec : p.map_specs) {
        SMG_ASSIGN_OR_RETURN(PathRule r, ParseMapRule(spec));
        rules.push_back(std::move(r));
      }
      return rules;
    }
    names.push_back(p.name);
  }
  return UsageError(fmt::format("unknown preset '{}'; presets: {}", name, fmt::join(names, ", ")));
}

}  // namespace smaragdine
