-- wrk script: authenticated GETs paced so that `connections` × (1000 / delay_ms) ≈ target rate.
local token = os.getenv("SHARPEYES_TOKEN")
local path = os.getenv("SHARPEYES_PATH") or "/api/events?limit=50"
local delay_ms = tonumber(os.getenv("SHARPEYES_DELAY_MS") or "20")
wrk.headers["Authorization"] = "Bearer " .. token
function request() return wrk.format("GET", path) end
function delay() return delay_ms end
done = function(summary, latency, requests)
  io.write(string.format("RESULT path=%s requests=%d rps=%.0f p50_ms=%.2f p99_ms=%.2f max_ms=%.2f errors=%d\n",
    path, summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
