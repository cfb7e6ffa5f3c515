#include "account/attribute_fixture_util.h"

#include <gtest/gtest.h>

#include <cmath>

namespace smaragdine::testing {

AttributeFixture::AttributeFixture(std::string log_path) {
  trace.dialect = "test";
  trace.time_base = TimeBase::kMonotonic;
  log.path = std::move(log_path);
}

uint32_t AttributeFixture::AddLane(const std::string& device) {
  trace.lanes.push_back({device, "lane " + std::to_string(trace.lanes.size())});
  return static_cast<uint32_t>(trace.lanes.size() - 1);
}

NodeId AttributeFixture::Op(uint32_t lane, const std::string& path, int64_t start, int64_t end,
                            Phase phase, int32_t step) {
  NodeId n = trace.nodes.InternPath(path, NodeKind::kOp);
  trace.events.push_back({start, end, n, lane, step, phase});
  return n;
}

size_t AttributeFixture::Domain(const std::string& name, const std::string& device,
                                std::vector<std::pair<int64_t, double>> points, bool modeled) {
  DomainInfo info{name, device, modeled ? "model" : "test", Quantity::kEnergy};
  info.modeled = modeled;
  log.domains.push_back(info);
  EnergySeries s;
  for (auto [t, e] : points) {
    s.t_ns.push_back(t);
    s.energy_j.push_back(e);
  }
  log.series.push_back(s);
  return log.domains.size() - 1;
}

Profile AttributeFixture::Run(AttributeOptions options) const {
  auto p = Attribute(trace, log, options);
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().ToString());
  return p.ok() ? *p : Profile{};
}

double SelfJ(const Profile& p, const std::string& path, size_t domain) {
  int64_t i = p.Find(path);
  EXPECT_GE(i, 0) << "no node " << path;
  return i < 0 ? NAN : p.nodes[i].self_j[domain];
}

double TotalJ(const Profile& p, const std::string& path, size_t domain) {
  int64_t i = p.Find(path);
  EXPECT_GE(i, 0) << "no node " << path;
  return i < 0 ? NAN : p.nodes[i].total_j[domain];
}

}  // namespace smaragdine::testing
