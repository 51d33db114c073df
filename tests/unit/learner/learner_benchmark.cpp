// What deciding costs a call: observe + act (epsilon-greedy over the Q-table, the eid recorded),
// then the reward, and the update the learner thread makes off the call's path. Run by
// bench/learner_decide.sh.
#include <benchmark/benchmark.h>

#include <random>

#include "learner/agent.hpp"

namespace p2pfaas::learner {
namespace {

std::function<std::uint64_t()> seeded(std::uint64_t seed) {
  auto engine = std::make_shared<std::mt19937_64>(seed);
  return [engine] { return (*engine)(); };
}

// A table with every state of 4 task types visited, as after a warm-up.
agent& warm_agent() {
  static agent a = [] {
    config::learner_section p;
    p.epsilon_start = 0.05;
    p.epsilon_min = 0.05;
    return agent(p, seeded(1));
  }();
  static bool filled = false;
  if (!filled) {
    q_table table;
    for (int t = 0; t < 4; ++t)
      for (int o = 0; o < 6; ++o)
        for (int p = 0; p < 6; ++p) table[{t, o, p}] = {0, 0.5, 0.4, 0.3};
    a.replace_table(std::move(table));
    filled = true;
  }
  return a;
}

void decide(benchmark::State& bench) {
  agent& a = warm_agent();
  int i = 0;
  for (auto _ : bench) {
    const state at = a.observe(i % 4, (i % 7) * 0.4, (i % 5) * 0.3);
    choice made = a.act(at);
    benchmark::DoNotOptimize(made);
    a.reward(made.eid, 1);
    if (++i % 64 == 0) {
      // The learner thread's share, outside the timed part: it runs off the call's path.
      bench.PauseTiming();
      a.train_pending();
      bench.ResumeTiming();
    }
  }
}
BENCHMARK(decide)->ThreadRange(1, 2)->UseRealTime();

void train(benchmark::State& bench) {
  agent& a = warm_agent();
  for (auto _ : bench) {
    bench.PauseTiming();
    for (int i = 0; i < 64; ++i) a.reward(a.act({i % 4, i % 6, i % 6}).eid, 1);
    bench.ResumeTiming();
    benchmark::DoNotOptimize(a.train_pending());
  }
  bench.SetItemsProcessed(bench.iterations() * 64);
}
BENCHMARK(train);

}  // namespace
}  // namespace p2pfaas::learner

BENCHMARK_MAIN();
