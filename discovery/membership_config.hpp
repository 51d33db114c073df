#pragma once

#include <chrono>
#include <cstddef>

namespace p2pfaas::discovery {

using namespace std::chrono_literals;

// SWIM + Lifeguard timings and constants. The defaults target a LAN: a dead node is declared dead
// by every survivor within ~3 s median / 5 s worst, with no false death under 20% packet loss
// (both checked in virtual time by the unit tests).
struct membership_config {
  // One probe per period. Shorter detects sooner; each period costs one ping + ack per node.
  std::chrono::milliseconds probe_interval = 200ms;
  // Wait for a direct ack before asking helpers; well above a LAN round trip, half the period so
  // the indirect probe still has time to answer.
  std::chrono::milliseconds probe_timeout = 100ms;
  // Helpers asked to probe on our behalf when the direct ping is not answered in time.
  int indirect_checks = 3;

  // Suspicion timeout, Lifeguard style: min = suspicion_multiplier * max(1, log10(n)) *
  // probe_interval (800 ms up to 10 nodes, 1.2 s at 32); max = suspicion_max_multiplier * min
  // (3.2 s up to 10 nodes). A lone accuser waits max; each independent confirmation brings it
  // closer to min, reached at suspicion_confirmations confirmations.
  double suspicion_multiplier = 4;
  double suspicion_max_multiplier = 4;
  int suspicion_confirmations = 2;

  // Each update is piggybacked retransmit_multiplier * ceil(log10(n + 1)) times.
  int retransmit_multiplier = 4;
  // Besides piggybacking on probes, updates go to gossip_fanout random members every interval,
  // which is what spreads news in O(log n) periods.
  std::chrono::milliseconds gossip_interval = 200ms;
  int gossip_fanout = 3;
  // Updates per datagram are capped by bytes so a datagram stays under a LAN MTU.
  std::size_t max_piggyback_bytes = 1200;

  // Full-state exchange with a random member: repairs whatever gossip lost.
  std::chrono::milliseconds push_pull_interval = 10s;
  // Push-pull with a dead member or a seed not currently seen alive, so two sides of a healed
  // partition find each other again.
  std::chrono::milliseconds reconnect_interval = 10s;
  // Seeds are contacted again at this interval until one answers.
  std::chrono::milliseconds join_retry_interval = 1s;

  // Dead and left members are forgotten this long after they were declared so.
  std::chrono::milliseconds reap_after = 60s;

  // Lifeguard local health: the probe interval and timeout are multiplied by (score + 1), score in
  // [0, awareness_max - 1], so a node that misses acks because it is itself slow probes less
  // eagerly and gives peers longer to answer.
  int awareness_max = 8;
};

}  // namespace p2pfaas::discovery
