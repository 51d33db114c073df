#include "workloads/builtins.hpp"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include "config/json_input.hpp"

namespace p2pfaas::workloads {
namespace {

using clock = std::chrono::steady_clock;
using json = nlohmann::json;

constexpr double max_sleep_ms = 600000;
constexpr std::int64_t max_compute_n = 100000000;
constexpr std::int64_t max_io_kb = 1048576;

// A request the function refuses or cannot finish; turned into an error answer by `guarded`.
class request_error : public std::runtime_error {
 public:
  request_error(int status, std::string code, const std::string& message)
      : std::runtime_error(message), status_(status), code_(std::move(code)) {}
  int status() const { return status_; }
  const std::string& code() const { return code_; }

 private:
  int status_;
  std::string code_;
};

[[noreturn]] void bad_parameter(std::string_view name, std::string_view problem) {
  throw request_error(400, "bad_parameter", std::string(name) + ": " + std::string(problem));
}

[[noreturn]] void cancelled(std::string_view function, clock::time_point start) {
  const auto ms = std::chrono::duration<double, std::milli>(clock::now() - start).count();
  throw request_error(503, "cancelled",
                      std::string(function) + ": stopped after " + std::to_string(ms) + " ms");
}

double ms_since(clock::time_point start) {
  return std::chrono::duration<double, std::milli>(clock::now() - start).count();
}

function_result json_result(const json& body) {
  return {200, body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json"};
}

// Quotes client input in a message without letting a huge value blow up the answer.
std::string quoted(std::string_view value) {
  constexpr std::size_t shown = 40;
  if (value.size() <= shown) return "\"" + std::string(value) + "\"";
  return "\"" + std::string(value.substr(0, shown)) + "...\"";
}

std::string ascii_lower(std::string_view text) {
  std::string lowered(text);
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lowered;
}

bool is_json_content_type(std::string_view content_type) {
  auto media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && std::isspace(static_cast<unsigned char>(media.back())))
    media.remove_suffix(1);
  while (!media.empty() && std::isspace(static_cast<unsigned char>(media.front())))
    media.remove_prefix(1);
  const auto lowered = ascii_lower(media);
  return lowered == "application/json" ||
         (lowered.size() > 5 && lowered.ends_with("+json") && lowered.starts_with("application/"));
}

// Parameters of one call: the query string first, then the members of a JSON-object body.
class parameters {
 public:
  explicit parameters(const invocation& call) : call_(call) {
    const auto first = call.payload.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return;  // an empty body declares nothing, whatever its type
    const bool declared_json = is_json_content_type(call.content_type);
    // Only a body that may be an object is parsed: other payloads (large binary bodies for
    // verify or echo) are not worth a parse attempt.
    if (!declared_json && call.payload[first] != '{') return;
    std::string error;
    auto parsed = config::parse_json_input(call.payload, error);
    if (!parsed) {
      // Undeclared, a body that does not parse (or nests too deep) is just payload.
      if (declared_json)
        throw request_error(400, "bad_json", "body: Content-Type is JSON but the body is " + error);
      return;
    }
    if (parsed->is_object()) body_ = std::move(*parsed);
  }

  const json* body_object() const { return body_.is_object() ? &body_ : nullptr; }

  bool in_query(std::string_view name) const { return query_value(name) != nullptr; }

  std::optional<std::string> text(std::string_view name) const {
    if (const auto* value = query_value(name)) return *value;
    const auto* member = body_member(name);
    if (member == nullptr) return std::nullopt;
    if (!member->is_string()) bad_parameter(name, "must be a string");
    return member->get<std::string>();
  }

  std::optional<std::int64_t> integer(std::string_view name, std::int64_t low,
                                      std::int64_t high) const {
    std::int64_t value = 0;
    if (const auto* raw = query_value(name)) {
      value = parse_integer(name, *raw, low, high);
    } else if (const auto* member = body_member(name)) {
      if (member->is_string()) {
        value = parse_integer(name, member->get_ref<const std::string&>(), low, high);
      } else if (member->is_number_unsigned()) {
        const auto unsigned_value = member->get<std::uint64_t>();
        if (unsigned_value > static_cast<std::uint64_t>(high))
          out_of_range(name, low, high, *member);
        value = static_cast<std::int64_t>(unsigned_value);
      } else if (member->is_number_integer()) {
        value = member->get<std::int64_t>();
      } else if (member->is_number_float()) {
        const double number = member->get<double>();
        if (!std::isfinite(number) || std::trunc(number) != number)
          bad_parameter(name, "must be an integer (got " + config::describe_json(*member) + ")");
        if (number < static_cast<double>(low) || number > static_cast<double>(high))
          out_of_range(name, low, high, *member);
        value = static_cast<std::int64_t>(number);
      } else {
        bad_parameter(name, "must be an integer (got " + config::describe_json(*member) + ")");
      }
    } else {
      return std::nullopt;
    }
    if (value < low || value > high) out_of_range(name, low, high, value);
    return value;
  }

  std::optional<double> number(std::string_view name, double low, double high) const {
    double value = 0;
    if (const auto* raw = query_value(name)) {
      value = parse_number(name, *raw);
    } else if (const auto* member = body_member(name)) {
      if (member->is_string()) {
        value = parse_number(name, member->get_ref<const std::string&>());
      } else if (member->is_number()) {
        value = member->get<double>();
      } else {
        bad_parameter(name, "must be a number (got " + config::describe_json(*member) + ")");
      }
    } else {
      return std::nullopt;
    }
    if (!(value >= low && value <= high)) out_of_range(name, low, high, value);
    return value;
  }

 private:
  const std::string* query_value(std::string_view name) const {
    for (const auto& [key, value] : call_.query)
      if (key == name) return &value;
    return nullptr;
  }

  const json* body_member(std::string_view name) const {
    if (!body_.is_object()) return nullptr;
    const auto it = body_.find(name);
    return it == body_.end() ? nullptr : &*it;
  }

  template <typename Bound, typename Value>
  [[noreturn]] static void out_of_range(std::string_view name, Bound low, Bound high,
                                        const Value& got) {
    std::string shown;
    if constexpr (std::is_same_v<Value, json>) {
      shown = config::describe_json(got);
    } else {
      shown = json(got).dump();
    }
    bad_parameter(name, "must be between " + json(low).dump() + " and " + json(high).dump() +
                            " (got " + shown + ")");
  }

  static std::int64_t parse_integer(std::string_view name, std::string_view raw, std::int64_t low,
                                    std::int64_t high) {
    std::int64_t value = 0;
    const auto [end, error] = std::from_chars(raw.data(), raw.data() + raw.size(), value);
    if (error == std::errc::result_out_of_range)
      bad_parameter(name, "must be between " + std::to_string(low) + " and " +
                              std::to_string(high) + " (got " + quoted(raw) + ")");
    if (error != std::errc() || end != raw.data() + raw.size())
      bad_parameter(name, "must be an integer (got " + quoted(raw) + ")");
    return value;
  }

  static double parse_number(std::string_view name, std::string_view raw) {
    double value = 0;
    const auto [end, error] = std::from_chars(raw.data(), raw.data() + raw.size(), value);
    if (error != std::errc() || end != raw.data() + raw.size() || !std::isfinite(value))
      bad_parameter(name, "must be a number (got " + quoted(raw) + ")");
    return value;
  }

  const invocation& call_;
  json body_;
};

// Request errors become answers here; anything else is a real failure and is left to the
// executor, which reports it as 500 function_failed.
template <typename Body>
function_body guarded(Body body) {
  return [body = std::move(body)](const invocation& call, function_context& ctx) {
    try {
      return body(call, ctx);
    } catch (const request_error& error) {
      return error_result(error.status(), error.code(), error.what());
    }
  };
}

function_result echo_body(const invocation& call, function_context&) {
  return {200, call.payload,
          call.content_type.empty() ? std::string("application/octet-stream") : call.content_type};
}

// Each body's parameters are read by a function of their own, which check_builtin_parameters
// calls without doing the work.

struct sleep_parameters {
  std::optional<double> fixed, mean;  // exactly one of them
};

sleep_parameters read_sleep(const invocation& call) {
  const parameters params(call);
  const auto fixed = params.number("ms", 0, max_sleep_ms);
  const auto mean = params.number("mean_ms", 0, max_sleep_ms);
  if (fixed && mean) bad_parameter("ms", "give either ms or mean_ms, not both");
  if (!fixed && !mean) bad_parameter("ms", "missing (give ms or mean_ms)");
  if (mean && *mean <= 0) bad_parameter("mean_ms", "must be > 0");
  return {fixed, mean};
}

function_result sleep_body(const invocation& call, function_context& ctx) {
  const auto start = clock::now();
  const auto [fixed, mean] = read_sleep(call);

  double requested_ms = 0;
  if (fixed) {
    requested_ms = *fixed;
  } else {
    std::exponential_distribution<double> draw(1.0 / *mean);
    requested_ms = std::min(draw(ctx.rng), max_sleep_ms);
  }
  const auto wait_start = clock::now();
  const auto duration = std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double, std::milli>(requested_ms));
  if (!interruptible_sleep(ctx.stop, duration)) cancelled("sleep", start);
  return json_result({{"function", "sleep"},
                      {"requested_ms", requested_ms},
                      {"slept_ms", ms_since(wait_start)},
                      {"duration_ms", ms_since(start)}});
}

bool is_prime(std::int64_t k) {
  if (k < 2) return false;
  if (k % 2 == 0) return k == 2;
  for (std::int64_t d = 3; d * d <= k; d += 2)
    if (k % d == 0) return false;
  return true;
}

std::int64_t read_compute(const invocation& call) {
  const auto n = parameters(call).integer("n", 1, max_compute_n);
  if (!n) bad_parameter("n", "missing");
  return *n;
}

function_result compute_body(const invocation& call, function_context& ctx) {
  const auto start = clock::now();
  const std::int64_t n = read_compute(call);
  std::int64_t primes = 0;
  for (std::int64_t k = 2; k < n; ++k) {
    // Often enough to stop within milliseconds even where each k costs ~10^4 divisions.
    if (k % 1024 == 0 && ctx.stop.stop_requested()) cancelled("compute", start);
    if (is_prime(k)) ++primes;
  }
  return json_result({{"function", "compute"},
                      {"n", n},
                      {"primes_below_n", primes},
                      {"duration_ms", ms_since(start)}});
}

[[noreturn]] void io_failed(std::string_view what, int error_number) {
  throw request_error(
      500, "io_failed",
      "io: " + std::string(what) + ": " + std::generic_category().message(error_number));
}

// Closes and deletes the temp file on every way out, errors and cancellation included.
class temp_file {
 public:
  explicit temp_file(std::filesystem::path path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd_ < 0) io_failed("cannot create " + path_.string(), errno);
  }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
  ~temp_file() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  int fd() const { return fd_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

// Each chunk carries its index so a block read back from the wrong offset does not compare
// equal.
void stamp_chunk(std::vector<unsigned char>& chunk, std::uint64_t index) {
  std::memcpy(chunk.data(), &index, sizeof index);
}

// Walks `total` bytes in chunks of the pattern's size: stamps the pattern with each chunk's index
// and hands the chunk's offset and length to `transfer`; stops if the call is stopped.
template <class Transfer>
void for_each_chunk(std::uint64_t total, std::vector<unsigned char>& pattern,
                    const function_context& ctx, clock::time_point start, Transfer transfer) {
  const std::size_t chunk_size = pattern.size();
  for (std::uint64_t offset = 0, index = 0; offset < total; offset += chunk_size, ++index) {
    if (ctx.stop.stop_requested()) cancelled("io", start);
    stamp_chunk(pattern, index);
    transfer(offset, static_cast<std::size_t>(std::min<std::uint64_t>(chunk_size, total - offset)));
  }
}

std::int64_t read_io(const invocation& call) {
  const auto kb = parameters(call).integer("kb", 1, max_io_kb);
  if (!kb) bad_parameter("kb", "missing");
  return *kb;
}

function_result io_body(const invocation& call, function_context& ctx) {
  const auto start = clock::now();
  const std::int64_t kb = read_io(call);

  // Without a configured data dir the system temp dir keeps the file off the working directory.
  const auto base =
      ctx.data_dir.empty() ? std::filesystem::temp_directory_path() / "p2pfaas" : ctx.data_dir;
  const auto dir = base / "tmp";
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) io_failed("cannot create " + dir.string(), error.value());

  static std::atomic<std::uint64_t> sequence{0};
  const auto name = "io-" + std::to_string(::getpid()) + "-" + std::to_string(sequence++) + "-" +
                    std::to_string(ctx.rng() % 1000000007) + ".tmp";
  temp_file file(dir / name);

  constexpr std::size_t chunk_size = 64 * 1024;
  const std::uint64_t total = static_cast<std::uint64_t>(kb) * 1024;
  std::vector<unsigned char> pattern(chunk_size);
  for (std::size_t i = 0; i < chunk_size; i += sizeof(std::uint64_t)) {
    const std::uint64_t word = ctx.rng();
    std::memcpy(pattern.data() + i, &word, sizeof word);
  }

  const auto write_start = clock::now();
  for_each_chunk(total, pattern, ctx, start, [&](std::uint64_t offset, std::size_t length) {
    for (std::size_t done = 0; done < length;) {
      const auto written = ::pwrite(file.fd(), pattern.data() + done, length - done,
                                    static_cast<off_t>(offset + done));
      if (written < 0 && errno == EINTR) continue;
      if (written <= 0) io_failed("write failed", written < 0 ? errno : EIO);
      done += static_cast<std::size_t>(written);
    }
  });
  if (::fsync(file.fd()) != 0) io_failed("fsync failed", errno);
  const double write_ms = ms_since(write_start);
  // Best effort: evicting the cached pages makes the read-back measure storage, not RAM.
  ::posix_fadvise(file.fd(), 0, 0, POSIX_FADV_DONTNEED);

  const auto read_start = clock::now();
  std::vector<unsigned char> buffer(chunk_size);
  for_each_chunk(total, pattern, ctx, start, [&](std::uint64_t offset, std::size_t length) {
    for (std::size_t done = 0; done < length;) {
      const auto got = ::pread(file.fd(), buffer.data() + done, length - done,
                               static_cast<off_t>(offset + done));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) io_failed("read failed", errno);
      if (got == 0)
        throw request_error(500, "io_failed",
                            "io: file shorter than written at " + std::to_string(offset + done));
      done += static_cast<std::size_t>(got);
    }
    if (std::memcmp(buffer.data(), pattern.data(), length) != 0)
      throw request_error(
          500, "io_failed",
          "io: read-back differs from what was written at offset " + std::to_string(offset));
  });
  const double read_ms = ms_since(read_start);
  return json_result({{"function", "io"},
                      {"kb", kb},
                      {"write_ms", write_ms},
                      {"read_ms", read_ms},
                      {"duration_ms", ms_since(start)}});
}

std::int64_t read_memory(const invocation& call, int memory_limit_mb) {
  // The upper bound only keeps mb * 2^20 from overflowing; the real bound is the limit below.
  const auto mb = parameters(call).integer("mb", 1, std::int64_t{1} << 30);
  if (!mb) bad_parameter("mb", "missing");
  if (*mb > memory_limit_mb)
    bad_parameter("mb", "exceeds the memory limit of " + std::to_string(memory_limit_mb) +
                            " MiB (got " + std::to_string(*mb) + ")");
  return *mb;
}

function_result memory_body(const invocation& call, function_context& ctx) {
  const auto start = clock::now();
  const std::int64_t mb = read_memory(call, ctx.memory_limit_mb);

  const auto bytes = static_cast<std::size_t>(mb) << 20;
  // Held until the block is freed (declared first, destroyed last): what every slot holds at
  // once stays under the node's budget, not only what one call holds.
  config::byte_budget::reservation reserved;
  if (ctx.memory_budget) {
    reserved = ctx.memory_budget->try_reserve(bytes);
    if (!reserved) {
      throw request_error(429, "memory_budget",
                          "memory: " + std::to_string(mb) +
                              " MiB does not fit in what is left of the node's "
                              "executor.memory_budget_mb (" +
                              std::to_string(ctx.memory_budget->limit() >> 20) + " MiB, " +
                              std::to_string(ctx.memory_budget->held() >> 20) +
                              " MiB held); retry later");
    }
  }
  std::unique_ptr<unsigned char[]> block(new (std::nothrow) unsigned char[bytes]);
  if (!block)
    throw request_error(500, "out_of_memory",
                        "memory: cannot allocate " + std::to_string(mb) + " MiB");

  const auto page = static_cast<std::size_t>(std::max(::sysconf(_SC_PAGESIZE), 1L));
  // Volatile accesses keep the compiler from eliding the allocation or the page touches, which
  // are the point of this workload.
  volatile unsigned char* pages = block.get();
  std::uint64_t index = 0;
  for (std::size_t offset = 0; offset < bytes; offset += page, ++index) {
    if (index % 4096 == 0 && ctx.stop.stop_requested()) cancelled("memory", start);
    pages[offset] = static_cast<unsigned char>((index * 0x9E3779B97F4A7C15ULL) >> 56);
  }
  // FNV-1a over the touched bytes: deterministic for a given size, so callers can check it.
  std::uint64_t checksum = 0xcbf29ce484222325ULL;
  for (std::size_t offset = 0; offset < bytes; offset += page) {
    checksum ^= pages[offset];
    checksum *= 0x100000001b3ULL;
  }
  return json_result({{"function", "memory"},
                      {"mb", mb},
                      {"checksum", checksum},
                      {"duration_ms", ms_since(start)}});
}

std::optional<std::vector<unsigned char>> decode_hex(std::string_view hex) {
  if (hex.empty() || hex.size() % 2 != 0) return std::nullopt;
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<unsigned char> bytes(hex.size() / 2);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const int high = nibble(hex[2 * i]);
    const int low = nibble(hex[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    bytes[i] = static_cast<unsigned char>(high * 16 + low);
  }
  return bytes;
}

struct verify_parameters {
  bool query_form = false;   // the raw body is what was signed
  std::string json_payload;  // otherwise: the body's "payload"
  std::string key;
  std::vector<unsigned char> signature;
};

verify_parameters read_verify(const invocation& call) {
  const parameters params(call);
  verify_parameters out;
  // A key in the query selects the query form, where the raw body is what was signed; otherwise
  // the body is {"payload","key","signature"}.
  out.query_form = params.in_query("key");
  if (!out.query_form) {
    const auto* body = params.body_object();
    if (body == nullptr) bad_parameter("key", "missing");
    const auto member = body->find("payload");
    if (member == body->end()) bad_parameter("payload", "missing");
    if (!member->is_string()) bad_parameter("payload", "must be a string");
    out.json_payload = member->get<std::string>();
  }
  auto key = params.text("key");
  if (!key) bad_parameter("key", "missing");
  if (key->size() > static_cast<std::size_t>(INT_MAX)) bad_parameter("key", "too long");
  out.key = std::move(*key);
  const auto signature_text = params.text("signature");
  if (!signature_text) bad_parameter("signature", "missing");
  auto signature = decode_hex(*signature_text);
  if (!signature) bad_parameter("signature", "must be a non-empty even-length hex string");
  out.signature = std::move(*signature);
  return out;
}

function_result verify_body(const invocation& call, function_context&) {
  const auto start = clock::now();
  const verify_parameters read = read_verify(call);
  const std::string& payload = read.query_form ? call.payload : read.json_payload;

  std::array<unsigned char, EVP_MAX_MD_SIZE> computed{};
  unsigned int computed_size = 0;
  if (HMAC(EVP_sha256(), read.key.data(), static_cast<int>(read.key.size()),
           reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), computed.data(),
           &computed_size) == nullptr)
    throw std::runtime_error("verify: HMAC-SHA256 failed");
  // The length of a signature is not secret; its bytes are compared in constant time. The
  // expected signature is never returned: that would sign any payload for any caller.
  const bool valid = read.signature.size() == computed_size &&
                     CRYPTO_memcmp(read.signature.data(), computed.data(), computed_size) == 0;
  return json_result({{"function", "verify"},
                      {"valid", valid},
                      {"bytes", payload.size()},
                      {"duration_ms", ms_since(start)}});
}

}  // namespace

std::optional<function_result> check_builtin_parameters(const invocation& call,
                                                        int memory_limit_mb) {
  try {
    if (call.function == "sleep") {
      read_sleep(call);
    } else if (call.function == "compute") {
      read_compute(call);
    } else if (call.function == "io") {
      read_io(call);
    } else if (call.function == "memory") {
      read_memory(call, memory_limit_mb);
    } else if (call.function == "verify") {
      read_verify(call);
    }
    return std::nullopt;
  } catch (const request_error& error) {
    return error_result(error.status(), error.code(), error.what());
  }
}

void register_builtin_functions(function_registry& registry) {
  registry.add("echo", echo_body);
  registry.add("sleep", guarded(sleep_body));
  registry.add("compute", guarded(compute_body));
  registry.add("io", guarded(io_body));
  registry.add("memory", guarded(memory_body));
  registry.add("verify", guarded(verify_body));
}

}  // namespace p2pfaas::workloads
