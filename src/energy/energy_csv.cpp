#include "energy/energy_csv.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/io.h"
#include "energy/normalize.h"

namespace smaragdine::energy {

namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
constexpr int kNoColumn = -1;
// Longest field text quoted back in a message; a binary file should not flood the terminal.
constexpr size_t kMaxQuotedChars = 40;

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && (IsBlank(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// The text of a field for a message: truncated, control bytes escaped.
std::string Quote(std::string_view s) {
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < kMaxQuotedChars; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else
      out.push_back(static_cast<char>(c));
  }
  if (s.size() > kMaxQuotedChars) out += "…";
  out += "'";
  return out;
}

struct Field {
  std::string_view text;
  bool has_doubled_quote = false;  // quoted field containing "" (needs unescaping)
};

// Splits one line (no '\n') on commas. A field may be double-quoted ("a,b",
// "say ""hi"""); quoted fields cannot span lines. Returns an error text or nullptr.
const char* SplitFields(std::string_view line, std::vector<Field>& out) {
  out.clear();
  const size_t n = line.size();
  size_t i = 0;
  while (true) {
    size_t start = i;
    while (i < n && IsBlank(line[i])) ++i;
    if (i < n && line[i] == '"') {
      size_t content = ++i;
      bool doubled = false;
      while (true) {
        if (i >= n) return "a quoted field has no closing quote";
        if (line[i] == '"') {
          if (i + 1 < n && line[i + 1] == '"') {
            doubled = true;
            i += 2;
            continue;
          }
          break;
        }
        ++i;
      }
      out.push_back({line.substr(content, i - content), doubled});
      ++i;
      while (i < n && (IsBlank(line[i]) || line[i] == '\r')) ++i;
      if (i < n && line[i] != ',') return "text after the closing quote of a field";
    } else {
      const void* comma = i < n ? std::memchr(line.data() + i, ',', n - i) : nullptr;
      size_t end = comma ? static_cast<size_t>(static_cast<const char*>(comma) - line.data()) : n;
      out.push_back({Trim(line.substr(start, end - start)), false});
      i = end;
    }
    if (i >= n) break;
    ++i;  // the comma
  }
  return nullptr;
}

std::string Unescape(const Field& f) {
  if (!f.has_doubled_quote) return std::string(f.text);
  std::string s;
  s.reserve(f.text.size());
  for (size_t i = 0; i < f.text.size(); ++i) {
    s.push_back(f.text[i]);
    if (f.text[i] == '"') ++i;  // "" → "
  }
  return s;
}

// A reading: any number, "inf" and "nan" included; JudgeReadings drops what no
// meter can give (energy.reading_implausible) rather than failing the file.
std::optional<double> ParseReading(std::string_view s) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc::result_out_of_range && p == s.data() + s.size() && !s.empty())
    return s.find_first_of("eE") != std::string_view::npos && s.find("e-") == std::string_view::npos &&
                   s.find("E-") == std::string_view::npos
               ? (s.front() == '-' ? -INFINITY : INFINITY)
               : 0.0;
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<int64_t> ParseInt64(std::string_view s) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// One parsed data row, before it is committed to its domain.
struct Row {
  int64_t t_ns = 0;
  uint32_t domain = 0;       // index into log.domains, valid when !new_domain
  bool new_domain = false;   // import only: first row of a domain not seen yet
  std::string domain_name;   // set for new domains
  Quantity quantity = Quantity::kEnergy;
  double value = 0;
};

class CsvParser {
 public:
  CsvParser(const std::string& file, CsvKind kind, const EnergyImportOptions& options,
            EnergyLog& log)
      : file_(file), kind_(kind), options_(options), log_(log) {}

  Status Parse(std::string_view text) {
    if (text.starts_with(kUtf8Bom)) text.remove_prefix(kUtf8Bom.size());
    text_ = text;
    for (size_t d = 0; d < log_.domains.size(); ++d) AddDomainState(log_.domains[d].name);

    std::string_view line;
    bool terminated = false;
    bool have_header = false;
    while (NextLine(line, terminated)) {
      if (Trim(line).empty()) continue;
      SMG_RETURN_IF_ERROR(ParseHeader(line));
      have_header = true;
      break;
    }
    if (!have_header)
      return BadInput(file_, "empty file: expected a header such as t_ns,domain,energy_j,power_w",
                      1);

    int64_t rows = 0;
    while (NextLine(line, terminated)) {
      if (Trim(line).empty()) continue;
      if (!terminated) {
        // The file ends without a newline. `record` ends every row with one, so in a
        // run directory this is a row cut short by a kill; an imported file may just
        // lack the final newline, so there the row is kept if it parses.
        if (kind_ == CsvKind::kRunDirectory) {
          DropTruncated(line);
          break;
        }
        Result<Row> row = ParseRow(line);
        if (!row.ok()) {
          DropTruncated(line);
          break;
        }
        Commit(*row);
        ++rows;
        break;
      }
      SMG_ASSIGN_OR_RETURN(Row row, ParseRow(line));
      Commit(row);
      ++rows;
    }
    if (rows == 0)
      return BadInput(file_, "no readings: the file has a header but no data rows");
    if (duplicates_ > 0) log_.diagnostics.Add("energy.duplicate_reading", duplicates_);

    log_.series.clear();
    log_.series.reserve(log_.domains.size());
    bool measurable = false;
    for (size_t d = 0; d < log_.domains.size(); ++d) {
      log_.series.push_back(NormalizeReadings(log_.domains[d], readings_[d], log_.diagnostics));
      // Each reading is finite, but a sum or a power × time can still overflow.
      if (!std::isfinite(log_.series.back().TotalJ())) {
        return BadInput(file_, fmt::format("the energy of domain {} overflows a double (readings "
                                           "of absurd size?)",
                                           Quote(log_.domains[d].name)));
      }
      if (!log_.series.back().empty()) measurable = true;
      readings_[d] = {};  // release the raw readings as we go: the log may be large
    }
    if (!measurable) {
      return Error{ErrorCode::kNothingMeasurable,
                   "nothing measurable: no domain has two readings, so no interval of energy "
                   "can be measured",
                   file_};
    }
    return {};
  }

 private:
  bool NextLine(std::string_view& line, bool& terminated) {
    if (pos_ >= text_.size()) return false;
    ++line_no_;
    const void* nl = std::memchr(text_.data() + pos_, '\n', text_.size() - pos_);
    size_t end = nl ? static_cast<size_t>(static_cast<const char*>(nl) - text_.data())
                    : text_.size();
    line = text_.substr(pos_, end - pos_);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    terminated = nl != nullptr;
    pos_ = nl ? end + 1 : end;
    return true;
  }

  Error LineError(std::string message) const {
    return BadInput(file_, std::move(message), line_no_);
  }

  Status ParseHeader(std::string_view line) {
    if (const char* why = SplitFields(line, fields_))
      return LineError(fmt::format("malformed header: {}", why));
    header_fields_ = fields_.size();
    std::vector<std::string> names;
    for (size_t i = 0; i < fields_.size(); ++i) {
      std::string_view name = fields_[i].text;
      names.push_back(Unescape(fields_[i]));
      auto take = [&](std::string_view wanted, int& column) {
        if (column == kNoColumn && EqualsIgnoreCase(name, wanted)) column = static_cast<int>(i);
      };
      take("t_ns", col_t_ns_);
      take("t_s", col_t_s_);
      take("domain", col_domain_);
      take("energy_j", col_energy_);
      take("power_w", col_power_);
    }
    std::vector<std::string> missing;
    if (col_t_ns_ == kNoColumn && col_t_s_ == kNoColumn) missing.push_back("t_ns (or t_s)");
    if (col_domain_ == kNoColumn) missing.push_back("domain");
    if (col_energy_ == kNoColumn && col_power_ == kNoColumn)
      missing.push_back("energy_j or power_w");
    if (!missing.empty()) {
      return LineError(fmt::format(
          "the header lacks the column{} {}; it has: {} (expected a header such as "
          "t_ns,domain,energy_j,power_w)",
          missing.size() > 1 ? "s" : "", fmt::join(missing, ", "), fmt::join(names, ",")));
    }
    return {};
  }

  void DropTruncated(std::string_view line) {
    log_.diagnostics.Add("energy.truncated_last_line");
    log_.diagnostics.Warn(fmt::format(
        "{}:{}: the last line {} has no newline (a recording cut short?); it was dropped", file_,
        line_no_, Quote(line)));
  }

  std::string_view Column(int column) const {
    return column == kNoColumn ? std::string_view() : fields_[column].text;
  }

  Result<Row> ParseRow(std::string_view line) {
    if (const char* why = SplitFields(line, fields_)) return LineError(why);
    if (fields_.size() != header_fields_) {
      return LineError(fmt::format("{} field{}, but the header has {}", fields_.size(),
                                   fields_.size() == 1 ? "" : "s", header_fields_));
    }
    Row row;
    if (col_t_ns_ != kNoColumn) {
      std::string_view t = Column(col_t_ns_);
      std::optional<int64_t> t_ns = ParseInt64(t);
      if (!t_ns)
        return LineError(fmt::format("t_ns {} is not an integer number of nanoseconds", Quote(t)));
      row.t_ns = *t_ns;
    } else {
      std::string_view t = Column(col_t_s_);
      std::optional<int64_t> t_ns = ParseSecondsToNs(t);
      if (!t_ns)
        return LineError(fmt::format("t_s {} is not a decimal number of seconds", Quote(t)));
      row.t_ns = *t_ns;
    }

    const Field& domain_field = fields_[col_domain_];
    if (domain_field.text.empty()) return LineError("the domain is empty");
    std::string unescaped;
    std::string_view domain = domain_field.text;
    if (domain_field.has_doubled_quote) domain = unescaped = Unescape(domain_field);

    std::string_view energy_text = Column(col_energy_);
    std::string_view power_text = Column(col_power_);
    std::optional<double> energy_j, power_w;
    if (!energy_text.empty() && !(energy_j = ParseReading(energy_text)))
      return LineError(fmt::format("energy_j {} is not a number", Quote(energy_text)));
    if (!power_text.empty() && !(power_w = ParseReading(power_text)))
      return LineError(fmt::format("power_w {} is not a number", Quote(power_text)));
    if (!energy_j && !power_w) return LineError("neither energy_j nor power_w has a value");

    auto it = index_.find(domain);
    if (it == index_.end()) {
      if (kind_ == CsvKind::kRunDirectory) {
        // run.json is written before the first reading and lists every domain
        // the sampler opened; a stranger here means files from different runs.
        return LineError(fmt::format("domain {} is not declared in run.json", Quote(domain)));
      }
      row.new_domain = true;
      row.domain_name = std::string(domain);
      row.quantity = energy_j ? Quantity::kEnergy : Quantity::kPower;
      SMG_ASSIGN_OR_RETURN(std::string device, DeviceOf(row.domain_name));
      (void)device;  // resolved again at commit; checked here so a bad row changes nothing
    } else {
      row.domain = it->second;
      row.quantity = log_.domains[row.domain].quantity;
    }

    const bool energy = row.quantity == Quantity::kEnergy;
    if (energy ? !energy_j : !power_w) {
      std::string why = kind_ == CsvKind::kRunDirectory
                            ? std::string("in run.json")
                            : fmt::format("from its first row, line {}", first_line_[row.domain]);
      return LineError(fmt::format("domain {} is measured as {} ({}), but this row has no {}",
                                   Quote(domain), ToString(row.quantity), why,
                                   energy ? "energy_j" : "power_w"));
    }
    row.value = energy ? *energy_j : *power_w;

    if (!row.new_domain) {
      const DomainReadings& r = readings_[row.domain];
      if (!r.t_ns.empty() && row.t_ns <= r.t_ns.back()) {
        int64_t previous_t = r.t_ns.back();
        if (row.t_ns == previous_t && row.value == r.value.back()) {
          row.domain = kDuplicate;
          return row;
        }
        if (row.t_ns == previous_t) {
          return LineError(fmt::format(
              "domain {} has two different readings at t_ns {} (lines {} and {})", Quote(domain),
              row.t_ns, last_line_[row.domain], line_no_));
        }
        return LineError(fmt::format(
            "time goes backwards for domain {}: t_ns {} comes after t_ns {} (line {})",
            Quote(domain), row.t_ns, previous_t, last_line_[row.domain]));
      }
    }
    return row;
  }

  Result<std::string> DeviceOf(const std::string& domain) const {
    auto mapped = options_.device_of.find(domain);
    if (mapped != options_.device_of.end()) return mapped->second;
    std::string device = GuessDevice(domain);
    if (device.empty()) {
      return LineError(fmt::format(
          "cannot tell which device domain {} belongs to; pass --device {}=CPU:0 (or GPU:N)",
          Quote(domain), domain));
    }
    return device;
  }

  void AddDomainState(const std::string& name) {
    index_.emplace(name, static_cast<uint32_t>(readings_.size()));
    readings_.emplace_back();
    first_line_.push_back(0);
    last_line_.push_back(0);
  }

  void Commit(const Row& row) {
    if (row.domain == kDuplicate) {
      // The same reading twice (a sampler that re-emitted a row): drop it.
      ++duplicates_;
      return;
    }
    uint32_t d = row.domain;
    if (row.new_domain) {
      DomainInfo info;
      info.name = row.domain_name;
      info.device = *DeviceOf(row.domain_name);
      info.source = "csv";
      info.quantity = row.quantity;
      d = static_cast<uint32_t>(log_.domains.size());
      log_.domains.push_back(std::move(info));
      AddDomainState(row.domain_name);
      first_line_[d] = line_no_;
    }
    readings_[d].t_ns.push_back(row.t_ns);
    readings_[d].value.push_back(row.value);
    last_line_[d] = line_no_;
  }

  static constexpr uint32_t kDuplicate = std::numeric_limits<uint32_t>::max();

  const std::string& file_;
  CsvKind kind_;
  const EnergyImportOptions& options_;
  EnergyLog& log_;

  std::string_view text_;
  size_t pos_ = 0;
  int64_t line_no_ = 0;
  std::vector<Field> fields_;
  size_t header_fields_ = 0;
  int col_t_ns_ = kNoColumn, col_t_s_ = kNoColumn, col_domain_ = kNoColumn;
  int col_energy_ = kNoColumn, col_power_ = kNoColumn;

  std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>> index_;
  std::vector<DomainReadings> readings_;  // parallel to log_.domains
  std::vector<int64_t> first_line_, last_line_;
  int64_t duplicates_ = 0;
};

}  // namespace

std::optional<int64_t> ParseSecondsToNs(std::string_view s) {
  // value = mantissa × 10^scale seconds, digits kept exactly in 128 bits.
  constexpr unsigned __int128 kMantissaLimit = static_cast<unsigned __int128>(1) << 120;
  bool negative = false;
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) negative = s[i++] == '-';
  unsigned __int128 mantissa = 0;
  int64_t scale = 0;
  bool any_digit = false;
  int first_dropped_digit = -1;  // for rounding when the mantissa is full
  auto add_digit = [&](int d, bool fraction) {
    any_digit = true;
    if (mantissa < kMantissaLimit / 10) {
      mantissa = mantissa * 10 + static_cast<unsigned>(d);
      if (fraction) --scale;
    } else {
      if (first_dropped_digit < 0) first_dropped_digit = d;
      if (!fraction) ++scale;
    }
  };
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') add_digit(s[i++] - '0', false);
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') add_digit(s[i++] - '0', true);
  }
  if (!any_digit) return std::nullopt;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) exp_negative = s[i++] == '-';
    if (i >= s.size()) return std::nullopt;
    int64_t exponent = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      if (exponent < 100000) exponent = exponent * 10 + (s[i] - '0');
      ++i;
    }
    scale += exp_negative ? -exponent : exponent;
  }
  if (i != s.size()) return std::nullopt;
  scale += 9;  // seconds → nanoseconds

  const unsigned __int128 limit =
      static_cast<unsigned __int128>(std::numeric_limits<int64_t>::max()) + (negative ? 1 : 0);
  if (mantissa == 0) return 0;
  if (scale >= 0) {
    if (first_dropped_digit >= 0) return std::nullopt;  // ≥ 10^35 ns
    for (int64_t k = 0; k < scale; ++k) {
      if (mantissa > limit / 10) return std::nullopt;
      mantissa *= 10;
    }
  } else {
    // Round half away from zero on the most significant dropped digit.
    int dropped = 0;
    for (int64_t k = 0; k < -scale && mantissa != 0; ++k) {
      dropped = static_cast<int>(mantissa % 10);
      mantissa /= 10;
    }
    if (-scale > 40) dropped = 0;  // every digit was dropped long before the last one
    if (dropped >= 5) ++mantissa;
  }
  if (mantissa > limit) return std::nullopt;
  if (negative) return mantissa == limit ? std::numeric_limits<int64_t>::min()
                                         : -static_cast<int64_t>(mantissa);
  return static_cast<int64_t>(mantissa);
}

Status ParseReadingsInto(const std::string& file, std::string_view text, CsvKind kind,
                         const EnergyImportOptions& options, EnergyLog& log) {
  CsvParser parser(file, kind, options, log);
  return parser.Parse(text);
}

}  // namespace smaragdine::energy

namespace smaragdine {

Result<EnergyLog> ParseEnergyCsv(const std::string& name, std::string_view text,
                                 const EnergyImportOptions& options) {
  EnergyLog log;
  log.path = name;
  log.clock = options.clock;
  SMG_RETURN_IF_ERROR(
      energy::ParseReadingsInto(name, text, energy::CsvKind::kImport, options, log));
  for (const auto& [domain, device] : options.device_of) {
    bool found = false;
    for (const DomainInfo& info : log.domains) found = found || info.name == domain;
    if (!found)
      log.diagnostics.Warn(fmt::format("--device names domain '{}', which {} does not have",
                                       domain, name));
  }
  return log;
}

Result<EnergyLog> ReadEnergyCsv(const std::string& path, const EnergyImportOptions& options) {
  SMG_ASSIGN_OR_RETURN(std::string text, ReadFileMaybeGzip(path));
  return ParseEnergyCsv(path, text, options);
}

}  // namespace smaragdine
