#pragma once

// An in-memory network for membership tests in virtual time, after Tarantool's swim fakenet and
// fakeev: N nodes, a clock advanced in steps, delivery after a latency, and drop rules per node,
// per link and at random from a seeded RNG. Every message goes through encode and decode, so the
// codec and the datagram budget are exercised by every test.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "discovery/membership.hpp"
#include "discovery/message.hpp"

namespace p2pfaas::discovery::testing {

using namespace std::chrono_literals;
using duration = std::chrono::milliseconds;

struct observed_event {
  member_event event;
  std::size_t observer = 0;
};

class fake_network {
 public:
  explicit fake_network(std::uint64_t seed, membership_config config = {})
      : config_(config), rng_(seed), seed_(seed) {}

  std::size_t add_node() {
    auto index = nodes_.size();
    auto n = std::make_unique<slot>();
    n->id = "node-" + std::to_string(index);
    n->address = "10.0.0." + std::to_string(index + 1) + ":7000";
    nodes_.push_back(std::move(n));
    by_address_[nodes_.back()->address] = index;
    start(index);
    return index;
  }

  // Adds n nodes; each joins through node 0.
  void add_cluster(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      auto index = add_node();
      node(index).join(index == 0 ? std::vector<std::string>{} : seeds(), now_);
    }
  }

  membership& node(std::size_t i) { return *nodes_.at(i)->m; }
  const std::string& id(std::size_t i) const { return nodes_.at(i)->id; }
  const std::string& address(std::size_t i) const { return nodes_.at(i)->address; }
  std::size_t size() const { return nodes_.size(); }
  time_point now() const { return now_; }
  std::vector<std::string> seeds() const { return {nodes_.at(0)->address}; }

  // Faults.
  void set_loss(double probability) { loss_ = probability; }
  void set_latency(duration d) { latency_ = d; }
  void set_outgoing_delay(std::size_t i, duration d) { nodes_.at(i)->outgoing_delay = d; }
  void block(std::size_t from, std::size_t to) { blocked_.insert({from, to}); }
  void block_both(std::size_t a, std::size_t b) {
    block(a, b);
    block(b, a);
  }
  void partition(const std::vector<std::size_t>& a, const std::vector<std::size_t>& b) {
    for (auto i : a)
      for (auto j : b) block_both(i, j);
  }
  void isolate(std::size_t i) {
    for (std::size_t j = 0; j < size(); ++j)
      if (j != i) block_both(i, j);
  }
  void heal() { blocked_.clear(); }
  // Stops the node dead: no ticks, nothing in or out (kill -9).
  void crash(std::size_t i) { nodes_.at(i)->crashed = true; }
  // The same id and address with fresh state, joining through node 0.
  void restart(std::size_t i) {
    start(i);
    node(i).join(seeds(), now_);
  }
  bool crashed(std::size_t i) const { return nodes_.at(i)->crashed; }

  // Time.
  void step() {
    now_ += step_;
    deliver_due();
    for (std::size_t i = 0; i < size(); ++i) {
      if (nodes_[i]->crashed) continue;
      nodes_[i]->m->tick(now_);
      collect(i);
    }
  }
  void run_for(duration d) {
    auto end = now_ + d;
    while (now_ < end) step();
  }
  // Steps until `done` holds or `limit` passes; the time it took, or nullopt.
  std::optional<duration> run_until(const std::function<bool()>& done, duration limit) {
    auto start = now_;
    auto end = now_ + limit;
    while (!done()) {
      if (now_ >= end) return std::nullopt;
      step();
    }
    return std::chrono::duration_cast<duration>(now_ - start);
  }

  // Observation.
  std::optional<member_state> state_seen(std::size_t observer, std::size_t subject) const {
    auto info = nodes_.at(observer)->m->find(id(subject));
    if (!info) return std::nullopt;
    return info->state;
  }
  std::vector<std::size_t> running() const {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < size(); ++i)
      if (!nodes_[i]->crashed) out.push_back(i);
    return out;
  }
  // Every running node other than `subject` sees it in `state`.
  bool all_see(std::size_t subject, member_state state) const {
    for (auto i : running()) {
      if (i != subject && state_seen(i, subject) != state) return false;
    }
    return true;
  }
  bool all_see_all_alive() const {
    for (auto i : running()) {
      for (auto j : running()) {
        if (i != j && state_seen(i, j) != member_state::alive) return false;
      }
    }
    return true;
  }
  const std::vector<observed_event>& events() const { return events_; }
  std::size_t count_events(event_kind kind) const {
    return static_cast<std::size_t>(std::count_if(
        events_.begin(), events_.end(), [&](const auto& e) { return e.event.kind == kind; }));
  }
  std::size_t count_events(event_kind kind, std::size_t subject) const {
    return static_cast<std::size_t>(std::count_if(
        events_.begin(), events_.end(),
        [&](const auto& e) { return e.event.kind == kind && e.event.id == id(subject); }));
  }
  std::uint64_t delivered() const { return delivered_; }
  std::uint64_t delivered_bytes() const { return delivered_bytes_; }
  std::size_t largest_datagram() const { return largest_; }

 private:
  struct slot;
  struct endpoint : transport {
    fake_network* net = nullptr;
    std::size_t index = 0;
    void send(const std::string& address, const message& m) override {
      net->enqueue(index, address, m);
    }
  };
  struct slot {
    std::string id;
    std::string address;
    endpoint out;
    std::mt19937_64 rng;
    std::unique_ptr<membership> m;
    bool crashed = false;
    duration outgoing_delay{0};
  };
  struct packet {
    std::size_t from = 0;
    std::size_t to = 0;
    std::vector<std::uint8_t> bytes;
  };

  void start(std::size_t i) {
    auto& n = *nodes_[i];
    n.crashed = false;
    n.out.net = this;
    n.out.index = i;
    n.rng.seed(seed_ * 1000003 + i * 7919 + restarts_++);
    n.m.reset();
    n.m = std::make_unique<membership>(
        config_, n.id, n.address, membership_dependencies{n.out, [&rng = n.rng] { return rng(); }},
        now_);
  }

  void enqueue(std::size_t from, const std::string& address, const message& m) {
    auto bytes = encode(m);
    EXPECT_TRUE(bytes.has_value()) << "unencodable message from " << id(from);
    if (!bytes) return;
    // Probe traffic must fit one LAN datagram; only push-pull carries a full state.
    if (m.type != message_type::push_pull && m.type != message_type::push_pull_reply) {
      EXPECT_LE(bytes->size(), 1400u);
    }
    auto it = by_address_.find(address);
    if (it == by_address_.end()) return;  // nobody there
    auto to = it->second;
    if (nodes_[from]->crashed || blocked_.count({from, to}) != 0) return;
    if (loss_ > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < loss_) return;
    auto at = now_ + latency_ + nodes_[from]->outgoing_delay;
    queue_.emplace(std::make_pair(at, sequence_++), packet{from, to, std::move(*bytes)});
  }

  void deliver_due() {
    while (!queue_.empty() && queue_.begin()->first.first <= now_) {
      auto p = std::move(queue_.begin()->second);
      queue_.erase(queue_.begin());
      if (nodes_[p.to]->crashed) continue;
      auto decoded = decode(p.bytes);
      EXPECT_TRUE(decoded.ok()) << to_string(decoded.error);
      if (!decoded.ok()) continue;
      ++delivered_;
      delivered_bytes_ += p.bytes.size();
      largest_ = std::max(largest_, p.bytes.size());
      nodes_[p.to]->m->receive(nodes_[p.from]->address, decoded.value, now_);
      collect(p.to);
    }
  }

  void collect(std::size_t i) {
    for (auto& e : nodes_[i]->m->take_events()) events_.push_back({std::move(e), i});
  }

  membership_config config_;
  std::mt19937_64 rng_;
  std::uint64_t seed_;
  std::uint64_t restarts_ = 0;
  time_point now_{std::chrono::hours(1)};
  duration step_{5ms};
  duration latency_{1ms};
  double loss_ = 0;
  std::vector<std::unique_ptr<slot>> nodes_;
  std::map<std::string, std::size_t> by_address_;
  std::set<std::pair<std::size_t, std::size_t>> blocked_;
  std::map<std::pair<time_point, std::uint64_t>, packet> queue_;
  std::uint64_t sequence_ = 0;
  std::vector<observed_event> events_;
  std::uint64_t delivered_ = 0;
  std::uint64_t delivered_bytes_ = 0;
  std::size_t largest_ = 0;
};

}  // namespace p2pfaas::discovery::testing
