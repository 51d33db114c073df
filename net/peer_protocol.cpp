#include "net/peer_protocol.hpp"

#include <openssl/evp.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "net/byte_reader.hpp"

namespace p2pfaas::net {
namespace {

// Body layouts, after the frame header:
//   call, admin_call:
//          u32 timeout_ms, f64 deadline_seconds, str function, str path_rest, str query,
//          str content_type, str call_id, str traceparent, u16 n + n × (str name, str value),
//          u16 n + n × str path, blob payload
//   reply: u16 status, u8 flags (1 executed, 2 cold_start), u32 retry_after_seconds,
//          f64 execution_seconds, str content_type, str outcome, str executed_on,
//          u16 n + n × str path, 3 × (u16 n + n × f64) total/scheduling/probing, blob body
//   load_report:
//          u32 running, u32 queued, u32 slots, u32 queue_capacity, f64 recent_service_seconds
//   cancel, load_query: none
constexpr std::uint8_t flag_executed = 1;
constexpr std::uint8_t flag_cold_start = 2;
constexpr std::uint8_t known_flags = flag_executed | flag_cold_start;
constexpr std::size_t call_fixed_bytes = 4 + 8;
constexpr std::size_t reply_fixed_bytes = 2 + 1 + 4 + 8;
constexpr std::size_t load_body_bytes = 4 * 4 + 8;
// The tail of the frames that end with no payload or body.
const std::string no_tail;

std::size_t str_size(const std::string& s) {
  return 2 + s.size();
}
std::size_t blob_size(const std::string& s) {
  return 4 + s.size();
}

// Writes into memory already sized by encoded_size, so encoding is one resize and copies.
class sink {
 public:
  explicit sink(char* at) : at_(at) {}
  void u8(std::uint8_t v) { *at_++ = static_cast<char>(v); }
  void u16(std::uint16_t v) { put(v, 2); }
  void u32(std::uint32_t v) { put(v, 4); }
  void u64(std::uint64_t v) { put(v, 8); }
  void f64(double v) { put(std::bit_cast<std::uint64_t>(v), 8); }
  void str(const std::string& s) {
    u16(static_cast<std::uint16_t>(s.size()));
    bytes(s);
  }

 private:
  void bytes(const std::string& s) {
    if (!s.empty()) std::memcpy(at_, s.data(), s.size());
    at_ += s.size();
  }
  void put(std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) *at_++ = static_cast<char>(v >> (8 * i));
  }
  char* at_;
};

// Strings carry a 16-bit length, payloads (blobs) a 32-bit one.
class source : public byte_reader {
 public:
  using byte_reader::byte_reader;
  bool str(std::string& s) {
    std::uint16_t n = 0;
    return u16(n) && bytes(s, n);
  }
  bool blob(std::string& s) {
    std::uint32_t n = 0;
    return u32(n) && bytes(s, n);
  }
};

bool string_fits(const std::string& s) {
  return s.size() <= max_peer_string_bytes;
}

// A deadline or a service time.
bool valid_seconds(double v) {
  return std::isfinite(v) && v >= 0;
}

bool valid_status(int status) {
  return status >= 100 && status <= 999;
}

protocol_error check(const peer_call& c) {
  for (const auto* s :
       {&c.function, &c.path_rest, &c.query, &c.content_type, &c.call_id, &c.traceparent}) {
    if (!string_fits(*s)) return protocol_error::string_too_long;
  }
  if (c.headers.size() > max_peer_list_entries || c.path.size() > max_peer_list_entries) {
    return protocol_error::too_many_entries;
  }
  for (const auto& [name, value] : c.headers) {
    if (!string_fits(name) || !string_fits(value)) return protocol_error::string_too_long;
  }
  for (const auto& id : c.path) {
    if (!string_fits(id)) return protocol_error::string_too_long;
  }
  if (!valid_seconds(c.deadline_seconds) ||
      (c.kind != call_kind::function && c.kind != call_kind::admin)) {
    return protocol_error::bad_value;
  }
  return protocol_error::none;
}

protocol_error check(const peer_reply& r) {
  for (const auto* s : {&r.content_type, &r.outcome, &r.executed_on}) {
    if (!string_fits(*s)) return protocol_error::string_too_long;
  }
  for (const auto* list : {&r.total_seconds, &r.scheduling_seconds, &r.probing_seconds}) {
    if (list->size() > max_peer_list_entries) return protocol_error::too_many_entries;
    for (double v : *list) {
      if (!std::isfinite(v)) return protocol_error::bad_value;
    }
  }
  if (r.path.size() > max_peer_list_entries) return protocol_error::too_many_entries;
  for (const auto& id : r.path) {
    if (!string_fits(id)) return protocol_error::string_too_long;
  }
  if (!valid_status(r.status) || r.retry_after_seconds < 0 || !std::isfinite(r.execution_seconds)) {
    return protocol_error::bad_value;
  }
  return protocol_error::none;
}

// Appends a frame of `size` bytes: checks the size, writes the header, hands the sink to `body`
// for the fields, then appends `tail` (the payload or body, last in both layouts) whose u32
// length `body` wrote last. The tail is appended rather than written into resized memory, which
// would first fill it with zeros.
template <typename Body>
protocol_error append_frame(frame_type type, std::uint64_t id, std::size_t size,
                            std::size_t max_frame_bytes, std::string& out, const std::string& tail,
                            Body&& body) {
  if (size > max_frame_bytes || size - 4 > std::numeric_limits<std::uint32_t>::max()) {
    return protocol_error::frame_too_large;
  }
  const std::size_t start = out.size();
  out.reserve(start + size);
  out.resize(start + size - tail.size());
  sink w(out.data() + start);
  w.u32(static_cast<std::uint32_t>(size - 4));
  w.u8(peer_protocol_version);
  w.u8(static_cast<std::uint8_t>(type));
  w.u64(id);
  body(w);
  out.append(tail);
  return protocol_error::none;
}

bool valid_type(std::uint8_t t) {
  return t >= static_cast<std::uint8_t>(frame_type::call) &&
         t <= static_cast<std::uint8_t>(frame_type::admin_call);
}

// Reads a list count and checks it against the limit and against the bytes left, so a forged
// count cannot make us reserve much memory.
protocol_error list_count(source& r, std::size_t min_entry_bytes, std::uint16_t& n) {
  if (!r.u16(n)) return protocol_error::truncated;
  if (n > max_peer_list_entries) return protocol_error::too_many_entries;
  if (r.left() < n * min_entry_bytes) return protocol_error::truncated;
  return protocol_error::none;
}

protocol_error read_ids(source& r, std::vector<std::string>& out) {
  std::uint16_t n = 0;
  if (auto e = list_count(r, 2, n); e != protocol_error::none) return e;
  out.resize(n);
  for (auto& id : out) {
    if (!r.str(id)) return protocol_error::truncated;
  }
  return protocol_error::none;
}

protocol_error read_seconds(source& r, std::vector<double>& out) {
  std::uint16_t n = 0;
  if (auto e = list_count(r, 8, n); e != protocol_error::none) return e;
  out.resize(n);
  for (double& v : out) {
    if (!r.f64(v)) return protocol_error::truncated;
    if (!std::isfinite(v)) return protocol_error::bad_value;
  }
  return protocol_error::none;
}

std::string base64(std::span<const std::uint8_t> bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// Strict: EVP_DecodeBlock alone accepts non-canonical input, so the result must encode back to
// exactly the input.
std::optional<std::vector<std::uint8_t>> unbase64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::vector<std::uint8_t> out(text.size() / 4 * 3);
  int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  std::size_t padding = 0;
  while (padding < 2 && text[text.size() - 1 - padding] == '=') ++padding;
  out.resize(static_cast<std::size_t>(n) - padding);
  if (base64(out) != text) return std::nullopt;
  return out;
}

bool valid_node_id(std::string_view id) {
  if (id.empty() || id.size() > max_node_id_bytes) return false;
  for (unsigned char c : id) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

std::string_view to_string(protocol_error error) {
  switch (error) {
    case protocol_error::none:
      return "none";
    case protocol_error::truncated:
      return "truncated frame";
    case protocol_error::bad_version:
      return "unsupported protocol version";
    case protocol_error::bad_type:
      return "unknown frame type";
    case protocol_error::frame_too_large:
      return "frame over the size limit";
    case protocol_error::string_too_long:
      return "string over 64 KiB";
    case protocol_error::too_many_entries:
      return "list over 256 entries";
    case protocol_error::bad_value:
      return "value out of range";
    case protocol_error::trailing_bytes:
      return "trailing bytes in frame";
  }
  return "unknown";
}

std::size_t encoded_size(const peer_call& c) {
  std::size_t n = peer_frame_header_bytes + call_fixed_bytes + str_size(c.function) +
                  str_size(c.path_rest) + str_size(c.query) + str_size(c.content_type) +
                  str_size(c.call_id) + str_size(c.traceparent) + 2 + 2 + blob_size(c.payload);
  for (const auto& [name, value] : c.headers) n += str_size(name) + str_size(value);
  for (const auto& id : c.path) n += str_size(id);
  return n;
}

std::size_t encoded_size(const peer_reply& r) {
  std::size_t n =
      peer_frame_header_bytes + reply_fixed_bytes + str_size(r.content_type) + str_size(r.outcome) +
      str_size(r.executed_on) + 2 + 3 * 2 +
      8 * (r.total_seconds.size() + r.scheduling_seconds.size() + r.probing_seconds.size()) +
      blob_size(r.body);
  for (const auto& id : r.path) n += str_size(id);
  return n;
}

std::size_t encoded_size(const peer_load&) {
  return peer_frame_header_bytes + load_body_bytes;
}

protocol_error encode(std::uint64_t request_id, const peer_call& c, std::size_t max_frame_bytes,
                      std::string& out) {
  if (auto e = check(c); e != protocol_error::none) return e;
  const auto type = c.kind == call_kind::admin ? frame_type::admin_call : frame_type::call;
  return append_frame(type, request_id, encoded_size(c), max_frame_bytes, out, c.payload,
                      [&](sink& w) {
                        w.u32(c.timeout_ms);
                        w.f64(c.deadline_seconds);
                        w.str(c.function);
                        w.str(c.path_rest);
                        w.str(c.query);
                        w.str(c.content_type);
                        w.str(c.call_id);
                        w.str(c.traceparent);
                        w.u16(static_cast<std::uint16_t>(c.headers.size()));
                        for (const auto& [name, value] : c.headers) {
                          w.str(name);
                          w.str(value);
                        }
                        w.u16(static_cast<std::uint16_t>(c.path.size()));
                        for (const auto& id : c.path) w.str(id);
                        w.u32(static_cast<std::uint32_t>(c.payload.size()));
                      });
}

protocol_error encode(std::uint64_t request_id, const peer_reply& r, std::size_t max_frame_bytes,
                      std::string& out) {
  if (auto e = check(r); e != protocol_error::none) return e;
  return append_frame(
      frame_type::reply, request_id, encoded_size(r), max_frame_bytes, out, r.body, [&](sink& w) {
        w.u16(static_cast<std::uint16_t>(r.status));
        w.u8((r.executed ? flag_executed : 0) | (r.cold_start ? flag_cold_start : 0));
        w.u32(static_cast<std::uint32_t>(r.retry_after_seconds));
        w.f64(r.execution_seconds);
        w.str(r.content_type);
        w.str(r.outcome);
        w.str(r.executed_on);
        w.u16(static_cast<std::uint16_t>(r.path.size()));
        for (const auto& id : r.path) w.str(id);
        for (const auto* list : {&r.total_seconds, &r.scheduling_seconds, &r.probing_seconds}) {
          w.u16(static_cast<std::uint16_t>(list->size()));
          for (double v : *list) w.f64(v);
        }
        w.u32(static_cast<std::uint32_t>(r.body.size()));
      });
}

protocol_error encode(std::uint64_t request_id, const peer_load& l, std::size_t max_frame_bytes,
                      std::string& out) {
  if (!valid_seconds(l.recent_service_seconds)) return protocol_error::bad_value;
  return append_frame(frame_type::load_report, request_id, encoded_size(l), max_frame_bytes, out,
                      no_tail, [&](sink& w) {
                        w.u32(l.running);
                        w.u32(l.queued);
                        w.u32(l.slots);
                        w.u32(l.queue_capacity);
                        w.f64(l.recent_service_seconds);
                      });
}

void encode_cancel(std::uint64_t request_id, std::string& out) {
  append_frame(frame_type::cancel, request_id, peer_frame_header_bytes, peer_frame_header_bytes,
               out, no_tail, [](sink&) {});
}

void encode_load_query(std::uint64_t request_id, std::string& out) {
  append_frame(frame_type::load_query, request_id, peer_frame_header_bytes, peer_frame_header_bytes,
               out, no_tail, [](sink&) {});
}

protocol_error next_frame(std::span<const std::uint8_t>& message, std::size_t max_frame_bytes,
                          frame_view& out) {
  source r(message);
  std::uint32_t rest = 0;
  std::uint8_t version = 0, type = 0;
  if (!r.u32(rest)) return protocol_error::truncated;
  const std::size_t size = std::size_t{rest} + 4;
  if (size > max_frame_bytes) return protocol_error::frame_too_large;
  if (size < peer_frame_header_bytes || size > message.size()) return protocol_error::truncated;
  if (!r.u8(version)) return protocol_error::truncated;
  if (version != peer_protocol_version) return protocol_error::bad_version;
  if (!r.u8(type)) return protocol_error::truncated;
  if (!valid_type(type)) return protocol_error::bad_type;
  if (!r.u64(out.request_id)) return protocol_error::truncated;
  out.type = static_cast<frame_type>(type);
  out.body = message.subspan(peer_frame_header_bytes, size - peer_frame_header_bytes);
  out.size = size;
  if ((out.type == frame_type::cancel || out.type == frame_type::load_query) && !out.body.empty()) {
    return protocol_error::trailing_bytes;
  }
  message = message.subspan(size);
  return protocol_error::none;
}

protocol_error decode(std::span<const std::uint8_t> body, peer_call& c) {
  source r(body);
  if (!r.u32(c.timeout_ms) || !r.f64(c.deadline_seconds)) return protocol_error::truncated;
  if (!valid_seconds(c.deadline_seconds)) return protocol_error::bad_value;
  if (!r.str(c.function) || !r.str(c.path_rest) || !r.str(c.query) || !r.str(c.content_type) ||
      !r.str(c.call_id) || !r.str(c.traceparent)) {
    return protocol_error::truncated;
  }
  std::uint16_t n = 0;
  if (auto e = list_count(r, 4, n); e != protocol_error::none) return e;
  c.headers.resize(n);
  for (auto& [name, value] : c.headers) {
    if (!r.str(name) || !r.str(value)) return protocol_error::truncated;
  }
  if (auto e = read_ids(r, c.path); e != protocol_error::none) return e;
  if (!r.blob(c.payload)) return protocol_error::truncated;
  return r.left() == 0 ? protocol_error::none : protocol_error::trailing_bytes;
}

protocol_error decode(std::span<const std::uint8_t> body, peer_reply& out) {
  source r(body);
  std::uint16_t status = 0;
  std::uint8_t flags = 0;
  std::uint32_t retry_after = 0;
  if (!r.u16(status) || !r.u8(flags) || !r.u32(retry_after) || !r.f64(out.execution_seconds)) {
    return protocol_error::truncated;
  }
  if (!valid_status(status) || (flags & ~known_flags) != 0 ||
      retry_after > static_cast<std::uint32_t>(std::numeric_limits<int>::max()) ||
      !std::isfinite(out.execution_seconds)) {
    return protocol_error::bad_value;
  }
  out.status = status;
  out.executed = (flags & flag_executed) != 0;
  out.cold_start = (flags & flag_cold_start) != 0;
  out.retry_after_seconds = static_cast<int>(retry_after);
  if (!r.str(out.content_type) || !r.str(out.outcome) || !r.str(out.executed_on)) {
    return protocol_error::truncated;
  }
  if (auto e = read_ids(r, out.path); e != protocol_error::none) return e;
  for (auto* list : {&out.total_seconds, &out.scheduling_seconds, &out.probing_seconds}) {
    if (auto e = read_seconds(r, *list); e != protocol_error::none) return e;
  }
  if (!r.blob(out.body)) return protocol_error::truncated;
  return r.left() == 0 ? protocol_error::none : protocol_error::trailing_bytes;
}

protocol_error decode(std::span<const std::uint8_t> body, peer_load& out) {
  source r(body);
  if (!r.u32(out.running) || !r.u32(out.queued) || !r.u32(out.slots) ||
      !r.u32(out.queue_capacity) || !r.f64(out.recent_service_seconds)) {
    return protocol_error::truncated;
  }
  if (!valid_seconds(out.recent_service_seconds)) return protocol_error::bad_value;
  return r.left() == 0 ? protocol_error::none : protocol_error::trailing_bytes;
}

std::string& frame_queue::buffer(std::size_t frame_bytes) {
  if (batches_.empty() ||
      (!batches_.back().empty() && batches_.back().size() + frame_bytes > batch_bytes_)) {
    if (spare_.empty()) {
      batches_.emplace_back();
    } else {
      batches_.push_back(std::move(spare_.back()));
      spare_.pop_back();
    }
  }
  return batches_.back();
}

bool frame_queue::empty() const {
  return batches_.empty() || batches_.front().empty();
}

void frame_queue::take(std::string& message) {
  message.clear();
  if (empty()) return;
  message.swap(batches_.front());
  // A few spare buffers cover a burst; one that grew past the keep size is let go.
  if (spare_.size() < 4 && batches_.front().capacity() <= peer_buffer_keep_bytes) {
    spare_.push_back(std::move(batches_.front()));
  }
  batches_.pop_front();
}

void frame_queue::clear() {
  batches_.clear();
  spare_.clear();
}

std::string make_peer_token(const key_ring& keys, std::string_view node_id, wall_time now,
                            const random_source& random) {
  auto sealed =
      seal(keys, std::span(reinterpret_cast<const std::uint8_t*>(node_id.data()), node_id.size()),
           now, random, peer_upgrade_label);
  std::string value(peer_auth_scheme);
  value += ' ';
  value += base64(sealed);
  return value;
}

std::optional<std::string> open_peer_token(opener& keys, std::string_view value, wall_time now,
                                           std::string& problem) {
  if (value.empty()) {
    problem = "no P2pfaas-Peer credentials";
    return std::nullopt;
  }
  if (value.size() <= peer_auth_scheme.size() ||
      value.substr(0, peer_auth_scheme.size()) != peer_auth_scheme ||
      value[peer_auth_scheme.size()] != ' ') {
    problem = "credentials are not of the P2pfaas-Peer scheme";
    return std::nullopt;
  }
  value.remove_prefix(peer_auth_scheme.size() + 1);
  // Far more than a sealed 255-byte node id needs; bounds the work an unauthenticated client
  // can ask for.
  if (value.size() > 1024) {
    problem = "credentials too long";
    return std::nullopt;
  }
  auto sealed = unbase64(value);
  if (!sealed) {
    problem = "credentials are not canonical base64";
    return std::nullopt;
  }
  auto opened = keys.open(*sealed, now);
  if (!opened.ok()) {
    problem = opened.error == open_error::bad_tag
                  ? "credentials not sealed with our cluster key"
                  : "credentials refused: " + std::string(to_string(opened.error));
    return std::nullopt;
  }
  std::string id(opened.payload.begin(), opened.payload.end());
  if (!valid_node_id(id)) {
    problem = "the sealed node id is not a valid node id";
    return std::nullopt;
  }
  return id;
}

}  // namespace p2pfaas::net
