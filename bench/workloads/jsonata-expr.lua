-- jsonata-expr.lua - bench micro-benchmark (issue 9): a typical Output
-- expression evaluated N times through moonstep.jsonata, in process, as
-- a workflow evaluates it (Step Functions' dialect, $states bound, the
-- expression compiled on every call, the input a Lua table). Prints
--
--   @seconds T    the monotonic time around the N evaluations
--   RESULT        the last result, compact JSON with sorted keys
--
-- Usage: lua5.4 bench/workloads/jsonata-expr.lua N   (from the top level)
local build = os.getenv("MOONSTEP_BUILD") or "build"
package.cpath = build .. "/?.so;" .. build .. "/bench/?.so;" .. package.cpath
local moonstep = require "moonstep"
local clock = require "benchclock"

local n = math.tointeger(tonumber(arg[1] or ""))
if not n or n < 1 then
  io.stderr:write("usage: lua5.4 bench/workloads/jsonata-expr.lua N\n")
  os.exit(2)
end

local EXPR = '{"id": $states.input.id, ' ..
             '"total": $sum($states.input.items.price)}'
local items = {}
for i = 1, 5 do
  items[i] = { sku = "sku-" .. i, price = i * 2.5, qty = i }
end
local bindings = {
  states = { input = { id = "order-42", customer = "c-7",
                       items = moonstep.json.array(items) } },
}

local jsonata, r = moonstep.jsonata, nil
local t0 = clock.now()
for _ = 1, n do
  r = jsonata(EXPR, nil, bindings)
end
local t1 = clock.now()
if type(r) ~= "table" then
  io.stderr:write("jsonata-expr.lua: no result\n")
  os.exit(1)
end
io.write(string.format("@seconds %.6f\n", t1 - t0))
io.write(moonstep.json.encode(r, { sort = true }), "\n")
