#include "discovery/membership.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace p2pfaas::discovery {
namespace {

bool is_live(member_state s) {
  return s == member_state::alive || s == member_state::suspect;
}

event_kind event_for(member_state s) {
  switch (s) {
    case member_state::alive:
      return event_kind::alive;
    case member_state::suspect:
      return event_kind::suspect;
    case member_state::dead:
      return event_kind::dead;
    case member_state::left:
      return event_kind::left;
  }
  return event_kind::alive;
}

}  // namespace

std::string_view to_string(event_kind kind) {
  switch (kind) {
    case event_kind::joined:
      return "joined";
    case event_kind::alive:
      return "alive";
    case event_kind::suspect:
      return "suspect";
    case event_kind::dead:
      return "dead";
    case event_kind::left:
      return "left";
    case event_kind::reaped:
      return "reaped";
  }
  return "unknown";
}

membership::membership(membership_config config, std::string id, std::string address,
                       membership_dependencies dependencies, time_point now)
    : config_(config), out_(dependencies.out), random_(std::move(dependencies.random)) {
  if (id.empty() || id.size() > max_string_bytes || address.empty() ||
      address.size() > max_string_bytes) {
    throw std::invalid_argument("membership: id and address must be 1 to 255 bytes");
  }
  self_.id = std::move(id);
  self_.address = std::move(address);
  self_.state_since = now;
  // Random phases so that nodes started together do not probe and gossip in lockstep.
  auto jitter = [&](std::chrono::milliseconds d) {
    return now + std::chrono::milliseconds(uniform(static_cast<std::uint64_t>(d.count()) + 1));
  };
  next_probe_at_ = jitter(config_.probe_interval);
  next_gossip_at_ = jitter(config_.gossip_interval);
  next_push_pull_at_ = jitter(config_.push_pull_interval) + config_.push_pull_interval / 2;
  next_reconnect_at_ = jitter(config_.reconnect_interval) + config_.reconnect_interval / 2;
}

void membership::join(std::vector<std::string> seed_addresses, time_point now) {
  std::erase(seed_addresses, self_.address);
  seeds_ = std::move(seed_addresses);
  if (seeds_.empty()) {
    joined_ = true;  // the first node of a cluster: nobody to ask
    return;
  }
  for (const auto& seed : seeds_) push_pull_with(seed);
  next_join_at_ = now + config_.join_retry_interval;
}

void membership::leave(time_point now) {
  if (leaving_) return;
  leaving_ = true;
  ++self_.incarnation;  // above anything a peer may still hold about us, so `left` wins
  self_.state = member_state::left;
  self_.state_since = now;
  probe_.reset();
  auto update = self_update();
  broadcast(update);
  // Every member at once rather than by epidemic: a graceful stop should be seen within a second.
  for (const auto& [id, m] : members_) {
    if (!is_live(m.info.state)) continue;
    message note{.type = message_type::gossip, .sender_id = self_.id, .updates = {update}};
    send(m.info.address, std::move(note));
  }
}

void membership::set_load(const load_record& load) {
  auto version = self_.load.version + 1;
  self_.load = load;
  self_.load.version = version;
  broadcast(self_update());
}

void membership::receive(const std::string& from_address, const message& m, time_point now) {
  ++stats_.messages_received;
  bool accused = false;
  for (const auto& u : m.updates) {
    if (u.id == self_.id && u.state != member_state::alive) accused = true;
    apply(u, now);
  }
  if (auto it = members_.find(m.sender_id); it != members_.end()) it->second.info.last_heard = now;
  // Whoever still repeats an accusation gets the refutation straight back: gossip alone can miss
  // an accuser for longer than its suspicion timeout under heavy loss. Pings and push-pulls are
  // answered with our own record anyway.
  if (accused && !leaving_ && m.type != message_type::ping && m.type != message_type::push_pull) {
    send(from_address,
         message{.type = message_type::gossip, .sender_id = self_.id, .updates = {self_update()}});
  }

  switch (m.type) {
    case message_type::ping: {
      // A ping meant for a previous owner of this address must not vouch for us.
      if (m.target_id != self_.id) return;
      message ack{.type = message_type::ack,
                  .sender_id = self_.id,
                  .sequence = m.sequence,
                  .updates = {self_update()}};
      send(from_address, std::move(ack));
      return;
    }
    case message_type::ack: {
      if (probe_ && m.sequence == probe_->sequence) {
        finish_probe(true, now);
        return;
      }
      auto it = forwarded_.find(m.sequence);
      if (it == forwarded_.end()) return;
      message relay{.type = message_type::ack,
                    .sender_id = self_.id,
                    .sequence = it->second.requester_sequence};
      auto address = it->second.requester_address;
      forwarded_.erase(it);
      send(address, std::move(relay));
      return;
    }
    case message_type::ping_req: {
      if (m.target_id.empty() || m.target_address.empty() || m.target_id == self_.id) return;
      auto sequence = next_sequence_++;
      // 4/5 of the probe timeout: the nack must reach the requester before its period ends.
      forwarded_[sequence] = {from_address, m.sequence, now + config_.probe_timeout * 4 / 5};
      message ping{.type = message_type::ping,
                   .sender_id = self_.id,
                   .sequence = sequence,
                   .target_id = m.target_id};
      ++stats_.pings_sent;
      send(m.target_address, std::move(ping));
      return;
    }
    case message_type::nack:
      if (probe_ && m.sequence == probe_->sequence) ++probe_->nacks;
      return;
    case message_type::push_pull: {
      message reply{
          .type = message_type::push_pull_reply, .sender_id = self_.id, .updates = full_state()};
      send(from_address, std::move(reply));
      return;
    }
    case message_type::push_pull_reply:
      joined_ = true;
      next_join_at_ = time_point::max();
      return;
    case message_type::gossip:
      return;
  }
}

void membership::tick(time_point now) {
  expire_forwarded(now);
  advance_probe(now);
  if (!probe_ && now >= next_probe_at_) start_probe(now);
  expire_suspicions(now);
  if (now >= next_gossip_at_) {
    next_gossip_at_ = now + config_.gossip_interval;
    gossip();
  }
  if (joined_ && now >= next_push_pull_at_) {
    next_push_pull_at_ = now + config_.push_pull_interval;
    auto partner = pick_members(1, {}, false);
    if (!partner.empty()) push_pull_with(members_.at(partner.front()).info.address);
  }
  if (joined_ && now >= next_reconnect_at_) {
    next_reconnect_at_ = now + config_.reconnect_interval;
    reconnect();
  }
  if (!joined_ && now >= next_join_at_) {
    next_join_at_ = now + config_.join_retry_interval;
    for (const auto& seed : seeds_) push_pull_with(seed);
  }
  reap(now);
}

time_point membership::next_deadline() const {
  auto next = std::min(next_gossip_at_, next_join_at_);
  if (joined_) next = std::min({next, next_push_pull_at_, next_reconnect_at_});
  if (probe_) {
    next = std::min(next, probe_->indirect_sent ? probe_->period_end : probe_->direct_deadline);
  } else if (!leaving_) {
    next = std::min(next, next_probe_at_);
  }
  for (const auto& [sequence, f] : forwarded_) next = std::min(next, f.deadline);
  for (const auto& [id, m] : members_) {
    if (m.suspected) next = std::min(next, suspicion_deadline(*m.suspected));
    if (!is_live(m.info.state)) next = std::min(next, m.info.state_since + config_.reap_after);
  }
  return next;
}

std::vector<member_event> membership::take_events() {
  return std::exchange(events_, {});
}

std::vector<member_info> membership::members() const {
  std::vector<member_info> out;
  out.reserve(members_.size());
  for (const auto& [id, m] : members_) out.push_back(m.info);
  return out;
}

std::optional<member_info> membership::find(const std::string& id) const {
  if (id == self_.id) return self_;
  auto it = members_.find(id);
  if (it == members_.end()) return std::nullopt;
  return it->second.info;
}

std::size_t membership::live_count() const {
  return 1 + std::count_if(members_.begin(), members_.end(),
                           [](const auto& entry) { return is_live(entry.second.info.state); });
}

std::chrono::milliseconds membership::suspicion_timeout(std::size_t n, int confirmations) const {
  return suspicion_timeout(n, confirmations_needed(n), confirmations);
}

int membership::confirmations_needed(std::size_t n) const {
  // The suspect and the accuser cannot confirm: in a small cluster, expect none and use min.
  auto others = n >= 2 ? static_cast<int>(n - 2) : 0;
  return others < config_.suspicion_confirmations ? 0 : config_.suspicion_confirmations;
}

std::chrono::milliseconds membership::suspicion_timeout(std::size_t n, int needed,
                                                        int confirmations) const {
  auto scale = std::max(1.0, std::log10(static_cast<double>(std::max<std::size_t>(n, 1))));
  double min = config_.suspicion_multiplier * scale * config_.probe_interval.count();
  double max = config_.suspicion_max_multiplier * min;
  double timeout = min;
  if (needed > 0) {
    // Logarithmic: the first confirmations count most, as in Lifeguard.
    double fraction = std::log(std::min(confirmations, needed) + 1.0) / std::log(needed + 1.0);
    timeout = std::max(min, max - fraction * (max - min));
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(timeout));
}

time_point membership::suspicion_deadline(const suspicion& s) const {
  return s.started +
         suspicion_timeout(s.cluster_size, s.needed, static_cast<int>(s.confirmers.size()));
}

void membership::apply(const member_update& u, time_point now) {
  if (u.id.empty() || u.address.empty()) return;
  if (u.id == self_.id) {
    apply_about_self(u);
    return;
  }
  auto it = members_.find(u.id);
  if (it == members_.end()) {
    // News of the death of a stranger (or of a member already reaped) is not worth a record.
    if (!is_live(u.state)) return;
    member fresh;
    fresh.info = {u.id, u.address, member_state::alive, u.incarnation, u.load, now, now};
    fresh.load_incarnation = u.incarnation;
    auto& m = members_.emplace(u.id, std::move(fresh)).first->second;
    events_.push_back({event_kind::joined, u.id, u.address, u.incarnation, now});
    // Somewhere in the rest of this pass, so a newcomer is probed soon but not predictably.
    auto remaining = probe_order_.size() - std::min(probe_index_, probe_order_.size());
    auto position = std::min(probe_index_, probe_order_.size()) + uniform(remaining + 1);
    probe_order_.insert(probe_order_.begin() + static_cast<std::ptrdiff_t>(position), u.id);
    if (u.state == member_state::suspect) set_state(m, member_state::suspect, u.origin, now);
    broadcast(update_of(m, u.origin));
    return;
  }

  member& m = it->second;
  const auto state = m.info.state;
  const bool terminal = !is_live(state);
  const bool same = u.incarnation == m.info.incarnation;
  bool changed = false;
  std::string origin = u.origin;
  switch (u.state) {
    case member_state::alive:
      // Only the member itself raises its incarnation, so a higher one is fresh news of it.
      if (u.incarnation > m.info.incarnation) {
        m.info.incarnation = u.incarnation;
        m.info.address = u.address;
        if (state != member_state::alive) set_state(m, member_state::alive, {}, now);
        changed = true;
      }
      break;
    case member_state::suspect:
      if (u.incarnation < m.info.incarnation || (same && terminal)) break;
      if (same && state == member_state::suspect) {
        // An independent accuser: shortens the timeout here and, relayed, everywhere else.
        auto& s = *m.suspected;
        if (u.origin != s.accuser && s.confirmers.insert(u.origin).second) changed = true;
        break;
      }
      m.info.incarnation = u.incarnation;
      set_state(m, member_state::suspect, u.origin, now);
      changed = true;
      break;
    case member_state::dead:
      if (u.incarnation < m.info.incarnation || (same && terminal)) break;
      m.info.incarnation = u.incarnation;
      set_state(m, member_state::dead, {}, now);
      changed = true;
      break;
    case member_state::left:
      if (u.incarnation < m.info.incarnation || (same && state == member_state::left)) break;
      m.info.incarnation = u.incarnation;
      set_state(m, member_state::left, {}, now);
      changed = true;
      break;
  }

  // Load is ordered by (owner's incarnation, version): a restarted owner counts versions anew.
  const auto& known = m.info.load;
  bool newer_load = u.load.version != 0 &&
                    (u.incarnation > m.load_incarnation ||
                     (u.incarnation == m.load_incarnation && u.load.version > known.version));
  if (newer_load) {
    if (is_live(m.info.state)) m.info.last_heard = std::max(m.info.last_heard, now);
    m.info.load = u.load;
    m.load_incarnation = u.incarnation;
    changed = true;
  }
  if (changed) broadcast(update_of(m, origin));
}

void membership::apply_about_self(const member_update& u) {
  if (leaving_) return;
  bool accused = u.state != member_state::alive;
  // A load record of ours at our incarnation that we never published (a higher version, or the
  // same version with other values) also comes from a previous life, one restarted before anyone
  // noticed: peers would keep that life's load, ordered above ours, until our version counter
  // caught up. Only once we have published: a new incarnation with version 0 would not replace
  // their record either, and the refutations would never end.
  bool previous_life = u.incarnation == self_.incarnation && self_.load.version != 0 &&
                       (u.load.version > self_.load.version ||
                        (u.load.version == self_.load.version && u.load != self_.load));
  // A higher incarnation about us comes from our previous life (a restart): rejoin above it.
  if (u.incarnation > self_.incarnation ||
      (u.incarnation == self_.incarnation && (accused || previous_life))) {
    // Having to defend ourselves hints that we are the slow one (Lifeguard).
    if (accused) add_awareness(1);
    ++stats_.refutations;
    self_.incarnation = u.incarnation + 1;
    broadcast(self_update());
  }
}

void membership::set_state(member& m, member_state state, const std::string& accuser,
                           time_point now) {
  m.info.state = state;
  m.info.state_since = now;
  if (state == member_state::suspect) {
    auto n = live_count();
    m.suspected = suspicion{now, accuser, {}, confirmations_needed(n), n};
  } else {
    m.suspected.reset();
  }
  events_.push_back({event_for(state), m.info.id, m.info.address, m.info.incarnation, now});
  // Tell the accused directly, so that it refutes to us (see receive) within a round trip.
  if (!leaving_ && (state == member_state::suspect || state == member_state::dead)) {
    send(m.info.address, message{.type = message_type::gossip,
                                 .sender_id = self_.id,
                                 .updates = {update_of(m, accuser.empty() ? self_.id : accuser)}});
  }
}

void membership::broadcast(member_update u) {
  auto id = u.id;
  queue_[id] = {std::move(u), 0, next_order_++};
}

member_update membership::self_update() const {
  return {self_.id, self_.address, self_.state, self_.incarnation, self_.id, self_.load};
}

member_update membership::update_of(const member& m, const std::string& origin) const {
  return {m.info.id, m.info.address, m.info.state, m.info.incarnation, origin, m.info.load};
}

void membership::start_probe(time_point now) {
  if (leaving_) return;
  const member* target = nullptr;
  // One rebuild at most: a fresh pass that finds nobody means there is nobody to probe.
  for (bool rebuilt = false; target == nullptr;) {
    if (probe_index_ >= probe_order_.size()) {
      if (rebuilt) break;
      rebuilt = true;
      probe_order_.clear();
      for (const auto& [id, m] : members_) {
        if (is_live(m.info.state)) probe_order_.push_back(id);
      }
      for (std::size_t i = probe_order_.size(); i > 1; --i) {
        std::swap(probe_order_[i - 1], probe_order_[uniform(i)]);
      }
      probe_index_ = 0;
      continue;
    }
    auto it = members_.find(probe_order_[probe_index_++]);
    if (it != members_.end() && is_live(it->second.info.state)) target = &it->second;
  }
  if (target == nullptr) {
    next_probe_at_ = now + config_.probe_interval;
    return;
  }

  auto sequence = next_sequence_++;
  probe_ = probe{target->info.id, sequence, now + scaled(config_.probe_timeout),
                 now + scaled(config_.probe_interval)};
  next_probe_at_ = probe_->period_end;
  message ping{.type = message_type::ping,
               .sender_id = self_.id,
               .sequence = sequence,
               .target_id = target->info.id};
  // Our own record rides on every probe: a member that missed our join learns of us within a
  // pass instead of waiting for the next push-pull.
  ping.updates.push_back(self_update());
  // Tell a suspect it is suspected on the probe itself, so it can refute at once (Lifeguard).
  if (target->info.state == member_state::suspect)
    ping.updates.push_back(update_of(*target, self_.id));
  ++stats_.pings_sent;
  send(target->info.address, std::move(ping));
}

void membership::advance_probe(time_point now) {
  if (!probe_) return;
  auto it = members_.find(probe_->target);
  if (it == members_.end() || !is_live(it->second.info.state)) {
    probe_.reset();  // someone else concluded meanwhile
    return;
  }
  if (!probe_->indirect_sent && now >= probe_->direct_deadline) {
    probe_->indirect_sent = true;
    auto helpers = pick_members(static_cast<std::size_t>(std::max(config_.indirect_checks, 0)),
                                probe_->target, false);
    for (const auto& helper : helpers) {
      message request{.type = message_type::ping_req,
                      .sender_id = self_.id,
                      .sequence = probe_->sequence,
                      .target_id = probe_->target,
                      .target_address = it->second.info.address};
      ++stats_.ping_reqs_sent;
      send(members_.at(helper).info.address, std::move(request));
    }
    probe_->expected_nacks = static_cast<int>(helpers.size());
    // A second direct ping too (memberlist's TCP fallback in spirit): one lost datagram on the
    // direct path is the commonest reason for a missed ack.
    message ping{.type = message_type::ping,
                 .sender_id = self_.id,
                 .sequence = probe_->sequence,
                 .target_id = probe_->target};
    ++stats_.pings_sent;
    send(it->second.info.address, std::move(ping));
  }
  if (now >= probe_->period_end) finish_probe(false, now);
}

void membership::finish_probe(bool acked, time_point now) {
  auto finished = std::move(*probe_);
  probe_.reset();
  if (acked) {
    add_awareness(-1);
    return;
  }
  ++stats_.probes_failed;
  // Helpers that did not even nack point at our own network or CPU rather than at the target.
  add_awareness(finished.expected_nacks > 0 ? finished.expected_nacks - finished.nacks : 1);
  auto it = members_.find(finished.target);
  if (it == members_.end() || !is_live(it->second.info.state)) return;
  ++stats_.suspicions_raised;
  const auto& info = it->second.info;
  apply({info.id, info.address, member_state::suspect, info.incarnation, self_.id, info.load}, now);
}

void membership::expire_forwarded(time_point now) {
  for (auto it = forwarded_.begin(); it != forwarded_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    message nack{.type = message_type::nack,
                 .sender_id = self_.id,
                 .sequence = it->second.requester_sequence};
    auto address = it->second.requester_address;
    it = forwarded_.erase(it);
    send(address, std::move(nack));
  }
}

void membership::expire_suspicions(time_point now) {
  std::vector<std::string> expired;
  for (const auto& [id, m] : members_) {
    if (m.suspected && now >= suspicion_deadline(*m.suspected)) expired.push_back(id);
  }
  for (const auto& id : expired) {
    const auto& info = members_.at(id).info;
    apply({info.id, info.address, member_state::dead, info.incarnation, self_.id, info.load}, now);
  }
}

void membership::gossip() {
  // Remind every member we suspect, each round: it refutes straight back (see receive), so one
  // lost datagram cannot turn a live member into a dead one.
  for (const auto& [id, m] : members_) {
    if (m.info.state != member_state::suspect || leaving_) continue;
    send(m.info.address, message{.type = message_type::gossip,
                                 .sender_id = self_.id,
                                 .updates = {update_of(m, m.suspected->accuser)}});
  }
  if (queue_.empty()) return;
  for (const auto& id :
       pick_members(static_cast<std::size_t>(std::max(config_.gossip_fanout, 0)), {}, true)) {
    if (queue_.empty()) break;
    send(members_.at(id).info.address,
         message{.type = message_type::gossip, .sender_id = self_.id});
  }
}

void membership::push_pull_with(const std::string& address) {
  ++stats_.push_pulls_sent;
  send(address,
       message{.type = message_type::push_pull, .sender_id = self_.id, .updates = full_state()});
}

void membership::reconnect() {
  std::vector<std::string> candidates;
  for (const auto& [id, m] : members_) {
    if (m.info.state == member_state::dead) candidates.push_back(m.info.address);
  }
  for (const auto& seed : seeds_) {
    bool seen_live = std::any_of(members_.begin(), members_.end(), [&](const auto& entry) {
      return entry.second.info.address == seed && is_live(entry.second.info.state);
    });
    if (!seen_live) candidates.push_back(seed);
  }
  if (!candidates.empty()) push_pull_with(candidates[uniform(candidates.size())]);
}

void membership::reap(time_point now) {
  for (auto it = members_.begin(); it != members_.end();) {
    const auto& info = it->second.info;
    if (is_live(info.state) || now - info.state_since < config_.reap_after) {
      ++it;
      continue;
    }
    events_.push_back({event_kind::reaped, info.id, info.address, info.incarnation, now});
    queue_.erase(info.id);
    it = members_.erase(it);
  }
}

void membership::send(const std::string& address, message m) {
  if (m.type != message_type::push_pull && m.type != message_type::push_pull_reply) {
    std::size_t used = encoded_header_size(m);
    for (const auto& u : m.updates) used += encoded_size(u);
    // Fewest transmissions first, so fresh news is never starved by old news.
    std::vector<std::map<std::string, queued_update>::iterator> order;
    order.reserve(queue_.size());
    for (auto it = queue_.begin(); it != queue_.end(); ++it) order.push_back(it);
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
      if (a->second.transmits != b->second.transmits) {
        return a->second.transmits < b->second.transmits;
      }
      return a->second.order > b->second.order;
    });
    const int limit = retransmit_limit();
    for (auto it : order) {
      if (m.updates.size() >= max_updates) break;
      auto& q = it->second;
      bool duplicate = std::any_of(m.updates.begin(), m.updates.end(),
                                   [&](const member_update& u) { return u.id == q.update.id; });
      auto size = encoded_size(q.update);
      if (duplicate || used + size > config_.max_piggyback_bytes) continue;
      used += size;
      m.updates.push_back(q.update);
      if (++q.transmits >= limit) queue_.erase(it);
    }
  }
  ++stats_.messages_sent;
  out_.send(address, m);
}

std::vector<member_update> membership::full_state() const {
  std::vector<member_update> state{self_update()};
  std::size_t used = 64 + encoded_size(state.front());
  for (const auto& [id, m] : members_) {
    auto u = update_of(m, self_.id);
    used += encoded_size(u);
    // Beyond one datagram the rest is left to gossip (hundreds of members: not a LAN edge cluster).
    if (state.size() >= max_updates || used > max_message_bytes) break;
    state.push_back(std::move(u));
  }
  return state;
}

std::vector<std::string> membership::pick_members(std::size_t k, const std::string& exclude,
                                                  bool include_suspect) {
  std::vector<std::string> candidates;
  for (const auto& [id, m] : members_) {
    if (id == exclude) continue;
    if (m.info.state == member_state::alive ||
        (include_suspect && m.info.state == member_state::suspect)) {
      candidates.push_back(id);
    }
  }
  k = std::min(k, candidates.size());
  for (std::size_t i = 0; i < k; ++i) {
    std::swap(candidates[i], candidates[i + uniform(candidates.size() - i)]);
  }
  candidates.resize(k);
  return candidates;
}

void membership::add_awareness(int delta) {
  awareness_ = std::clamp(awareness_ + delta, 0, std::max(config_.awareness_max - 1, 0));
}

int membership::retransmit_limit() const {
  auto n = static_cast<double>(live_count());
  return std::max(1,
                  config_.retransmit_multiplier * static_cast<int>(std::ceil(std::log10(n + 1))));
}

}  // namespace p2pfaas::discovery
