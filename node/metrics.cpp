#include "node/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace p2pfaas::node {

std::string format_sample_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

std::string escape_label_value(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

bool labels_less::less(std::span<const std::string> a, std::span<const std::string_view> b) {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                      std::less<std::string_view>{});
}

bool labels_less::less(std::span<const std::string_view> a, std::span<const std::string> b) {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                      std::less<std::string_view>{});
}

namespace {

// Finds the series of these label values, creating it on first use (the only allocation).
template <class Map>
typename Map::mapped_type& series(Map& values, label_values labels) {
  auto it = values.find(labels);
  if (it == values.end()) {
    it = values
             .emplace(std::vector<std::string>(labels.begin(), labels.end()),
                      typename Map::mapped_type{})
             .first;
  }
  return it->second;
}

void header(std::string& out, const std::string& name, const std::string& type,
            const std::string& help) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

std::string label_text(const std::vector<std::string>& names,
                       const std::vector<std::string>& values, const std::string& extra = {}) {
  std::string text;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (!text.empty()) text += ',';
    text += names[i] + "=\"" + escape_label_value(values[i]) + "\"";
  }
  if (!extra.empty()) text += (text.empty() ? "" : ",") + extra;
  return text.empty() ? "" : "{" + text + "}";
}

}  // namespace

counter_family::counter_family(std::string name, std::string help, std::vector<std::string> labels)
    : name_(std::move(name)), help_(std::move(help)), labels_(std::move(labels)) {}

void counter_family::add(label_values labels, double amount) {
  std::lock_guard lock(mutex_);
  series(values_, labels) += amount;
}

double counter_family::value(label_values labels) const {
  std::lock_guard lock(mutex_);
  auto it = values_.find(labels);
  return it == values_.end() ? 0 : it->second;
}

void counter_family::render(std::string& out) const {
  header(out, name_, "counter", help_);
  std::lock_guard lock(mutex_);
  for (const auto& [labels, value] : values_) {
    out += name_ + label_text(labels_, labels) + " " + format_sample_value(value) + "\n";
  }
}

histogram_family::histogram_family(std::string name, std::string help,
                                   std::vector<std::string> labels, std::vector<double> bounds)
    : name_(std::move(name)),
      help_(std::move(help)),
      labels_(std::move(labels)),
      bounds_(std::move(bounds)) {}

void histogram_family::observe(label_values labels, double value) {
  std::lock_guard lock(mutex_);
  cells& c = series(values_, labels);
  if (c.buckets.empty()) c.buckets.assign(bounds_.size(), 0);
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    if (value <= bounds_[i]) {
      ++c.buckets[i];
      break;
    }
  }
  ++c.count;
  c.sum += value;
}

void histogram_family::render(std::string& out) const {
  header(out, name_, "histogram", help_);
  std::lock_guard lock(mutex_);
  for (const auto& [labels, c] : values_) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
      cumulative += c.buckets[i];
      out += name_ + "_bucket" +
             label_text(labels_, labels, "le=\"" + format_sample_value(bounds_[i]) + "\"") + " " +
             std::to_string(cumulative) + "\n";
    }
    out += name_ + "_bucket" + label_text(labels_, labels, "le=\"+Inf\"") + " " +
           std::to_string(c.count) + "\n";
    out += name_ + "_sum" + label_text(labels_, labels) + " " + format_sample_value(c.sum) + "\n";
    out += name_ + "_count" + label_text(labels_, labels) + " " + std::to_string(c.count) + "\n";
  }
}

counter_family& registry::counter(std::string name, std::string help,
                                  std::vector<std::string> labels) {
  counters_.push_back(
      std::make_unique<counter_family>(std::move(name), std::move(help), std::move(labels)));
  return *counters_.back();
}

histogram_family& registry::histogram(std::string name, std::string help,
                                      std::vector<std::string> labels, std::vector<double> bounds) {
  histograms_.push_back(std::make_unique<histogram_family>(std::move(name), std::move(help),
                                                           std::move(labels), std::move(bounds)));
  return *histograms_.back();
}

void registry::computed(std::string name, std::string type, std::string help, sampler read) {
  computed_.push_back({std::move(name), std::move(type), std::move(help), std::move(read)});
}

std::string registry::render() const {
  std::string out;
  out.reserve(8192);
  for (const auto& c : counters_) c->render(out);
  for (const auto& h : histograms_) h->render(out);
  for (const auto& family : computed_) {
    header(out, family.name, family.type, family.help);
    for (const sample& s : family.read()) {
      std::string labels;
      for (const auto& [k, v] : s.labels) {
        labels += (labels.empty() ? "" : ",") + k + "=\"" + escape_label_value(v) + "\"";
      }
      out += family.name + (labels.empty() ? "" : "{" + labels + "}") + " " +
             format_sample_value(s.value) + "\n";
    }
  }
  return out;
}

}  // namespace p2pfaas::node
