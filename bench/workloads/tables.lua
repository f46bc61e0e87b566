-- tables.lua - bench workload 7 (tables): one batch write of every item of
-- a customers CSV (examples/csv-ingest/gen.lua's rows, turned into items
-- by tasks/ingest_rows.lua as the ingest does) into a fresh moonstep.tables
-- table keyed by id, in process. Prints
--
--   @seconds T    the monotonic time around the batch_write
--   N             the items in the table afterwards
--
-- Usage: lua5.4 bench/workloads/tables.lua CSV DB   (from the top level)
local build = os.getenv("MOONSTEP_BUILD") or "build"
package.cpath = build .. "/?.so;" .. build .. "/bench/?.so;" .. package.cpath
package.path = "./lua/?.lua;./tasks/?.lua;" .. package.path
require "moonstep"
local clock = require "benchclock"
local csv = require "moonstep.csv"
local tables = require "moonstep.tables"
local rows = require "ingest_rows"

local path, dbpath = arg[1], arg[2]
local items, n = {}, 0
for rec in csv.open(path, {header = true}) do
  local it = rows.item(rec)
  if it then
    n = n + 1
    items[n] = it
  end
end
os.remove(dbpath)
local db = tables.open{db = dbpath}
db:create{name = "Customers", key = "id"}
local t = db:table("Customers")
local t0 = clock.now()
t:batch_write(items)
local t1 = clock.now()
io.write(string.format("@seconds %.6f\n", t1 - t0))
io.write(t:count(), "\n")
