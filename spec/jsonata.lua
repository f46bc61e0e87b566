-- jsonata.lua - runs the JSONata reference implementation's test suite
-- (../shared/jsonata/cases.jsonl, see the README there) through moonstep's
-- evaluator and prints the pass rate per group and in total; exits 1 below
-- the threshold, 2 when it cannot run.
--
--   lua5.4 spec/jsonata.lua [--file JSONL] [--binary PATH | --inprocess]
--     [--filter SUBSTR] [--threshold 95] [--verbose] [--quiet]
--
-- A case passes when the evaluation gives the expected result (compared
-- as JSON: numbers by value, key order ignored), no result when
-- undefinedResult is set, or an error with the expected code. A case whose
-- expression is in an "expr-file" is read from GROUP/FILE beside
-- cases.jsonl, and skipped (counted apart) when that is missing. Default
-- mode calls moonstep.jsonata in process (moonstep.so from MOONSTEP_BUILD,
-- else build/); --binary runs `moonstep eval --jsonata ... --describe`
-- once per case. Both evaluate plain JSONata 2.x (reference = true,
-- --reference), not Step Functions' dialect.

local function script_dir()
  local src = debug.getinfo(1, "S").source
  return src:match("^@(.*)/[^/]*$") or "."
end
package.path = script_dir() .. "/?.lua;" .. package.path
local json = require("conformance")

local M = {}

local function usage(msg)
  if msg then io.stderr:write("jsonata: " .. msg .. "\n") end
  io.stderr:write("usage: lua5.4 spec/jsonata.lua [--file JSONL] " ..
                  "[--binary PATH | --inprocess] [--filter SUBSTR]\n" ..
                  "  [--threshold N] [--verbose] [--quiet]\n")
  os.exit(2)
end

local function parse_args(argv)
  local o = {
    file = script_dir() .. "/../../shared/jsonata/cases.jsonl",
    threshold = 0,
  }
  local i = 1
  local function value()
    i = i + 1
    if argv[i] == nil then usage("missing value for " .. argv[i - 1]) end
    return argv[i]
  end
  while argv[i] do
    local a = argv[i]
    if a == "--file" then o.file = value()
    elseif a == "--binary" then o.binary = value()
    elseif a == "--inprocess" then o.binary = nil
    elseif a == "--filter" then o.filter = value()
    elseif a == "--threshold" then
      o.threshold = tonumber(value()) or usage("bad --threshold")
    elseif a == "--verbose" then o.verbose = true
    elseif a == "--quiet" then o.quiet = true
    elseif a == "--help" or a == "-h" then usage()
    else usage("unknown option " .. a) end
    i = i + 1
  end
  return o
end

-- files and shell quoting as the specs do them (spec/support.lua)
local S = require("support")
local read_file, write_file, shquote = S.read, S.spit, S.shquote

-- Numbers equal within the last bits of a double (the reference prints
-- doubles as JavaScript does; both sides are IEEE arithmetic).
local function equal(a, b)
  if type(a) == "number" and type(b) == "number" then
    if a == b then return true end
    local d = math.abs(a - b)
    return d <= 1e-13 * math.max(math.abs(a), math.abs(b))
  end
  if type(a) ~= "table" or type(b) ~= "table" or a == json.null or
     b == json.null then
    return a == b
  end
  if json.is_array(a) ~= json.is_array(b) then return false end
  if json.is_array(a) then
    if #a ~= #b then return false end
    for k = 1, #a do
      if not equal(a[k], b[k]) then return false end
    end
    return true
  end
  for k, v in pairs(a) do
    if b[k] == nil or not equal(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

-- Evaluate a case: returns "ok", json_text | "undefined" | "error", code,
-- message.
local function run_inprocess(ms, case, input, bindings)
  local r, code, msg = ms.jsonata(case.expr, input, bindings,
    { text = true, timeout = case.timelimit, depth = case.depth,
      reference = true })
  if r ~= nil then return "ok", r end
  if code then return "error", code, msg end
  return "undefined"
end

local function run_binary(bin, case, input, bindings, tmp)
  local cmd = { shquote(bin), "eval", "--jsonata", shquote(case.expr),
                "--describe", "--reference" }
  if case.timelimit then
    cmd[#cmd + 1] = "--timeout " .. math.tointeger(case.timelimit)
  end
  if case.depth then
    cmd[#cmd + 1] = "--max-depth " .. math.tointeger(case.depth)
  end
  if input then
    write_file(tmp .. ".in", input)
    cmd[#cmd + 1] = "--input @" .. shquote(tmp .. ".in")
  end
  if bindings then
    write_file(tmp .. ".b", bindings)
    cmd[#cmd + 1] = "--bindings @" .. shquote(tmp .. ".b")
  end
  local p = io.popen(table.concat(cmd, " ") .. " 2>/dev/null")
  local out = p:read("a")
  p:close()
  local ok, d = pcall(json.decode, out)
  if not ok or type(d) ~= "table" then return "error", "CRASH", out end
  if d.error then return "error", d.error.code, d.error.message end
  if d.undefined then return "undefined" end
  return "ok", json.encode(d.result)
end

function M.main(argv)
  local o = parse_args(argv)
  local text = read_file(o.file)
  if not text then
    io.stderr:write("jsonata: cannot open " .. o.file .. "\n")
    return 2
  end
  local root = o.file:match("^(.*)/[^/]*$") or "."
  local dsdir = root .. "/datasets/"
  local ms
  if not o.binary then
    local build = os.getenv("MOONSTEP_BUILD") or "build"
    package.cpath = build .. "/?.so;" .. package.cpath
    local ok, m = pcall(require, "moonstep")
    if not ok or type(m) ~= "table" or type(m.jsonata) ~= "function" then
      io.stderr:write("jsonata: no moonstep.jsonata in " .. build ..
                      "/moonstep.so: " .. tostring(m) .. "\n")
      return 2
    end
    ms = m
  end
  local tmp = os.tmpname()
  local datasets = {}
  local groups, order = {}, {}
  local pass, total, skipped = 0, 0, 0
  for line in text:gmatch("[^\n]+") do
    local case = json.decode(line, nil, true)
    local expr_file = case["expr-file"]
    if expr_file and not case.expr then
      -- the expression lives in a file the suite may not ship
      local g = case.group or case.id:match("^([^/]+)")
      case.expr = read_file(root .. "/" .. g .. "/" .. expr_file) or
                  read_file(root .. "/expressions/" .. expr_file)
    end
    if not case.expr then
      skipped = skipped + 1
      if o.verbose and (not o.filter or case.id:find(o.filter, 1, true))
      then print("SKIP " .. case.id .. ": no " .. expr_file) end
    elseif not o.filter or case.id:find(o.filter, 1, true) then
      local input
      if case.data ~= nil then
        input = json.encode(case.data)
      elseif case.dataset and case.dataset ~= json.null then
        local name = case.dataset
        datasets[name] = datasets[name] or
                         read_file(dsdir .. name .. ".json")
        input = datasets[name]
      end
      local bindings
      if type(case.bindings) == "table" and next(case.bindings) then
        bindings = json.encode(case.bindings)
      end
      local status, a, b
      if ms then
        status, a, b = run_inprocess(ms, case, input, bindings)
      else
        status, a, b = run_binary(o.binary, case, input, bindings, tmp)
      end
      local want_code = case.code or
                        (type(case.error) == "table" and case.error.code)
      local ok, why
      if want_code then
        ok = status == "error" and a == want_code
      elseif case.undefinedResult then
        ok = status == "undefined"
      else
        ok = status == "ok" and equal(json.decode(a), case.result)
      end
      if not ok then
        local want = want_code and ("error " .. want_code) or
                     case.undefinedResult and "undefined" or
                     json.encode(case.result)
        local got = status == "ok" and a or status == "error" and
                    ("error " .. tostring(a) .. " " .. tostring(b)) or
                    "undefined"
        why = string.format("%s\n    expr: %s\n    want: %s\n    got:  %s",
                            case.id, case.expr, want:sub(1, 300),
                            got:sub(1, 300))
      end
      local g = case.group or case.id:match("^([^/]+)")
      if not groups[g] then
        groups[g] = { pass = 0, total = 0 }
        order[#order + 1] = g
      end
      groups[g].total = groups[g].total + 1
      total = total + 1
      if ok then
        groups[g].pass = groups[g].pass + 1
        pass = pass + 1
      elseif o.verbose then
        print("FAIL " .. why)
      end
    end
  end
  os.remove(tmp)
  os.remove(tmp .. ".in")
  os.remove(tmp .. ".b")
  table.sort(order)
  if not o.quiet then
    for _, g in ipairs(order) do
      local r = groups[g]
      print(string.format("%-32s %4d/%-4d %6.1f%%", g, r.pass, r.total,
                          100 * r.pass / r.total))
    end
  end
  local rate = total > 0 and 100 * pass / total or 0
  print(string.format("jsonata: %d/%d passed (%.1f%%), threshold %g%%%s",
                      pass, total, rate, o.threshold, skipped > 0 and
                      string.format("; %d skipped (expression file not " ..
                                    "shipped)", skipped) or ""))
  return rate >= o.threshold and 0 or 1
end

if arg and arg[0] and arg[0]:match("jsonata%.lua$") then
  os.exit(M.main(arg))
end
return M
