#include "net/peer_protocol.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <bit>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>

#include "tests/support/daemon_process.hpp"

namespace p2pfaas::net {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t max_frame = 1 << 20;

std::span<const std::uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

peer_call full_call() {
  peer_call c;
  c.function = "echo";
  c.path_rest = "a/b%20c";
  c.query = "x=1&y=%41";
  c.content_type = "application/octet-stream";
  c.headers = {{"X-One", "1"}, {"X-Empty", ""}, {"X-P2pfaas-Deadline-Seconds", "0.150"}};
  c.payload = std::string("bin\0ary\xff", 8);
  c.call_id = "call-42";
  c.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  c.timeout_ms = 29'500;
  c.deadline_seconds = 0.15;
  c.path = {"node-a", "node-b"};
  return c;
}

peer_reply full_reply() {
  peer_reply r;
  r.status = 429;
  r.content_type = "application/json";
  r.body = R"({"code":"full"})";
  r.outcome = "full";
  r.executed_on = "node-c";
  r.path = {"node-b", "node-c"};
  r.total_seconds = {0.25, 0.125};
  r.scheduling_seconds = {0.001, -0.0};
  r.probing_seconds = {0.01, 0};
  r.execution_seconds = 0.1;
  r.executed = true;
  r.cold_start = true;
  r.retry_after_seconds = 3;
  return r;
}

peer_load full_load() {
  return {.running = 3,
          .queued = 70'000,
          .slots = 4,
          .queue_capacity = 0xffff'ffffu,
          .recent_service_seconds = 0.0421875};
}

// Splits one frame off `message` and checks its header.
frame_view split(std::span<const std::uint8_t>& message, frame_type type, std::uint64_t id) {
  frame_view frame;
  EXPECT_EQ(next_frame(message, max_frame, frame), protocol_error::none);
  EXPECT_EQ(frame.type, type);
  EXPECT_EQ(frame.request_id, id);
  return frame;
}

TEST(PeerProtocol, CallRoundTripsEveryField) {
  const peer_call sent = full_call();
  std::string wire;
  ASSERT_EQ(encode(0x1234'5678'9abc'def0u, sent, max_frame, wire), protocol_error::none);
  EXPECT_EQ(wire.size(), encoded_size(sent));
  auto message = bytes_of(wire);
  auto frame = split(message, frame_type::call, 0x1234'5678'9abc'def0u);
  EXPECT_TRUE(message.empty());
  peer_call got;
  ASSERT_EQ(decode(frame.body, got), protocol_error::none);
  EXPECT_EQ(got, sent);
}

TEST(PeerProtocol, ReplyRoundTripsEveryField) {
  const peer_reply sent = full_reply();
  std::string wire;
  ASSERT_EQ(encode(7, sent, max_frame, wire), protocol_error::none);
  EXPECT_EQ(wire.size(), encoded_size(sent));
  auto message = bytes_of(wire);
  auto frame = split(message, frame_type::reply, 7);
  peer_reply got;
  ASSERT_EQ(decode(frame.body, got), protocol_error::none);
  EXPECT_EQ(got, sent);
  EXPECT_TRUE(std::signbit(got.scheduling_seconds[1]));  // bits, not just values, survive
}

TEST(PeerProtocol, EmptyStructsRoundTrip) {
  std::string wire;
  ASSERT_EQ(encode(1, peer_call{}, max_frame, wire), protocol_error::none);
  ASSERT_EQ(encode(2, peer_reply{}, max_frame, wire), protocol_error::none);
  auto message = bytes_of(wire);
  peer_call call;
  peer_reply reply;
  ASSERT_EQ(decode(split(message, frame_type::call, 1).body, call), protocol_error::none);
  ASSERT_EQ(decode(split(message, frame_type::reply, 2).body, reply), protocol_error::none);
  EXPECT_EQ(call, peer_call{});
  EXPECT_EQ(reply, peer_reply{});
}

TEST(PeerProtocol, LoadQueryAndReportRoundTrip) {
  std::string wire;
  encode_load_query(0x0000'0007'0000'0003u, wire);
  EXPECT_EQ(wire.size(), peer_frame_header_bytes);
  ASSERT_EQ(encode(0x0000'0007'0000'0003u, full_load(), max_frame, wire), protocol_error::none);
  EXPECT_EQ(wire.size(), peer_frame_header_bytes + encoded_size(full_load()));
  auto message = bytes_of(wire);
  auto query = split(message, frame_type::load_query, 0x0000'0007'0000'0003u);
  EXPECT_TRUE(query.body.empty());
  auto report = split(message, frame_type::load_report, 0x0000'0007'0000'0003u);
  EXPECT_TRUE(message.empty());
  EXPECT_EQ(report.body.size(), 4 * 4 + 8u);
  peer_load got;
  ASSERT_EQ(decode(report.body, got), protocol_error::none);
  EXPECT_EQ(got, full_load());
  // Decoded frames encode back to the same bytes.
  std::string again;
  encode_load_query(query.request_id, again);
  ASSERT_EQ(encode(report.request_id, got, max_frame, again), protocol_error::none);
  EXPECT_EQ(again, wire);

  std::string empty;
  ASSERT_EQ(encode(1, peer_load{}, max_frame, empty), protocol_error::none);
  auto m = bytes_of(empty);
  ASSERT_EQ(decode(split(m, frame_type::load_report, 1).body, got), protocol_error::none);
  EXPECT_EQ(got, peer_load{});
}

TEST(PeerProtocol, AdminCallHasItsOwnFrameTypeAndTheBodyOfACall) {
  peer_call admin = full_call();
  admin.kind = call_kind::admin;
  std::string admin_wire, call_wire;
  ASSERT_EQ(encode(5, admin, max_frame, admin_wire), protocol_error::none);
  ASSERT_EQ(encode(5, full_call(), max_frame, call_wire), protocol_error::none);
  EXPECT_EQ(admin_wire.size(), encoded_size(admin));
  auto admin_message = bytes_of(admin_wire);
  auto call_message = bytes_of(call_wire);
  auto admin_frame = split(admin_message, frame_type::admin_call, 5);
  auto call_frame = split(call_message, frame_type::call, 5);
  EXPECT_TRUE(std::equal(admin_frame.body.begin(), admin_frame.body.end(), call_frame.body.begin(),
                         call_frame.body.end()));

  // The body does not carry the kind: decoding leaves it alone, for the receiver to set.
  peer_call got;
  got.kind = call_kind::admin;
  ASSERT_EQ(decode(admin_frame.body, got), protocol_error::none);
  EXPECT_EQ(got, admin);
  got.kind = call_kind::function;
  ASSERT_EQ(decode(admin_frame.body, got), protocol_error::none);
  EXPECT_EQ(got.kind, call_kind::function);
  EXPECT_NE(got, admin);

  got.kind = call_kind::admin;
  std::string again;
  ASSERT_EQ(encode(5, got, max_frame, again), protocol_error::none);
  EXPECT_EQ(again, admin_wire);

  peer_call unknown;
  unknown.kind = static_cast<call_kind>(2);
  std::string untouched = "keep";
  EXPECT_EQ(encode(1, unknown, max_frame, untouched), protocol_error::bad_value);
  EXPECT_EQ(untouched, "keep");
}

TEST(PeerProtocol, EveryTruncationOfALoadReportIsRefused) {
  std::string wire;
  ASSERT_EQ(encode(9, full_load(), max_frame, wire), protocol_error::none);
  for (std::size_t n = 0; n < wire.size(); ++n) {
    auto message = bytes_of(wire).first(n);
    frame_view frame;
    EXPECT_EQ(next_frame(message, max_frame, frame), protocol_error::truncated) << n;
    EXPECT_EQ(message.size(), n);
  }
  auto message = bytes_of(wire);
  auto frame = split(message, frame_type::load_report, 9);
  for (std::size_t n = 0; n < frame.body.size(); ++n) {
    peer_load load;
    EXPECT_EQ(decode(frame.body.first(n), load), protocol_error::truncated) << n;
  }
}

TEST(PeerProtocol, LoadReportRefusesTrailingBytesAndBadSeconds) {
  std::string wire;
  ASSERT_EQ(encode(1, full_load(), max_frame, wire), protocol_error::none);
  auto message = bytes_of(wire);
  auto body = split(message, frame_type::load_report, 1).body;
  const std::vector<std::uint8_t> bytes(body.begin(), body.end());
  peer_load load;

  auto longer = bytes;
  longer.push_back(0);
  EXPECT_EQ(decode(longer, load), protocol_error::trailing_bytes);

  // recent_service_seconds is the last 8 bytes.
  auto with_seconds = [&](double v) {
    auto changed = bytes;
    const auto bits = std::bit_cast<std::uint64_t>(v);
    for (int i = 0; i < 8; ++i) changed[16 + i] = static_cast<std::uint8_t>(bits >> (8 * i));
    return changed;
  };
  for (double bad :
       {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
        -std::numeric_limits<double>::infinity(), -1.0, -1e-300}) {
    EXPECT_EQ(decode(with_seconds(bad), load), protocol_error::bad_value) << bad;
    std::string untouched = "keep";
    EXPECT_EQ(encode(1, peer_load{.recent_service_seconds = bad}, max_frame, untouched),
              protocol_error::bad_value)
        << bad;
    EXPECT_EQ(untouched, "keep");
  }
  EXPECT_EQ(decode(with_seconds(0.0), load), protocol_error::none);
  EXPECT_EQ(decode(with_seconds(-0.0), load), protocol_error::none);
  EXPECT_EQ(decode(with_seconds(1e9), load), protocol_error::none);

  std::string small;
  EXPECT_EQ(encode(1, full_load(), encoded_size(full_load()) - 1, small),
            protocol_error::frame_too_large);
  EXPECT_TRUE(small.empty());
}

TEST(PeerProtocol, LoadQueryWithABodyAndUnknownTypesAreRefused) {
  std::string wire;
  encode_load_query(5, wire);
  frame_view frame;
  {
    std::string bad = wire + "x";
    bad[0] = static_cast<char>(bad[0] + 1);
    auto m = bytes_of(bad);
    EXPECT_EQ(next_frame(m, max_frame, frame), protocol_error::trailing_bytes);
  }
  for (int type : {0, 7, 255}) {
    std::string bad = wire;
    bad[5] = static_cast<char>(type);
    auto m = bytes_of(bad);
    EXPECT_EQ(next_frame(m, max_frame, frame), protocol_error::bad_type) << type;
  }
}

TEST(PeerProtocol, SeveralFramesShareAMessage) {
  std::string wire;
  ASSERT_EQ(encode(1, full_call(), max_frame, wire), protocol_error::none);
  encode_cancel(2, wire);
  ASSERT_EQ(encode(3, full_reply(), max_frame, wire), protocol_error::none);
  auto message = bytes_of(wire);
  split(message, frame_type::call, 1);
  auto cancel = split(message, frame_type::cancel, 2);
  EXPECT_TRUE(cancel.body.empty());
  split(message, frame_type::reply, 3);
  EXPECT_TRUE(message.empty());
}

TEST(PeerProtocol, EncodeRefusesWhatBreaksALimitAndLeavesTheBufferAlone) {
  std::string wire = "keep";
  peer_call c;
  c.function.assign(max_peer_string_bytes + 1, 'f');
  EXPECT_EQ(encode(1, c, max_frame, wire), protocol_error::string_too_long);
  c = {};
  c.headers.assign(max_peer_list_entries + 1, {"X-A", "b"});
  EXPECT_EQ(encode(1, c, max_frame, wire), protocol_error::too_many_entries);
  c = {};
  c.path.assign(max_peer_list_entries + 1, "n");
  EXPECT_EQ(encode(1, c, max_frame, wire), protocol_error::too_many_entries);
  c = {};
  c.payload.assign(1000, 'p');
  EXPECT_EQ(encode(1, c, 1000, wire), protocol_error::frame_too_large);
  c.deadline_seconds = -1;
  EXPECT_EQ(encode(1, c, max_frame, wire), protocol_error::bad_value);
  c.deadline_seconds = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(encode(1, c, max_frame, wire), protocol_error::bad_value);

  peer_reply r;
  r.status = 42;
  EXPECT_EQ(encode(1, r, max_frame, wire), protocol_error::bad_value);
  r = {};
  r.retry_after_seconds = -1;
  EXPECT_EQ(encode(1, r, max_frame, wire), protocol_error::bad_value);
  r = {};
  r.total_seconds = {std::numeric_limits<double>::infinity()};
  EXPECT_EQ(encode(1, r, max_frame, wire), protocol_error::bad_value);
  EXPECT_EQ(wire, "keep");

  c = {};
  c.function.assign(max_peer_string_bytes, 'f');  // the limit itself is fine
  EXPECT_EQ(encode(1, c, max_frame, wire), protocol_error::none);
}

TEST(PeerProtocol, EveryTruncationIsAnErrorNotACrash) {
  std::string wire;
  ASSERT_EQ(encode(9, full_call(), max_frame, wire), protocol_error::none);
  for (std::size_t n = 0; n < wire.size(); ++n) {
    auto message = bytes_of(wire).first(n);
    frame_view frame;
    EXPECT_EQ(next_frame(message, max_frame, frame), protocol_error::truncated) << n;
    EXPECT_EQ(message.size(), n);  // left as it was
  }
  // A body cut short inside a frame whose size field agrees.
  auto message = bytes_of(wire);
  auto frame = split(message, frame_type::call, 9);
  for (std::size_t n = 0; n < frame.body.size(); ++n) {
    peer_call call;
    EXPECT_EQ(decode(frame.body.first(n), call), protocol_error::truncated) << n;
  }
}

TEST(PeerProtocol, HeaderProblemsAreNamed) {
  std::string wire;
  encode_cancel(5, wire);
  frame_view frame;
  {
    std::string bad = wire;
    bad[4] = 2;  // version
    auto m = bytes_of(bad);
    EXPECT_EQ(next_frame(m, max_frame, frame), protocol_error::bad_version);
  }
  {
    std::string bad = wire;
    bad[5] = 9;  // type
    auto m = bytes_of(bad);
    EXPECT_EQ(next_frame(m, max_frame, frame), protocol_error::bad_type);
  }
  {
    std::string bad = wire;
    bad[0] = static_cast<char>(0xff);  // declares more than the limit
    bad[1] = bad[2] = static_cast<char>(0xff);
    auto m = bytes_of(bad);
    EXPECT_EQ(next_frame(m, 1024, frame), protocol_error::frame_too_large);
  }
  {
    std::string bad = wire + "x";  // a cancel with a body
    bad[0] = static_cast<char>(bad[0] + 1);
    auto m = bytes_of(bad);
    EXPECT_EQ(next_frame(m, max_frame, frame), protocol_error::trailing_bytes);
  }
}

TEST(PeerProtocol, DecodeRefusesTrailingBytesUnknownFlagsAndBadNumbers) {
  std::string wire;
  ASSERT_EQ(encode(1, peer_reply{}, max_frame, wire), protocol_error::none);
  auto message = bytes_of(wire);
  auto body = split(message, frame_type::reply, 1).body;
  std::vector<std::uint8_t> bytes(body.begin(), body.end());
  peer_reply reply;

  auto longer = bytes;
  longer.push_back(0);
  EXPECT_EQ(decode(longer, reply), protocol_error::trailing_bytes);

  auto flags = bytes;
  flags[2] = 4;  // after the u16 status
  EXPECT_EQ(decode(flags, reply), protocol_error::bad_value);

  auto status = bytes;
  status[0] = 0xff;
  status[1] = 0xff;
  EXPECT_EQ(decode(status, reply), protocol_error::bad_value);

  auto nan = bytes;  // execution_seconds at offset 7
  for (int i = 0; i < 8; ++i) nan[7 + i] = 0xff;
  EXPECT_EQ(decode(nan, reply), protocol_error::bad_value);

  auto list = bytes;  // path count after the three empty strings
  list[15 + 6] = 0x01;
  list[15 + 7] = 0x01;  // 257 entries
  EXPECT_EQ(decode(list, reply), protocol_error::too_many_entries);
}

// Property: random calls and replies survive encode → decode unchanged, and re-encode to the same
// bytes.
TEST(PeerProtocol, RandomValuesRoundTrip) {
  std::mt19937_64 rng(20261123);
  auto text = [&](std::size_t max) {
    std::string s(rng() % (max + 1), '\0');
    for (auto& ch : s) ch = static_cast<char>(rng());
    return s;
  };
  auto number = [&] { return static_cast<double>(rng() % 1'000'000) / 1000.0; };
  for (int round = 0; round < 300; ++round) {
    peer_call c;
    c.function = text(20);
    c.path_rest = text(40);
    c.query = text(40);
    c.content_type = text(30);
    for (std::size_t i = rng() % 6; i > 0; --i) c.headers.emplace_back(text(10), text(30));
    c.payload = text(round % 10 == 0 ? 100'000 : 500);
    c.call_id = text(36);
    c.traceparent = text(55);
    c.timeout_ms = static_cast<std::uint32_t>(rng());
    c.deadline_seconds = number();
    for (std::size_t i = rng() % 5; i > 0; --i) c.path.push_back(text(12));

    peer_reply r;
    r.status = 100 + static_cast<int>(rng() % 900);
    r.content_type = text(30);
    r.body = text(2000);
    r.outcome = text(10);
    r.executed_on = text(12);
    for (std::size_t i = rng() % 5; i > 0; --i) {
      r.path.push_back(text(12));
      r.total_seconds.push_back(number());
      r.scheduling_seconds.push_back(number());
      r.probing_seconds.push_back(number());
    }
    r.execution_seconds = number();
    r.executed = rng() % 2;
    r.cold_start = rng() % 2;
    r.retry_after_seconds = static_cast<int>(rng() % 100);

    c.kind = rng() % 2 ? call_kind::admin : call_kind::function;
    const peer_load l{static_cast<std::uint32_t>(rng()), static_cast<std::uint32_t>(rng()),
                      static_cast<std::uint32_t>(rng()), static_cast<std::uint32_t>(rng()),
                      number()};

    const std::uint64_t id = rng();
    std::string wire;
    ASSERT_EQ(encode(id, c, max_frame, wire), protocol_error::none);
    ASSERT_EQ(encode(id + 1, r, max_frame, wire), protocol_error::none);
    ASSERT_EQ(encode(id + 2, l, max_frame, wire), protocol_error::none);
    auto message = bytes_of(wire);
    peer_call call;
    peer_reply reply;
    peer_load load;
    const auto call_type = c.kind == call_kind::admin ? frame_type::admin_call : frame_type::call;
    ASSERT_EQ(decode(split(message, call_type, id).body, call), protocol_error::none);
    call.kind = c.kind;  // as the receiver sets it from the frame type
    ASSERT_EQ(decode(split(message, frame_type::reply, id + 1).body, reply), protocol_error::none);
    ASSERT_EQ(decode(split(message, frame_type::load_report, id + 2).body, load),
              protocol_error::none);
    EXPECT_EQ(call, c);
    EXPECT_EQ(reply, r);
    EXPECT_EQ(load, l);
    std::string again;
    ASSERT_EQ(encode(id, call, max_frame, again), protocol_error::none);
    ASSERT_EQ(encode(id + 1, reply, max_frame, again), protocol_error::none);
    ASSERT_EQ(encode(id + 2, load, max_frame, again), protocol_error::none);
    EXPECT_EQ(again, wire);
  }
}

// Random corruption of valid frames never crashes and never decodes outside the input (ASan).
TEST(PeerProtocol, CorruptedFramesNeverCrash) {
  std::string wire;
  ASSERT_EQ(encode(1, full_call(), max_frame, wire), protocol_error::none);
  ASSERT_EQ(encode(2, full_reply(), max_frame, wire), protocol_error::none);
  ASSERT_EQ(encode(3, full_load(), max_frame, wire), protocol_error::none);
  encode_load_query(4, wire);
  std::mt19937 rng(7);
  for (int round = 0; round < 5000; ++round) {
    std::vector<std::uint8_t> bytes(wire.begin(), wire.end());
    for (int flips = 1 + static_cast<int>(rng() % 4); flips > 0; --flips) {
      bytes[rng() % bytes.size()] = static_cast<std::uint8_t>(rng());
    }
    std::span<const std::uint8_t> message(bytes);
    frame_view frame;
    while (!message.empty() && next_frame(message, max_frame, frame) == protocol_error::none) {
      if (frame.type == frame_type::call || frame.type == frame_type::admin_call) {
        peer_call call;
        (void)decode(frame.body, call);
      } else if (frame.type == frame_type::reply) {
        peer_reply reply;
        (void)decode(frame.body, reply);
      } else if (frame.type == frame_type::load_report) {
        peer_load load;
        (void)decode(frame.body, load);
      }
    }
  }
}

TEST(PeerProtocol, FrameQueueBatchesWholeFramesWithinTheLimit) {
  frame_queue queue(2 * peer_frame_header_bytes + 3);  // two cancels fit, not three
  std::string message;
  queue.take(message);
  EXPECT_TRUE(message.empty());
  EXPECT_TRUE(queue.empty());

  for (std::uint64_t i = 0; i < 5; ++i) {
    encode_cancel(i, queue.buffer(peer_frame_header_bytes));
  }
  peer_reply big;
  big.body.assign(100, 'b');  // over the batch size: goes alone
  ASSERT_EQ(encode(5, big, max_frame, queue.buffer(encoded_size(big))), protocol_error::none);
  encode_cancel(6, queue.buffer(peer_frame_header_bytes));

  std::vector<std::vector<std::uint64_t>> batches;
  while (!queue.empty()) {
    queue.take(message);
    auto bytes = bytes_of(message);
    batches.emplace_back();
    frame_view frame;
    while (!bytes.empty()) {
      ASSERT_EQ(next_frame(bytes, max_frame, frame), protocol_error::none);
      batches.back().push_back(frame.request_id);
    }
  }
  EXPECT_EQ(batches, (std::vector<std::vector<std::uint64_t>>{{0, 1}, {2, 3}, {4}, {5}, {6}}));

  // A failed encode leaves nothing behind.
  peer_call bad;
  bad.deadline_seconds = -1;
  EXPECT_EQ(encode(7, bad, max_frame, queue.buffer(encoded_size(bad))), protocol_error::bad_value);
  EXPECT_TRUE(queue.empty());
}

// The fuzzer's seeds are whole, valid messages, so fuzzing starts from frames that get deep.
TEST(PeerProtocol, FuzzSeedsAreValidMessages) {
  for (const char* name :
       {"call", "reply", "batch", "cancel", "load_report", "admin_call", "probe_batch"}) {
    std::ifstream in(testing::source_path(std::string("tests/fuzz/corpus/peer_frame/") + name),
                     std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    ASSERT_FALSE(bytes.empty()) << name;
    auto message = bytes_of(bytes);
    while (!message.empty()) {
      frame_view frame;
      ASSERT_EQ(next_frame(message, max_frame, frame), protocol_error::none) << name;
      peer_call call;
      peer_reply reply;
      peer_load load;
      if (frame.type == frame_type::call || frame.type == frame_type::admin_call) {
        EXPECT_EQ(decode(frame.body, call), protocol_error::none) << name;
      } else if (frame.type == frame_type::reply) {
        EXPECT_EQ(decode(frame.body, reply), protocol_error::none) << name;
      } else if (frame.type == frame_type::load_report) {
        EXPECT_EQ(decode(frame.body, load), protocol_error::none) << name;
      }
    }
  }
}

const wall_time t0 = wall_time{} + 1'700'000'000'000ms;

key_ring ring_of(std::uint8_t fill) {
  return key_ring{{std::vector<std::uint8_t>(32, fill)}};
}

TEST(PeerProtocol, TokenNamesTheNodeOnceOnly) {
  opener keys(ring_of(1), 30s, 100, peer_upgrade_label);
  const std::string token = make_peer_token(ring_of(1), "node-a", t0);
  EXPECT_EQ(token.rfind("P2pfaas-Peer ", 0), 0u);
  std::string problem;
  EXPECT_EQ(open_peer_token(keys, token, t0, problem), "node-a");
  EXPECT_EQ(open_peer_token(keys, token, t0, problem), std::nullopt);
  EXPECT_NE(problem.find("replayed"), std::string::npos) << problem;
}

TEST(PeerProtocol, TokenProblemsAreRefused) {
  opener keys(ring_of(1), 30s, 100, peer_upgrade_label);
  std::string problem;
  EXPECT_FALSE(open_peer_token(keys, "", t0, problem));
  EXPECT_FALSE(open_peer_token(keys, "Bearer abc", t0, problem));
  EXPECT_FALSE(open_peer_token(keys, "P2pfaas-Peer not*base64", t0, problem));
  EXPECT_FALSE(open_peer_token(keys, "P2pfaas-Peer " + std::string(2000, 'A'), t0, problem));
  EXPECT_FALSE(open_peer_token(keys, make_peer_token(ring_of(2), "node-a", t0), t0, problem));
  EXPECT_NE(problem.find("not sealed with our cluster key"), std::string::npos) << problem;
  EXPECT_FALSE(open_peer_token(keys, make_peer_token(ring_of(1), "node-a", t0 - 60s), t0, problem));
  EXPECT_NE(problem.find("stale"), std::string::npos) << problem;
  EXPECT_FALSE(open_peer_token(keys, make_peer_token(ring_of(1), "", t0), t0, problem));
  EXPECT_FALSE(open_peer_token(keys, make_peer_token(ring_of(1), "bad\nid", t0), t0, problem));
  // Sealed for another purpose (a gossip envelope): not an upgrade token.
  const std::string id = "node-a";
  auto gossip =
      seal(ring_of(1), std::span(reinterpret_cast<const std::uint8_t*>(id.data()), id.size()), t0,
           system_random, gossip_envelope_label);
  std::string encoded(4 * ((gossip.size() + 2) / 3) + 1, '\0');
  encoded.resize(
      static_cast<std::size_t>(EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                               gossip.data(), static_cast<int>(gossip.size()))));
  EXPECT_FALSE(open_peer_token(keys, "P2pfaas-Peer " + encoded, t0, problem));
  EXPECT_NE(problem.find("not sealed with our cluster key"), std::string::npos) << problem;
}

}  // namespace
}  // namespace p2pfaas::net
