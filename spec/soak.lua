-- soak.lua - many executions in one process through the Lua module, with
-- the resident memory sampled: a leak of a few bytes an execution shows
-- as growth after the warm-up. `make soak` runs it as a script:
--   lua5.4 spec/soak.lua [RUNS]      (default 100000; exit 1 on growth)
-- and spec/soak_spec.lua requires it for a 2,000-execution version.
-- Each run compiles the definition again (load and free), passes a Task
-- (a Lua handler: the bridge both ways, a caught error), a Map, a Choice,
-- intrinsics and a failing branch; EXPRESS, so no history is kept.
local M = {}

M.DEFINITION = [[{
  "StartAt": "Prepare",
  "States": {
    "Prepare": {"Type": "Pass", "Parameters": {
        "n.$": "$.n", "s.$": "States.Format('run {}', $.n)",
        "items.$": "States.ArrayRange(1, 3, 1)",
        "h.$": "States.Hash($.label, 'SHA-256')"}, "Next": "Call"},
    "Call": {"Type": "Task",
      "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Soak",
      "ResultPath": "$.result",
      "Catch": [{"ErrorEquals": ["Soak.Retry"], "ResultPath": "$.error",
                 "Next": "Each"}],
      "Next": "Each"},
    "Each": {"Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.m",
      "ItemProcessor": {"StartAt": "Double", "States": {
        "Double": {"Type": "Pass",
                   "Parameters": {"v.$": "States.MathAdd($, $)"},
                   "End": true}}},
      "Next": "Pick"},
    "Pick": {"Type": "Choice", "Choices": [
        {"Variable": "$.error", "IsPresent": true, "Next": "Boom"}],
      "Default": "Done"},
    "Boom": {"Type": "Fail", "Error": "Soak.Failed", "Cause": "one in 7"},
    "Done": {"Type": "Succeed"}
  }
}]]

-- Resident set size of this process in KiB (Linux /proc).
function M.rss_kb()
  local f = assert(io.open("/proc/self/statm"))
  local _, resident = f:read("n", "n")
  f:close()
  return resident * 4  -- pages of 4 KiB
end

-- Run `runs` executions; sample the RSS (after a full collection) every
-- `every` runs. Returns the samples {run, kb}, the counts by status and
-- the growth in KiB from the end of the warm-up (a tenth of the runs) to
-- the end.
function M.run(runs, every)
  local moonstep = require "moonstep"
  every = every or math.max(1, runs // 50)
  local e <close> = moonstep.engine({ tasks_dir = "spec/fixtures/soak",
                                      virtual_clock = true })
  local samples, counts = {}, {}
  local warm = math.max(every, runs // 10)
  local base
  for i = 1, runs do
    local d = e:run(M.DEFINITION, { n = i, label = "soak" },
                    { express = true })
    counts[d.status] = (counts[d.status] or 0) + 1
    if i % every == 0 or i == runs then
      collectgarbage()
      collectgarbage()
      local kb = M.rss_kb()
      samples[#samples + 1] = { i, kb }
      if not base and i >= warm then base = kb end
    end
  end
  return samples, counts, samples[#samples][2] - (base or 0)
end

-- The bound on growth after the warm-up: 2 MiB, or 5% of the warm size
-- (allocator noise), whichever is larger.
function M.bound(samples)
  local warm = samples[math.max(1, #samples // 10)][2]
  return math.max(2048, warm // 20)
end

if arg and arg[0] and arg[0]:match("soak%.lua$") then
  local build = os.getenv("MOONSTEP_BUILD") or "build"
  package.cpath = "./" .. build .. "/?.so;" .. package.cpath
  package.path = "./lua/?.lua;./lua/?/init.lua;" .. package.path
  local runs = math.tointeger(tonumber(arg[1] or "100000")) or 100000
  local t0 = os.clock()
  local samples, counts, growth = M.run(runs)
  for _, s in ipairs(samples) do
    print(string.format("soak: %7d runs  rss %7d KiB", s[1], s[2]))
  end
  local st = {}
  for k, n in pairs(counts) do st[#st + 1] = k .. " " .. n end
  table.sort(st)
  local bound = M.bound(samples)
  print(string.format("soak: %d runs in %.1f s (%s); growth after " ..
                      "warm-up %d KiB, bound %d KiB", runs, os.clock() - t0,
                      table.concat(st, ", "), growth, bound))
  os.exit(growth <= bound and 0 or 1)
end

return M
