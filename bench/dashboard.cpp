#include "bench/dashboard.hpp"

#include <string_view>

namespace p2pfaas::bench {

// Chart.js (third_party/chartjs), embedded at build time by bench/embed_script.cmake, which also
// makes sure it holds neither "</script" nor "<!--".
extern const std::string_view chartjs_source;

namespace {

using json = nlohmann::json;

constexpr std::string_view page_head = R"page(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>p2pfaas-bench dashboard</title>
<style>
:root { --fg: #1f2933; --muted: #616e7c; --bg: #f3f4f6; --card: #ffffff; --line: #e4e7eb; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 28px 40px; background: var(--bg); color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
header { margin-bottom: 18px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 15px; margin: 0 0 10px; }
header p { margin: 2px 0; }
.muted { color: var(--muted); }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(540px, 1fr)); gap: 16px; }
.grid.small { grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 14px 16px; box-shadow: 0 1px 2px rgba(0, 0, 0, 0.04); min-width: 0; }
.card h3 { font-size: 13px; font-weight: 600; margin: 0 0 6px; overflow-wrap: anywhere; }
.chart { position: relative; height: 300px; }
.wide { grid-column: 1 / -1; }
.wide .chart { height: 360px; }
.small .chart { height: 210px; }
.empty { color: var(--muted); font-style: italic; margin: 0; }
.error { background: #fde8e8; color: #9b1c1c; border: 1px solid #f8b4b4; border-radius: 8px;
  padding: 10px 14px; margin-bottom: 16px; white-space: pre-wrap; }
section { margin-top: 24px; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px;
  font-variant-numeric: tabular-nums; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: right;
  white-space: nowrap; }
th { background: #f9fafb; font-weight: 600; }
th.text, td.text { text-align: left; }
tbody tr:hover { background: #f5f7fa; }
details pre { background: #f9fafb; border: 1px solid var(--line); border-radius: 6px; padding: 8px;
  overflow-x: auto; font-size: 12px; }
</style>
</head>
<body>
<header>
<h1 id="title">p2pfaas-bench</h1>
<p id="description" class="muted"></p>
<p id="summary" class="muted"></p>
<details><summary class="muted">Scenario</summary><pre id="scenario"></pre></details>
</header>
<div id="error" class="error" hidden></div>
<div class="grid">
<div class="card"><h2>Composite score per profile</h2><div id="composite"></div></div>
<div class="card"><h2>Latency p95 vs security score, per profile</h2><div id="security"></div></div>
<div class="card"><h2>Deadline met per policy</h2><div id="deadline"></div></div>
<div class="card"><h2>Goodput per policy</h2><div id="goodput"></div></div>
<div class="card wide"><h2>Latency CDF</h2><div id="cdf"></div></div>
</div>
<section><h2>Load per node over time</h2><div id="load" class="grid small"></div></section>
<section class="card"><h2>Runs</h2><div id="runs" class="table-wrap"></div></section>
<script>
)page";

// Between Chart.js and the data.
constexpr std::string_view page_data = R"page(
</script>
<script type="application/json" id="data">)page";

// Draws everything from the data with DOM calls only (every text goes in through textContent).
constexpr std::string_view page_script = R"page(</script>
<script>
(function () {
  "use strict";
  var PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
                 "#ff9da7", "#9c755f", "#bab0ac"];
  var SHAPES = ["circle", "triangle", "rect", "rectRot", "star", "crossRot"];
  var charts = 0;

  function showError(error) {
    var message = error && error.message ? error.message : String(error);
    document.body.dataset.error = message;
    var box = document.getElementById("error");
    box.textContent = "The dashboard could not be drawn: " + message;
    box.hidden = false;
  }
  window.addEventListener("error", function (event) { showError(event.error || event.message); });

  function colour(i) { return PALETTE[i % PALETTE.length]; }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function isNumber(v) { return typeof v === "number" && isFinite(v); }
  function unique(values) {
    var out = [];
    values.forEach(function (v) { if (out.indexOf(v) < 0) out.push(v); });
    return out;
  }
  function median(values) {
    var v = values.filter(isNumber).sort(function (a, b) { return a - b; });
    if (!v.length) return null;
    var m = v.length >> 1;
    return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
  }
  function say(container, text) { container.appendChild(el("p", "empty", text)); }
  // What names a run: its subject (its profile, else its policy), the policy a profile ran with,
  // its workload, its repetition.
  var PARTS = {
    subject: function (r) { return r.profile || r.policy || ""; },
    profilePolicy: function (r) { return r.profile ? r.policy || "" : ""; },
    workload: function (r) { return r.workload || ""; },
    repetition: function (r) { return "rep " + r.repetition; }
  };
  // A run's name from those of `parts` that tell the runs of `list` apart (the subject when none
  // does; a profile's policy only when the profile runs differ in it).
  function namer(list, parts) {
    var varying = parts.filter(function (p) {
      var among = p === "profilePolicy" ? list.filter(function (r) { return r.profile; }) : list;
      return unique(among.map(PARTS[p])).length > 1;
    });
    if (!varying.length) varying = ["subject"];
    return function (r) {
      var words = varying.map(function (p) { return PARTS[p](r); });
      return words.filter(function (w) { return w !== ""; }).join(" \u00b7 ") || "(unnamed)";
    };
  }
  function axis(title, extra) {
    var a = { title: { display: true, text: title }, grid: { color: "#eef0f3" } };
    for (var k in extra) a[k] = extra[k];
    return a;
  }
  function draw(container, config) {
    var box = el("div", "chart");
    var canvas = document.createElement("canvas");
    box.appendChild(canvas);
    container.appendChild(box);
    config.options = config.options || {};
    config.options.animation = false;
    config.options.responsive = true;
    config.options.maintainAspectRatio = false;
    new Chart(canvas, config);
    charts += 1;
  }
  // Bars: one group per name, one dataset per workload, the median over repetitions.
  function bars(container, list, name, metric, xTitle, yTitle, yExtra) {
    var labels = unique(list.map(name));
    var workloads = unique(list.map(function (r) { return r.workload; }));
    var datasets = workloads.map(function (w, i) {
      return {
        label: w || "(no workload)",
        backgroundColor: colour(i),
        data: labels.map(function (label) {
          return median(list.filter(function (r) { return name(r) === label && r.workload === w; })
                            .map(metric));
        })
      };
    });
    draw(container, {
      type: "bar",
      data: { labels: labels, datasets: datasets },
      options: {
        plugins: { legend: { display: workloads.length > 1 } },
        scales: { x: axis(xTitle), y: axis(yTitle, yExtra || { beginAtZero: true }) }
      }
    });
  }
  // Draws each point's label beside it (the scatter chart).
  var pointLabels = {
    id: "pointLabels",
    afterDatasetsDraw: function (chart) {
      var ctx = chart.ctx;
      ctx.save();
      ctx.font = "12px " + Chart.defaults.font.family;
      ctx.fillStyle = "#3e4c59";
      ctx.textBaseline = "middle";
      chart.data.datasets.forEach(function (dataset, i) {
        var meta = chart.getDatasetMeta(i);
        if (meta.hidden) return;
        meta.data.forEach(function (point, j) {
          var label = dataset.data[j].label;
          if (!label) return;
          var right = point.x + 9 + ctx.measureText(label).width <= chart.width;
          ctx.textAlign = right ? "left" : "right";
          ctx.fillText(label, right ? point.x + 9 : point.x - 9, point.y);
        });
      });
      ctx.restore();
    }
  };
  // Log-axis ticks: label 1, 2 and 5 times a power of ten only.
  function logTick(value) {
    var mantissa = value / Math.pow(10, Math.floor(Math.log10(value) + 1e-9));
    var shown = [1, 2, 5].some(function (k) { return Math.abs(mantissa - k) < 1e-6; });
    return shown ? String(Number(value.toPrecision(3))) : "";
  }
  function fmt(v) {
    if (v === null || v === undefined) return "\u2013";
    if (typeof v !== "number") return String(v);
    if (Number.isInteger(v)) return String(v);
    var a = Math.abs(v);
    if (a >= 100) return String(Number(v.toFixed(1)));
    if (a >= 1) return String(Number(v.toFixed(2)));
    return String(Number(v.toPrecision(3)));
  }

  try {
    var data = JSON.parse(document.getElementById("data").textContent);
    var scenario = data.scenario && typeof data.scenario === "object" ? data.scenario : {};
    var runs = Array.isArray(data.runs) ? data.runs : [];
    var details = Array.isArray(data.details) ? data.details : [];
    runs.forEach(function (r, i) { r.details = details[i] || null; });

    Chart.defaults.animation = false;
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.color = "#3e4c59";

    // Header.
    var name = typeof scenario.name === "string" && scenario.name ? scenario.name : "";
    document.getElementById("title").textContent = "p2pfaas-bench" + (name ? ": " + name : "");
    document.title = "p2pfaas-bench" + (name ? ": " + name : "") + " dashboard";
    if (typeof scenario.description === "string")
      document.getElementById("description").textContent = scenario.description;
    var facts = [runs.length + (runs.length === 1 ? " run" : " runs")];
    if (isNumber(scenario.repetitions) && scenario.repetitions > 1)
      facts.push(scenario.repetitions + " repetitions each (charts show medians)");
    var perRun = scenario.load && isNumber(scenario.load.requests) && scenario.load.requests > 0
        ? scenario.load.requests + " calls (at most " + scenario.duration_seconds + " s)"
        : scenario.duration_seconds + " s";
    if (isNumber(scenario.duration_seconds)) facts.push(perRun + " measured per run");
    document.getElementById("summary").textContent = facts.join(" \u00b7 ");
    document.getElementById("scenario").textContent = JSON.stringify(scenario, null, 2);

    var profileRuns = runs.filter(function (r) { return r.profile; });
    var policyRuns = runs.filter(function (r) { return r.policy && !r.profile; });

    // Composite score per profile.
    var composite = document.getElementById("composite");
    if (!profileRuns.length) {
      say(composite, "No profile runs in this scenario.");
    } else {
      bars(composite, profileRuns, namer(profileRuns, ["subject", "profilePolicy"]),
           function (r) { return r.composite_score; }, "profile",
           "composite score (0-100, higher is better)", { min: 0, max: 100 });
    }

    // Latency p95 vs security score: one point per profile and workload.
    var security = document.getElementById("security");
    if (!profileRuns.length) {
      say(security, "No profile runs in this scenario.");
    } else {
      var profileName = namer(profileRuns, ["subject", "profilePolicy"]);
      var profiles = unique(profileRuns.map(profileName));
      var workloads = unique(profileRuns.map(function (r) { return r.workload; }));
      var datasets = profiles.map(function (p, i) {
        var points = [];
        workloads.forEach(function (w, j) {
          var group = profileRuns.filter(function (r) {
            return profileName(r) === p && r.workload === w;
          });
          if (!group.length) return;
          var x = median(group.map(function (r) { return r.security_score; }));
          var y = median(group.map(function (r) { return r.latency_ms && r.latency_ms.p95; }));
          if (x === null || y === null) return;
          points.push({ x: x, y: y, workload: w, shape: SHAPES[j % SHAPES.length],
                        label: workloads.length > 1 ? p + " \u00b7 " + w : p });
        });
        return {
          label: p, data: points, backgroundColor: colour(i), borderColor: colour(i),
          pointRadius: 6, pointHoverRadius: 8,
          pointStyle: points.map(function (pt) { return pt.shape; })
        };
      });
      draw(security, {
        type: "scatter",
        data: { datasets: datasets },
        plugins: [pointLabels],
        options: {
          layout: { padding: { right: 24 } },
          plugins: {
            tooltip: { callbacks: { label: function (ctx) {
              return ctx.raw.label + ": security " + fmt(ctx.raw.x) + ", p95 " + fmt(ctx.raw.y) +
                     " ms";
            } } }
          },
          scales: {
            x: axis("security score (0-10, higher is safer)", { beginAtZero: true, grace: "10%" }),
            y: axis("latency p95 (ms)", { beginAtZero: true, grace: "5%" })
          }
        }
      });
    }

    // Deadline met and goodput per policy.
    var deadline = document.getElementById("deadline");
    var goodput = document.getElementById("goodput");
    if (!policyRuns.length) {
      say(deadline, "No policy runs in this scenario.");
      say(goodput, "No policy runs in this scenario.");
    } else {
      var policyName = namer(policyRuns, ["subject"]);
      bars(deadline, policyRuns, policyName, function (r) { return r.deadline_met_ratio; },
           "policy", "deadline met (share of calls)", { min: 0, max: 1 });
      bars(goodput, policyRuns, policyName, function (r) { return r.goodput_rps; },
           "policy", "goodput (calls/s within deadline)");
    }

    // Latency CDF: the first repetition of each policy / profile and workload.
    var cdf = document.getElementById("cdf");
    var withCdf = runs.filter(function (r) {
      return r.details && Array.isArray(r.details.latency_cdf) && r.details.latency_cdf.length;
    });
    var firsts = withCdf.filter(function (r) {
      return !withCdf.some(function (o) {
        return o.policy === r.policy && o.profile === r.profile && o.workload === r.workload &&
               o.repetition < r.repetition;
      });
    });
    if (!firsts.length) {
      say(cdf, "No latency samples in this scenario.");
    } else {
      var cdfName = namer(firsts, ["subject", "profilePolicy", "workload"]);
      var positive = firsts.every(function (r) {
        return r.details.latency_cdf.every(function (p) { return p[0] > 0; });
      });
      draw(cdf, {
        type: "line",
        data: { datasets: firsts.map(function (r, i) {
          return {
            label: cdfName(r), borderColor: colour(i), backgroundColor: colour(i),
            pointRadius: 0, borderWidth: 2,
            data: r.details.latency_cdf.map(function (p) { return { x: p[0], y: p[1] }; })
          };
        }) },
        options: {
          interaction: { mode: "nearest", intersect: false },
          plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
          scales: {
            x: axis(positive ? "latency (ms, log scale)" : "latency (ms)",
                    positive ? { type: "logarithmic", ticks: { maxRotation: 0, callback: logTick } }
                             : { type: "linear" }),
            y: axis("share of calls at or below", { min: 0, max: 1 })
          }
        }
      });
    }

    // Load per node over time, one chart per run.
    var load = document.getElementById("load");
    var withLoad = runs.filter(function (r) {
      return r.details && Array.isArray(r.details.node_load) && r.details.node_load.length;
    });
    if (!withLoad.length) {
      say(load, "No per-node load samples in this scenario.");
    } else {
      var loadName = namer(runs, ["subject", "profilePolicy", "workload", "repetition"]);
      withLoad.forEach(function (r) {
        var card = el("div", "card");
        card.appendChild(el("h3", "", loadName(r)));
        load.appendChild(card);
        var step = isNumber(r.details.load_interval_seconds) ? r.details.load_interval_seconds : 1;
        var nodes = Array.isArray(r.details.nodes) ? r.details.nodes : [];
        draw(card, {
          type: "line",
          data: { datasets: r.details.node_load.map(function (samples, j) {
            return {
              label: nodes[j] !== undefined ? String(nodes[j]) : "node " + j,
              borderColor: colour(j), backgroundColor: colour(j), pointRadius: 0, borderWidth: 1.5,
              data: samples.map(function (v, k) { return { x: k * step, y: v }; })
            };
          }) },
          options: {
            interaction: { mode: "nearest", intersect: false },
            plugins: { legend: { labels: { boxWidth: 12 } } },
            scales: { x: axis("time (s)", { type: "linear", beginAtZero: true }),
                      y: axis("load (calls per slot)", { beginAtZero: true }) }
          }
        });
      });
    }

    // Every run, every field.
    var columns = [
      ["policy", function (r) { return r.policy; }, true],
      ["profile", function (r) { return r.profile; }, true],
      ["workload", function (r) { return r.workload; }, true],
      ["repetition", function (r) { return r.repetition; }],
      ["requests", function (r) { return r.requests; }],
      ["ok", function (r) { return r.ok; }],
      ["rejected", function (r) { return r.rejected; }],
      ["errors", function (r) { return r.errors; }],
      ["deadline_met_ratio", function (r) { return r.deadline_met_ratio; }],
      ["forwarded_ratio", function (r) { return r.forwarded_ratio; }],
      ["throughput_rps", function (r) { return r.throughput_rps; }],
      ["goodput_rps", function (r) { return r.goodput_rps; }],
      ["duration_seconds", function (r) { return r.duration_seconds; }],
      ["p50_ms", function (r) { return r.latency_ms && r.latency_ms.p50; }],
      ["p95_ms", function (r) { return r.latency_ms && r.latency_ms.p95; }],
      ["p99_ms", function (r) { return r.latency_ms && r.latency_ms.p99; }],
      ["mean_ms", function (r) { return r.latency_ms && r.latency_ms.mean; }],
      ["cpu_percent", function (r) { return r.cpu_percent; }],
      ["rss_mb", function (r) { return r.rss_mb; }],
      ["cost", function (r) { return r.cost; }],
      ["security_score", function (r) { return r.security_score; }],
      ["composite_score", function (r) { return r.composite_score; }]
    ];
    var table = document.getElementById("runs");
    if (!runs.length) {
      say(table, "No runs in this scenario.");
    } else {
      var t = el("table");
      var head = t.createTHead().insertRow();
      columns.forEach(function (c) { head.appendChild(el("th", c[2] ? "text" : "", c[0])); });
      var body = t.createTBody();
      runs.forEach(function (r) {
        var row = body.insertRow();
        columns.forEach(function (c) {
          var v = c[1](r);
          var cell = el("td", c[2] ? "text" : "", c[2] ? String(v === undefined ? "" : v) : fmt(v));
          if (typeof v === "number") cell.title = String(v);
          row.appendChild(cell);
        });
      });
      table.appendChild(t);
    }

    document.body.dataset.rendered = String(charts);
  } catch (error) {
    showError(error);
  }
})();
</script>
</body>
</html>
)page";

json details_json(const run_details& d) {
  json cdf = json::array();
  for (const auto& [latency, share] : d.latency_cdf) cdf.push_back({latency, share});
  return {{"latency_cdf", std::move(cdf)},
          {"nodes", d.nodes},
          {"load_interval_seconds", d.load_interval_seconds},
          {"node_load", d.node_load}};
}

}  // namespace

std::string dashboard_html(const std::vector<run_result>& runs,
                           const std::vector<run_details>& details, const json& scenario) {
  json data = report_json(runs, scenario);
  // details[i] belongs to runs[i]; a run without one gets null (drawn without CDF and load).
  json per_run = json::array();
  for (std::size_t i = 0; i < runs.size(); ++i) {
    per_run.push_back(i < details.size() ? details_json(details[i]) : json(nullptr));
  }
  data["details"] = std::move(per_run);

  // Invalid UTF-8 in a name becomes U+FFFD rather than an exception. Every '<' (only ever inside
  // a JSON string) is written \u003c, so neither "</script" nor "<!--" can end or disturb the
  // element; JSON.parse gives the '<' back.
  const std::string text = data.dump(-1, ' ', false, json::error_handler_t::replace);
  std::string escaped;
  escaped.reserve(text.size() + 64);
  for (char c : text) {
    if (c == '<') {
      escaped += "\\u003c";
    } else {
      escaped += c;
    }
  }

  std::string page;
  page.reserve(page_head.size() + chartjs_source.size() + page_data.size() + escaped.size() +
               page_script.size());
  page.append(page_head).append(chartjs_source).append(page_data);
  page.append(escaped).append(page_script);
  return page;
}

}  // namespace p2pfaas::bench
