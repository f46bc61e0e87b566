-- bench.lua - `make bench`: moonstep against its peer, aws-local-stepfunctions
-- (npm, v3), side by side on the same definitions with equivalent handlers.
--
-- Each workload runs RUNS times as a pair of processes, ours then the peer's
-- (the order alternates run by run): bench/ours.lua (require "moonstep") and
-- bench/peer.mjs (node), each under build/bench/proctime, which gives the
-- whole process's wall time and peak RSS; the runners print their own
-- in-process time around the run. The outputs of every pair must be equal.
-- A ratio is the median of the per-pair ratios (peer time / our time), so a
-- noisy moment hurts one pair, not the result. The table is printed and
-- saved under bench/results/ with a description of the machine.
--
-- Run it from the repository's top level (make bench does). Environment:
--   BENCH_RUNS=5          pairs per workload
--   BENCH_LOOP=50000      loop iterations (2n+3 transitions)
--   BENCH_TASKS=10000     Task invocations
--   BENCH_MAP=10000       Map items
--   BENCH_DURABLE=5000    loop iterations of the durable workload (STANDARD
--                         history stays under AWS's 25,000 events)
--   BENCH_CSV=1000000     rows of the csv-ingest and tables workloads
--   BENCH_CSV_RUNS=1      pairs of those (each is many seconds)
--   BENCH_EXPR=100000     evaluations of the jsonata-expr workload
--   BENCH_ONLY=loop,map   run only these workloads (names in the table)
--   MOONSTEP_BUILD=build  where moonstep.so, moonstep and bench/ are
--   NODE=node             the Node.js binary for the peer
-- A run with other settings than the defaults is saved as ...-quick.txt.
--
-- "durable" has no peer: it is the loop as a STANDARD execution recorded in
-- a SQLite file against the same loop EXPRESS, both whole moonstep
-- processes; its ratio is the share of EXPRESS speed kept (target 0.2).
--
-- "loop-jsonata" (issue 9) is the loop written in QueryLanguage JSONata
-- (bench/workloads/loop-jsonata.asl.json: Pass + Choice over variables
-- with Assign and {% %}), skipped with a line saying why when `moonstep
-- validate` rejects it. Its peer is the peer's run of the same definition
-- when the installed aws-local-stepfunctions knows QueryLanguage (3.0.0
-- does not: "n/a"). "jsonata-expr" has no peer: a typical Output
-- expression evaluated BENCH_EXPR times through moonstep.jsonata
-- (bench/workloads/jsonata-expr.lua), in microseconds per evaluation.
--
-- "csv-map", "csv-1fn" and "tables" (issues 7 and 8, workloads 6 and 7)
-- have the sqlite3 shell as their baseline: .import of the same generated
-- customers CSV (examples/csv-ingest/gen.lua) into a keyed table of JSON
-- items (bench/workloads/csv-import.sql). csv-map is a whole `moonstep
-- run` of examples/csv-ingest/ingest.asl.json (the Distributed Map),
-- csv-1fn one of the template's machine csv-ingest (its single handler,
-- tasks/CSVToJSON.lua), both from the S3 event; tables is the in-process
-- time of one moonstep.tables batch_write of the file's items
-- (bench/workloads/tables.lua) against the whole import. Their ratio is
-- baseline time / ours, so 0.5 means twice the time (targets: 0.5, 0.4
-- and 0.67, peak memory of csv-map under 100 MB).

local BUILD = os.getenv("MOONSTEP_BUILD") or "build"
local NODE = os.getenv("NODE") or "node"
local LUA = os.getenv("LUA") or "lua5.4"

local DEFAULTS = { runs = 5, loop = 50000, tasks = 10000, map = 10000,
                   durable = 5000, csv = 1000000, csv_runs = 1,
                   expr = 100000 }

local function env_int(name, default)
  local v = os.getenv(name)
  if not v or v == "" then return default end
  local n = math.tointeger(tonumber(v))
  if not n or n < 1 then error(name .. ": a positive integer, not " .. v) end
  return n
end

local cfg = {
  runs = env_int("BENCH_RUNS", DEFAULTS.runs),
  loop = env_int("BENCH_LOOP", DEFAULTS.loop),
  tasks = env_int("BENCH_TASKS", DEFAULTS.tasks),
  map = env_int("BENCH_MAP", DEFAULTS.map),
  durable = env_int("BENCH_DURABLE", DEFAULTS.durable),
  csv = env_int("BENCH_CSV", DEFAULTS.csv),
  csv_runs = env_int("BENCH_CSV_RUNS", DEFAULTS.csv_runs),
  expr = env_int("BENCH_EXPR", DEFAULTS.expr),
}

local only
if (os.getenv("BENCH_ONLY") or "") ~= "" then
  only = {}
  for w in os.getenv("BENCH_ONLY"):gmatch("[^,%s]+") do only[w] = true end
end
local quick = only ~= nil or cfg.runs ~= DEFAULTS.runs
  or cfg.loop ~= DEFAULTS.loop or cfg.tasks ~= DEFAULTS.tasks
  or cfg.map ~= DEFAULTS.map or cfg.durable ~= DEFAULTS.durable
  or cfg.csv ~= DEFAULTS.csv or cfg.csv_runs ~= DEFAULTS.csv_runs
  or cfg.expr ~= DEFAULTS.expr

-- ---- processes ---------------------------------------------------------

local function quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function shell(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local ok, how, code = p:close()
  return out, ok, how, code
end

local function first_line(cmd)
  local out = shell(cmd .. " 2>/dev/null")
  return (out:match("^[^\n]*") or ""):gsub("%s+$", "")
end

local PROCTIME = BUILD .. "/bench/proctime"

-- Run argv under proctime. Returns {inproc=, wall=, rss_kb=, output=};
-- raises with the process's stderr when it fails.
local function measure(argv)
  local parts = { quote(PROCTIME) }
  for _, a in ipairs(argv) do parts[#parts + 1] = quote(a) end
  local errf = os.tmpname()
  local cmd = table.concat(parts, " ") .. " 2>" .. quote(errf)
  local out, ok = shell(cmd)
  local ef = io.open(errf)
  local err = ef and ef:read("a") or ""
  if ef then ef:close() end
  os.remove(errf)
  local wall, rss = out:match("@proctime (%S+) (%S+)")
  if not ok or not wall then
    error(table.concat(argv, " ") .. " failed:\n" .. err .. out:sub(1, 2000),
          0)
  end
  local r = { wall = tonumber(wall), rss_kb = tonumber(rss) }
  r.inproc = tonumber(out:match("@seconds (%S+)")) or r.wall
  -- The output: every line that is not one of the two measurement lines.
  local lines = {}
  for line in out:gmatch("[^\n]+") do
    if not line:match("^@seconds ") and not line:match("^@proctime ") then
      lines[#lines + 1] = line
    end
  end
  r.output = table.concat(lines, "\n")
  return r
end

-- ---- statistics and formatting ---------------------------------------

local function median(xs)
  local s = {}
  for i, x in ipairs(xs) do s[i] = x end
  table.sort(s)
  local n = #s
  if n == 0 then return nil end
  if n % 2 == 1 then return s[(n + 1) // 2] end
  return (s[n // 2] + s[n // 2 + 1]) / 2
end

local function thousands(n)
  local s = string.format("%d", math.floor(n + 0.5))
  local out = s:reverse():gsub("(%d%d%d)", "%1,"):reverse()
  return (out:gsub("^,", ""))
end

local function rate(units, seconds)
  return thousands(units / seconds) .. "/s"
end

local function ms(seconds)
  if seconds < 0.1 then return string.format("%.1f ms", seconds * 1000) end
  return string.format("%.0f ms", seconds * 1000)
end

local function times(x)
  if x < 1 then return string.format("%.2fx", x) end
  if x >= 100 then return string.format("%.0fx", x) end
  return string.format("%.1fx", x)
end

local function mb(kb) return string.format("%.1f", kb / 1024) end

-- ---- the workloads -----------------------------------------------------

-- The durable workload's database: a fresh file for this bench run.
local DURABLE_DB = os.tmpname() .. ".db"

local function ours_inproc(name, size)
  return { LUA, "bench/ours.lua", name, tostring(size) }
end

local function peer(name, size)
  return { NODE, "bench/peer.mjs", name, tostring(size) }
end

-- Each row: name, what one unit of work is and how many, the two command
-- lines, whether the figure is a rate (in-process) or a process's wall
-- time (startup), and the issue's target ratio.
local WORKLOADS = {
  { name = "loop", units = 2 * cfg.loop + 3, unit = "transitions",
    ours = ours_inproc("loop", cfg.loop), peer = peer("loop", cfg.loop),
    target = 20 },
  { name = "tasks", units = cfg.tasks, unit = "invocations",
    ours = ours_inproc("tasks", cfg.tasks), peer = peer("tasks", cfg.tasks),
    target = 10 },
  { name = "map-c0", units = cfg.map, unit = "items",
    ours = ours_inproc("map0", cfg.map), peer = peer("map0", cfg.map),
    target = 10, note = "MaxConcurrency 0" },
  { name = "map-c1", units = cfg.map, unit = "items",
    ours = ours_inproc("map1", cfg.map), peer = peer("map1", cfg.map),
    target = 10, note = "MaxConcurrency 1" },
  { name = "startup", units = 1, unit = "process", whole = true,
    ours = { BUILD .. "/moonstep", "run", "bench/workloads/startup.asl.json",
             "--input", "{}", "--express" },
    peer = peer("startup", 0), target = 50, rss_target_mb = 10 },
  { name = "durable", units = 2 * cfg.durable + 3, unit = "transitions",
    whole = true, peer_label = "EXPRESS",
    ours = { BUILD .. "/moonstep", "run", "bench/workloads/loop.asl.json",
             "--input", string.format('{"n": %d}', cfg.durable),
             "--db", DURABLE_DB },
    peer = { BUILD .. "/moonstep", "run", "bench/workloads/loop.asl.json",
             "--input", string.format('{"n": %d}', cfg.durable),
             "--express" },
    target = 0.2 },
}

-- Issue 9: the loop in JSONata, and one Output expression. The peer runs
-- the JSONata loop only if its build knows QueryLanguage.
local PEER_BUILD =
  "bench/.peer/node_modules/aws-local-stepfunctions/build/main.node.esm.js"
local function peer_has_jsonata()
  local f = io.open(PEER_BUILD, "rb")
  if not f then return false end
  local js = f:read("a")
  f:close()
  return js:find("QueryLanguage", 1, true) ~= nil
end
local LOOP_JSONATA = "bench/workloads/loop-jsonata.asl.json"
WORKLOADS[#WORKLOADS + 1] = {
  name = "loop-jsonata", units = 2 * cfg.loop + 3, unit = "transitions",
  validate = LOOP_JSONATA,
  ours = ours_inproc("loop-jsonata", cfg.loop),
  peer = peer_has_jsonata() and peer("loop-jsonata", cfg.loop) or nil,
  peer_na = "n/a (no JSONata in the peer)" }
WORKLOADS[#WORKLOADS + 1] = {
  name = "jsonata-expr", units = cfg.expr, unit = "evaluations",
  per_unit = true, peer_na = "n/a",
  ours = { LUA, "bench/workloads/jsonata-expr.lua", tostring(cfg.expr) } }

-- Workloads 6 and 7: a scratch folder with the generated CSV in a bucket,
-- the baseline's script, a database per run (reset before each run).
local CSV = {}
do
  local dir = os.tmpname()
  os.remove(dir)
  CSV.dir = dir
  CSV.file = dir .. "/buckets/bench/customers.csv"
  CSV.db = dir .. "/moonstep.db"
  CSV.base = dir .. "/baseline.db"
  CSV.sql = dir .. "/import.sql"
  CSV.tdb = dir .. "/tables.db"
end
local ABS = os.getenv("PWD") or "."
local EVENT = '{"Records":[{"s3":{"bucket":{"name":"bench"},'
  .. '"object":{"key":"customers.csv"}}}]}'

local function csv_env(argv)
  local a = { "env", "MOONSTEP_BUCKETS=" .. CSV.dir .. "/buckets",
              "MOONSTEP_HOME=" .. ABS,
              -- --express leaves --db to the history: the tables need this
              "MOONSTEP_DB=" .. CSV.db }
  for _, x in ipairs(argv) do a[#a + 1] = x end
  return a
end

-- Once: generate the file, write the baseline's script.
local function csv_setup()
  if CSV.ready then return end
  os.execute("mkdir -p " .. quote(CSV.dir .. "/buckets/bench"))
  local _, ok = shell(LUA .. " examples/csv-ingest/gen.lua " .. cfg.csv
                      .. " -o " .. quote(CSV.file) .. " 2>/dev/null")
  if not ok then error("gen.lua failed", 0) end
  local sql = assert(io.open("bench/workloads/csv-import.sql")):read("a")
  sql = sql:gsub("CSV_PATH", function() return CSV.file end)
  local f = assert(io.open(CSV.sql, "w"))
  f:write(sql)
  f:close()
  CSV.ready = true
end

-- Before each moonstep run: a fresh database with the stack deployed.
local function csv_fresh_db()
  csv_setup()
  os.remove(CSV.db)
  local _, ok = shell(table.concat({ quote(BUILD .. "/moonstep"), "--db",
    quote(CSV.db), "deploy", "examples/csv-ingest/template.yaml",
    ">/dev/null 2>&1" }, " "))
  if not ok then error("moonstep deploy of the csv-ingest template failed",
                       0) end
end
local function csv_fresh_base()
  csv_setup()
  os.remove(CSV.base)
end

-- ours prints the summary (JSON), the baseline the count: compare counts.
local function csv_check(a, b)
  local written = a.output:match('"written":(%d+)') or a.output:match("^%d+")
  local count = b.output:match("(%d+)%s*$")
  return written ~= nil and written == count
end

local SQLITE = { "sqlite3", "-bail", CSV.base, ".read " .. CSV.sql }

local CSV_WORKLOADS = {
  { name = "csv-map", units = cfg.csv, unit = "rows", whole = true,
    runs = cfg.csv_runs, prep = csv_fresh_db, prep_peer = csv_fresh_base,
    check = csv_check, peer_label = "sqlite3",
    ours = csv_env{ BUILD .. "/moonstep", "--db", CSV.db, "run",
                    "examples/csv-ingest/ingest.asl.json", "--express",
                    "--input", EVENT, "--tasks", "tasks" },
    peer = SQLITE, target = 0.5, rss_target_mb = 100 },
  { name = "csv-1fn", units = cfg.csv, unit = "rows", whole = true,
    runs = cfg.csv_runs, prep = csv_fresh_db, prep_peer = csv_fresh_base,
    check = csv_check, peer_label = "sqlite3",
    ours = csv_env{ BUILD .. "/moonstep", "--db", CSV.db, "run",
                    "csv-ingest", "--input", EVENT, "--tasks", "tasks" },
    peer = SQLITE, target = 0.4 },
  { name = "tables", units = cfg.csv, unit = "items",
    runs = cfg.csv_runs, prep = csv_setup, prep_peer = csv_fresh_base,
    check = csv_check, peer_label = "sqlite3",
    ours = { LUA, "bench/workloads/tables.lua", CSV.file, CSV.tdb },
    peer = SQLITE, target = 0.67 },
}
for _, w in ipairs(CSV_WORKLOADS) do WORKLOADS[#WORKLOADS + 1] = w end

-- Waiting for other issues: printed as "not yet" rows.
local NOT_YET = {}

-- ---- the machine -------------------------------------------------------

local function read_file(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function describe_machine()
  local cpuinfo = read_file("/proc/cpuinfo") or ""
  local meminfo = read_file("/proc/meminfo") or ""
  local mem_kb = tonumber(meminfo:match("MemTotal:%s*(%d+)")) or 0
  local peer_pkg = read_file(
    "bench/.peer/node_modules/aws-local-stepfunctions/package.json") or ""
  local dirty = first_line("git status --porcelain -- engine | head -1")
  local load = (read_file("/proc/loadavg") or ""):match("^(%S+ %S+ %S+)")
  return {
    { "date", os.date("%Y-%m-%d %H:%M:%S %z") },
    { "host", first_line("uname -n") },
    { "cpu", (cpuinfo:match("model name%s*:%s*([^\n]+)") or "?")
             .. ", nproc " .. first_line("nproc") },
    { "memory", string.format("%.1f GB", mem_kb / 1024 / 1024) },
    { "kernel", first_line("uname -sr") },
    { "load", (load or "?") .. " (1/5/15 min, at start)" },
    { "moonstep", first_line("git rev-parse --short HEAD")
                  .. (dirty ~= "" and " + uncommitted engine changes" or "")
                  .. ", " .. first_line("${CC:-gcc} --version") },
    { "lua", first_line(LUA .. " -v") },
    { "peer", "aws-local-stepfunctions "
              .. (peer_pkg:match('"version"%s*:%s*"([^"]+)"') or "?")
              .. " on node " .. first_line(NODE .. " --version") },
    { "config", string.format(
        "BENCH_RUNS=%d BENCH_LOOP=%d BENCH_TASKS=%d BENCH_MAP=%d "
        .. "BENCH_DURABLE=%d BENCH_CSV=%d BENCH_CSV_RUNS=%d",
        cfg.runs, cfg.loop, cfg.tasks, cfg.map, cfg.durable, cfg.csv,
        cfg.csv_runs) },
  }
end

-- ---- main --------------------------------------------------------------

local function check_setup()
  local need = {
    { BUILD .. "/moonstep.so", "make" },
    { BUILD .. "/moonstep", "make" },
    { PROCTIME, "make bench" },
    { BUILD .. "/bench/benchclock.so", "make bench" },
    { "bench/.peer/node_modules/aws-local-stepfunctions/package.json",
      "make bench (it installs the peer with npm)" },
  }
  for _, n in ipairs(need) do
    if not io.open(n[1]) then
      io.stderr:write("bench: ", n[1], " is missing; run ", n[2], "\n")
      os.exit(2)
    end
  end
end

-- Run a workload's pairs; returns its row of figures.
local function run_workload(w)
  local o, p = {}, {}
  local runs = w.runs or cfg.runs
  local function ours()
    if w.prep then w.prep() end
    return measure(w.ours)
  end
  local function theirs()
    if w.prep_peer then w.prep_peer() end
    return measure(w.peer)
  end
  if not w.peer then
    for r = 1, runs do
      o[r] = ours()
      io.stderr:write(string.format("  %-8s run %d/%d  moonstep %s\n",
        w.name, r, runs, ms(w.whole and o[r].wall or o[r].inproc)))
    end
    local key, xs, rss = w.whole and "wall" or "inproc", {}, {}
    for i, x in ipairs(o) do xs[i], rss[i] = x[key], x.rss_kb end
    return { ours_t = median(xs), ours_rss = median(rss) }
  end
  for r = 1, runs do
    local a, b
    if r % 2 == 1 then
      a = ours()
      b = theirs()
    else
      b = theirs()
      a = ours()
    end
    local same
    if w.check then same = w.check(a, b) else same = a.output == b.output end
    if not same then
      error(string.format(
        "%s: the outputs differ (run %d)\n  moonstep: %s\n  peer:     %s",
        w.name, r, a.output:sub(1, 300), b.output:sub(1, 300)), 0)
    end
    o[r], p[r] = a, b
    io.stderr:write(string.format("  %-8s run %d/%d  moonstep %s  peer %s\n",
      w.name, r, runs,
      ms(w.whole and a.wall or a.inproc), ms(w.whole and b.wall or b.inproc)))
  end
  local function col(t, k)
    local xs = {}
    for i, x in ipairs(t) do xs[i] = x[k] end
    return xs
  end
  local key = w.whole and "wall" or "inproc"
  local ratios, wall_ratios = {}, {}
  for i = 1, runs do
    ratios[i] = p[i][key] / o[i][key]
    wall_ratios[i] = p[i].wall / o[i].wall
  end
  return {
    ours_t = median(col(o, key)), peer_t = median(col(p, key)),
    ratio = median(ratios), wall_ratio = median(wall_ratios),
    ours_rss = median(col(o, "rss_kb")), peer_rss = median(col(p, "rss_kb")),
  }
end

local function verdict(w, f)
  if not w.target then return "" end
  if not f.ratio then return ">=" .. w.target .. "x (no peer)" end
  local ok = f.ratio >= w.target
  local s = ">=" .. w.target .. "x"
  if w.rss_target_mb then
    ok = ok and f.ours_rss / 1024 < w.rss_target_mb
    s = s .. ", <" .. w.rss_target_mb .. " MB"
  end
  return s .. (ok and " met" or " MISSED")
end

local function main()
  check_setup()
  local machine = describe_machine()
  io.stderr:write(string.format("bench: %d runs per workload\n", cfg.runs))

  local header = { "workload", "work", "moonstep", "peer", "ratio",
                   "whole-process", "peak MB ours/peer", "target" }
  local rows = {}
  local skipped = {}
  for _, w in ipairs(WORKLOADS) do
    local why
    if (not only or only[w.name]) and w.validate then
      local out, ok = shell(quote(BUILD .. "/moonstep") .. " validate "
                            .. quote(w.validate) .. " 2>&1")
      if not ok then
        why = "moonstep validate rejects " .. w.validate .. " ("
              .. (out:match("error: ([^\n]*)") or out:match("[^\n]*"))
              .. ")"
      end
    end
    if why then
      io.stderr:write("bench: ", w.name, ": skipped, ", why, "\n")
      skipped[#skipped + 1] = { name = w.name, why = why }
    elseif not only or only[w.name] then
      local f = run_workload(w)
      local ours, theirs
      if not f.peer_t then
        -- no peer: our figure alone
        ours = w.per_unit
          and string.format("%.2f us each", f.ours_t / w.units * 1e6)
          or (w.whole and ms(f.ours_t) or rate(w.units, f.ours_t))
        rows[#rows + 1] = {
          w.name, thousands(w.units) .. " " .. w.unit, ours,
          w.peer_na or "n/a", "", "", mb(f.ours_rss) .. " / -",
          verdict(w, f) }
      else
        if w.whole then
          ours, theirs = ms(f.ours_t), ms(f.peer_t)
          if w.peer_label then theirs = w.peer_label .. " " .. theirs end
        else
          ours, theirs = rate(w.units, f.ours_t), rate(w.units, f.peer_t)
        end
        rows[#rows + 1] = {
          w.name, thousands(w.units) .. " " .. w.unit, ours, theirs,
          times(f.ratio), times(f.wall_ratio),
          mb(f.ours_rss) .. " / " .. mb(f.peer_rss), verdict(w, f),
        }
      end
    end
  end
  for _, k in ipairs(skipped) do
    rows[#rows + 1] = { k.name, "skipped", k.why, "", "", "", "", "" }
  end
  for _, n in ipairs(NOT_YET) do
    if not only or only[n.name] then
      rows[#rows + 1] = { n.name, "not yet", n.why, "", "", "", "", "" }
    end
  end

  -- Column widths; the "not yet" rows' reason may overflow its column.
  local width = {}
  for i, h in ipairs(header) do width[i] = #h end
  for _, r in ipairs(rows) do
    width[1] = math.max(width[1], #r[1])
    if r[2] ~= "not yet" and r[2] ~= "skipped" then
      for i, c in ipairs(r) do width[i] = math.max(width[i], #c) end
    end
  end
  local function line(r)
    local cells = {}
    for i, c in ipairs(r) do
      local fmt = (i <= 2 or i == #r) and "%-" or "%"
      cells[i] = string.format(fmt .. width[i] .. "s", c)
    end
    return (table.concat(cells, "  "):gsub("%s+$", ""))
  end

  local out = {}
  for _, m in ipairs(machine) do
    out[#out + 1] = string.format("%-9s %s", m[1] .. ":", m[2])
  end
  out[#out + 1] = ""
  out[#out + 1] = line(header)
  for _, r in ipairs(rows) do
    if r[2] == "not yet" or r[2] == "skipped" then
      out[#out + 1] = string.format("%-" .. width[1] .. "s  %s: %s",
                                    r[1], r[2], r[3])
    else
      out[#out + 1] = line(r)
    end
  end
  out[#out + 1] = ""
  out[#out + 1] = "moonstep, peer: medians of the in-process time around the"
    .. " run (startup: of the"
  out[#out + 1] = "whole process). ratio: median of the per-pair ratios of"
    .. " those; whole-process:"
  out[#out + 1] = "the same for the processes' wall time (interpreter start,"
    .. " module load, run)."
  out[#out + 1] = "jsonata-expr: time per moonstep.jsonata call (compile,"
    .. " evaluate, Lua values"
  out[#out + 1] = "in and out); loop-jsonata: transitions per second, as"
    .. " loop."
  local text = table.concat(out, "\n") .. "\n"
  io.write("\n", text)

  local host = first_line("uname -n"):gsub("[^%w%-_.]", "_")
  local path = string.format("bench/results/%s-%s%s.txt", os.date("%Y-%m-%d"),
                             host, quick and "-quick" or "")
  os.execute("mkdir -p bench/results")
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  io.write("saved ", path, "\n")
end

local ok, err = pcall(main)
if CSV.ready then os.execute("rm -rf " .. quote(CSV.dir)) end
if not ok then
  io.stderr:write("bench: ", tostring(err), "\n")
  os.exit(1)
end
