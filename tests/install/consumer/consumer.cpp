// consumer PROFILE: prints PROFILE's table as `smaragdine report PROFILE`
// does, through the installed library (tests/install/find_package_core.sh
// compares the two).
#include <cstdio>

#include <smaragdine/profile.h>
#include <smaragdine/report.h>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer PROFILE.json\n");
    return 1;
  }
  smaragdine::Result<smaragdine::Profile> profile = smaragdine::ReadProfileJson(argv[1]);
  if (!profile.ok()) {
    std::fprintf(stderr, "consumer: %s\n", profile.error().ToString().c_str());
    return 2;
  }
  smaragdine::ReportOptions options;
  options.file = argv[1];
  smaragdine::Result<std::string> table = smaragdine::RenderReport(*profile, options);
  if (!table.ok()) {
    std::fprintf(stderr, "consumer: %s\n", table.error().ToString().c_str());
    return 2;
  }
  std::fputs(table->c_str(), stdout);
  return 0;
}
