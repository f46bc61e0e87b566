-- ours.lua - runs one bench workload in moonstep, in process, and prints
--
--   @seconds T      the monotonic time around moonstep.run
--   OUTPUT          the execution's output, compact JSON with sorted keys
--
-- Usage (from the repository's top level, as bench/bench.lua runs it):
--   lua5.4 bench/ours.lua WORKLOAD SIZE
-- WORKLOAD is a file bench/workloads/WORKLOAD.asl.json; SIZE is the loop's
-- iterations, the tasks' invocations or the map's items. Handlers are in
-- bench/tasks/. Its twin for the peer is bench/peer.mjs.
local build = os.getenv("MOONSTEP_BUILD") or "build"
package.cpath = build .. "/?.so;" .. build .. "/bench/?.so;" .. package.cpath

local moonstep = require "moonstep"
local clock = require "benchclock"

local workload, size = arg[1], tonumber(arg[2] or "")
if not workload or not size then
  io.stderr:write("usage: lua5.4 bench/ours.lua WORKLOAD SIZE\n")
  os.exit(2)
end

local f = assert(io.open("bench/workloads/" .. workload .. ".asl.json"))
local definition = f:read("a")
f:close()

-- The same input bench/peer.mjs builds.
local input
if workload:match("^map") then
  local items = {}
  for i = 1, size do items[i] = i - 1 end
  input = { items = moonstep.json.array(items) }
elseif workload == "startup" then
  input = {}
else
  input = { n = size }
end

local t0 = clock.now()
local d = moonstep.run(definition, input,
                       { tasks_dir = "bench/tasks", express = true })
local t1 = clock.now()

if not d or d.status ~= "SUCCEEDED" then
  io.stderr:write("ours.lua: ", workload, ": ",
                  d and (tostring(d.error) .. ": " .. tostring(d.cause))
                    or "invalid definition", "\n")
  os.exit(1)
end
io.write(string.format("@seconds %.6f\n", t1 - t0))
io.write(moonstep.json.encode(d.output, { sort = true }), "\n")
