#pragma once

#include <atomic>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace p2pfaas::node {

using label_values = std::initializer_list<std::string_view>;

// Orders label-value lists and lets a lookup use string_views, so that updating an existing
// series allocates nothing.
struct labels_less {
  using is_transparent = void;
  static bool less(std::span<const std::string> a, std::span<const std::string_view> b);
  static bool less(std::span<const std::string_view> a, std::span<const std::string> b);
  bool operator()(const std::vector<std::string>& a, const std::vector<std::string>& b) const {
    return a < b;
  }
  bool operator()(const std::vector<std::string>& a, label_values b) const {
    return less(a, std::span<const std::string_view>(b.begin(), b.size()));
  }
  bool operator()(label_values a, const std::vector<std::string>& b) const {
    return less(std::span<const std::string_view>(a.begin(), a.size()), b);
  }
};

// A minimal Prometheus registry (no packaged C++ client exists in Debian 12): counters and
// histograms with labels, and gauges read at scrape time. Families are created at start-up;
// updates take one short lock.
class counter_family {
 public:
  counter_family(std::string name, std::string help, std::vector<std::string> labels);
  void add(label_values labels, double amount = 1);
  double value(label_values labels) const;
  void render(std::string& out) const;

 private:
  std::string name_, help_;
  std::vector<std::string> labels_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, double, labels_less> values_;
};

class histogram_family {
 public:
  histogram_family(std::string name, std::string help, std::vector<std::string> labels,
                   std::vector<double> bounds);
  void observe(label_values labels, double value);
  void render(std::string& out) const;

 private:
  struct cells {
    std::vector<std::uint64_t> buckets;  // not cumulative; summed when rendered
    std::uint64_t count = 0;
    double sum = 0;
  };
  std::string name_, help_;
  std::vector<std::string> labels_;
  std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, cells, labels_less> values_;
};

// A gauge or counter whose samples are computed when scraped (load, process stats...).
struct sample {
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};
using sampler = std::function<std::vector<sample>()>;

class registry {
 public:
  counter_family& counter(std::string name, std::string help, std::vector<std::string> labels);
  histogram_family& histogram(std::string name, std::string help, std::vector<std::string> labels,
                              std::vector<double> bounds);
  // type is "gauge" or "counter".
  void computed(std::string name, std::string type, std::string help, sampler read);

  std::string render() const;

 private:
  struct computed_family {
    std::string name, type, help;
    sampler read;
  };
  std::vector<std::unique_ptr<counter_family>> counters_;
  std::vector<std::unique_ptr<histogram_family>> histograms_;
  std::vector<computed_family> computed_;
};

std::string format_sample_value(double value);
std::string escape_label_value(const std::string& value);

}  // namespace p2pfaas::node
