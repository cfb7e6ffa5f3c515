// RunModel: a built-in model's steps under a live Session.
#include <chrono>
#include <optional>

#include <fmt/format.h>

#include "smaragdine/torch/live.h"
#include "smaragdine/torch/models.h"
#include "torch/models/transformer.h"

namespace smaragdine::models {
namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<RunResult> RunModel(const RunOptions& o) {
  SMG_RETURN_IF_ERROR(ValidateConfig(o.config));
  if (o.steps < 1) return UsageError(fmt::format("steps must be at least 1, got {}", o.steps));
  if (o.warmup_steps < 0)
    return UsageError(fmt::format("warm-up steps must not be negative, got {}", o.warmup_steps));
  Trainer trainer(o.config, o.task);
  RunResult result;
  result.parameters = trainer.Parameters();
  // The optimizer's ops are phase optimizer; the guard lives from the hook's
  // "begin" call to its "end" call, both on this thread.
  std::optional<live::PhaseGuard> optimizer_phase;
  auto mark_optimizer = [&](bool begins) {
    if (begins) optimizer_phase.emplace(Phase::kOptimizer);
    else optimizer_phase.reset();
  };
  for (int i = 0; i < o.warmup_steps; ++i) {
    trainer.Step();
    if (o.progress) o.progress("warm-up", i + 1, o.warmup_steps);
  }
  live::SessionOptions per_step = o.session;
  per_step.write_profile = false;
  std::unique_ptr<live::Session> session;
  if (!o.session_per_step) {
    SMG_ASSIGN_OR_RETURN(session, live::Session::Start(o.session));
  }
  for (int i = 0; i < o.steps; ++i) {
    if (o.session_per_step) {
      SMG_ASSIGN_OR_RETURN(session, live::Session::Start(per_step));
    }
    const int64_t t0_ns = NowNs();
    trainer.Step(mark_optimizer);
    session->Step();
    result.step_ns.push_back(NowNs() - t0_ns);
    if (o.session_per_step) {
      SMG_ASSIGN_OR_RETURN(Profile p, session->Stop());
      result.info = session->info();
      result.step_profiles.push_back(std::move(p));
      session.reset();
    }
    if (o.progress) o.progress("measured", i + 1, o.steps);
  }
  if (!o.session_per_step) {
    SMG_ASSIGN_OR_RETURN(result.profile, session->Stop());
    result.info = session->info();
  }
  return result;
}

}  // namespace smaragdine::models
