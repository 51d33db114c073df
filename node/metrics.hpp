#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace p2pfaas::node {

// A minimal Prometheus registry (no packaged C++ client exists in Debian 12): counters and
// histograms with labels, and gauges read at scrape time. Families are created at start-up;
// updates take one short lock.
class counter_family {
 public:
  counter_family(std::string name, std::string help, std::vector<std::string> labels);
  void add(const std::vector<std::string>& label_values, double amount = 1);
  double value(const std::vector<std::string>& label_values) const;
  void render(std::string& out) const;

 private:
  std::string name_, help_;
  std::vector<std::string> labels_;
  mutable std::mutex mutex_;
  std::map<std::vector<std::string>, double> values_;
};

class histogram_family {
 public:
  histogram_family(std::string name, std::string help, std::vector<std::string> labels,
                   std::vector<double> bounds);
  void observe(const std::vector<std::string>& label_values, double value);
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
  std::map<std::vector<std::string>, cells> values_;
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
