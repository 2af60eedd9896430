#pragma once
// Prometheus text exposition format (version 0.0.4) writer for the /metrics endpoint.
// Usage: one family per metric name; HELP/TYPE are written once, before the family's samples.
//   PrometheusWriter w;
//   w.family("sharpeyes_camera_fps", "Frames per second received", MetricType::kGauge);
//   w.sample("sharpeyes_camera_fps", {{"camera", "cam-1"}}, 25.0);
//   return HttpResponse::text(200, w.str(), PrometheusWriter::kContentType);
// Not thread-safe: build one per scrape.

#include <cstdint>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sharpeyes::api {

enum class MetricType { kCounter, kGauge, kUntyped };

class PrometheusWriter {
 public:
  static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";
  using Labels = std::vector<std::pair<std::string, std::string>>;

  // Writes "# HELP" and "# TYPE" (once per name; later calls for the same name are ignored).
  void family(std::string_view name, std::string_view help, MetricType type);
  // "name{k="v",...} value". Label values are escaped (\\, \", \n); NaN/Inf are written as
  // Prometheus spells them.
  void sample(std::string_view name, const Labels& labels, double value);
  void sample(std::string_view name, double value) { sample(name, {}, value); }

  const std::string& str() const { return out_; }

  // True for [a-zA-Z_:][a-zA-Z0-9_:]*, the metric-name grammar.
  static bool validName(std::string_view name);
  static std::string escapeLabelValue(std::string_view v);

 private:
  std::string out_;
  std::set<std::string, std::less<>> declared_;
};

}  // namespace sharpeyes::api
