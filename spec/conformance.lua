-- conformance.lua - runs AWS-recorded Step Functions executions through
-- moonstep and compares status, output, error and cause with what AWS
-- recorded. Reports the pass rate per feature tag and overall, and one line
-- per failing case; exits 1 below the threshold.
--
--   lua5.4 spec/conformance.lua [--binary PATH] [--file JSONL]
--     [--filter SUBSTR] [--verbose] [--threshold 95] [--slow]
--     [--inprocess] [--timeout SECONDS] [--jobs N] [--keep]
--     [--wrap CMD [--wrap-status N]]
--
-- The cases live outside the repository (../shared/conformance/
-- aws-recorded.jsonl, or MOONSTEP_CONFORMANCE); see the README there.
-- Default mode runs the CLI once per case:
--   moonstep run DEF --input @IN --tasks DIR --clock virtual --describe
-- (--jobs of them at once, default 4); --inprocess uses moonstep.run from
-- the Lua module instead. --wrap puts CMD (shell words) before the
-- binary, e.g. valgrind (make memcheck); a case that exits with
-- --wrap-status N (the wrapper's error status) fails the whole run,
-- whatever the threshold.
--
-- JSON is read with a small decoder of its own (integers stay integers,
-- [] stays an array, null is a sentinel) so the comparison is exact and
-- the runner needs neither lua-cjson (which loses both) nor the module.
-- Required as a module ("conformance"), it returns that JSON toolkit.

local M = {}

----------------------------------------------------------------------------
-- JSON values: NULL sentinel, arrays marked, objects plain tables.

-- Key order of objects decoded with ordered = true (weak keys).
local ORDER = setmetatable({}, { __mode = "k" })

local NULL = setmetatable({}, { __tostring = function() return "null" end })
local ARRAY = { __name = "conformance.array" }
M.null = NULL

local function is_array(t)
  return getmetatable(t) == ARRAY
end
M.is_array = is_array

local escapes = {
  ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n",
  r = "\r", t = "\t",
}

local decode_value

local function fail(s, i, what)
  error(string.format("JSON: %s at offset %d", what, i), 0)
end

local function skip_ws(s, i)
  return (s:find("[^ \t\r\n]", i)) or #s + 1
end

local function decode_string(s, i)
  -- s:sub(i, i) == '"'
  local parts, j = {}, i + 1
  while true do
    local a, b = s:find('[%z\1-\31"\\]', j)
    if not a then fail(s, i, "unterminated string") end
    parts[#parts + 1] = s:sub(j, a - 1)
    local c = s:sub(a, a)
    if c == '"' then
      return table.concat(parts), a + 1
    elseif c == "\\" then
      local e = s:sub(a + 1, a + 1)
      if e == "u" then
        local hex = s:match("^%x%x%x%x", a + 2)
        if not hex then fail(s, a, "bad \\u escape") end
        local cp, nexti = tonumber(hex, 16), a + 6
        if cp >= 0xD800 and cp <= 0xDBFF then
          local lo = s:match("^\\u(%x%x%x%x)", nexti)
          lo = lo and tonumber(lo, 16)
          if lo and lo >= 0xDC00 and lo <= 0xDFFF then
            cp = 0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00)
            nexti = nexti + 6
          end
        end
        parts[#parts + 1] = utf8.char(cp)
        j = nexti
      else
        local r = escapes[e]
        if not r then fail(s, a, "bad escape") end
        parts[#parts + 1] = r
        j = a + 2
      end
    else
      fail(s, a, "control character in string")
    end
  end
end

local function decode_number(s, i)
  local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", i)
  if not num or num == "" or num == "-" then fail(s, i, "bad value") end
  local v
  if num:find("[.eE]") then
    v = tonumber(num)
  else
    v = math.tointeger(tonumber(num)) or tonumber(num)
  end
  if v == nil then fail(s, i, "bad number") end
  return v, i + #num
end

-- Decode an object; when spans is a table, record [start, stop] of the
-- raw text of each member value (used to copy definitions verbatim).
local ordered = false  -- set by decode for its duration
local function decode_object(s, i, depth, spans)
  local obj, keys = {}, nil
  if ordered then
    keys = {}
    ORDER[obj] = keys
  end
  i = skip_ws(s, i + 1)
  if s:sub(i, i) == "}" then return obj, i + 1 end
  while true do
    if s:sub(i, i) ~= '"' then fail(s, i, "expected a key") end
    local k
    k, i = decode_string(s, i)
    i = skip_ws(s, i)
    if s:sub(i, i) ~= ":" then fail(s, i, "expected ':'") end
    i = skip_ws(s, i + 1)
    local start = i
    if keys and obj[k] == nil then keys[#keys + 1] = k end
    obj[k], i = decode_value(s, i, depth + 1)
    if spans then spans[k] = { start, i - 1 } end
    i = skip_ws(s, i)
    local c = s:sub(i, i)
    if c == "}" then return obj, i + 1 end
    if c ~= "," then fail(s, i, "expected ',' or '}'") end
    i = skip_ws(s, i + 1)
  end
end

local function decode_array(s, i, depth)
  local arr = setmetatable({}, ARRAY)
  i = skip_ws(s, i + 1)
  if s:sub(i, i) == "]" then return arr, i + 1 end
  while true do
    arr[#arr + 1], i = decode_value(s, i, depth + 1)
    i = skip_ws(s, i)
    local c = s:sub(i, i)
    if c == "]" then return arr, i + 1 end
    if c ~= "," then fail(s, i, "expected ',' or ']'") end
    i = skip_ws(s, i + 1)
  end
end

function decode_value(s, i, depth, spans)
  if depth > 200 then fail(s, i, "nesting too deep") end
  i = skip_ws(s, i)
  local c = s:sub(i, i)
  if c == "{" then return decode_object(s, i, depth, spans)
  elseif c == "[" then return decode_array(s, i, depth)
  elseif c == '"' then return decode_string(s, i)
  elseif s:find("^true", i) then return true, i + 4
  elseif s:find("^false", i) then return false, i + 5
  elseif s:find("^null", i) then return NULL, i + 4
  end
  return decode_number(s, i)
end

-- decode(text [, spans [, ordered]]) -> value; raises "JSON: ..." on bad
-- input. With ordered, objects remember their key order for encode.
function M.decode(s, spans, keep_order)
  ordered = keep_order and true or false
  local ok, v, i = pcall(decode_value, s, 1, 0, spans)
  ordered = false
  if not ok then error(v, 0) end
  i = skip_ws(s, i)
  if i <= #s then fail(s, i, "trailing text") end
  return v
end

local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    local m = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n",
                ["\r"] = "\\r", ["\t"] = "\\t" }
    return m[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

-- Compact JSON text; keys in their decoded order when known, else sorted.
function M.encode(v)
  local t = type(v)
  if v == NULL or v == nil then return "null"
  elseif t == "boolean" then return tostring(v)
  elseif t == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    return string.format("%.17g", v)
  elseif t == "string" then return encode_string(v)
  elseif t == "table" then
    local out = {}
    if is_array(v) then
      for k = 1, #v do out[k] = M.encode(v[k]) end
      return "[" .. table.concat(out, ",") .. "]"
    end
    local keys = ORDER[v]
    if not keys then
      keys = {}
      for k in pairs(v) do keys[#keys + 1] = tostring(k) end
      table.sort(keys)
    end
    for n, k in ipairs(keys) do
      out[n] = encode_string(k) .. ":" .. M.encode(v[k])
    end
    return "{" .. table.concat(out, ",") .. "}"
  end
  return encode_string(tostring(v))
end

-- Deep equality: numbers by value, arrays and objects distinct, key order
-- irrelevant.
function M.equal(a, b)
  if a == b then return true end
  local ta, tb = type(a), type(b)
  if ta ~= "table" or tb ~= "table" or a == NULL or b == NULL then
    return false
  end
  if is_array(a) ~= is_array(b) then return false end
  if is_array(a) then
    if #a ~= #b then return false end
    for k = 1, #a do
      if not M.equal(a[k], b[k]) then return false end
    end
    return true
  end
  for k, v in pairs(a) do
    if b[k] == nil or not M.equal(v, b[k]) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end

----------------------------------------------------------------------------
-- Running cases.

local function shquote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function clip(s, n)
  n = n or 160
  s = tostring(s):gsub("%s+", " ")
  if #s > n then return s:sub(1, n - 3) .. "..." end
  return s
end

-- "expected E got G" for two texts; long ones are shown from a little
-- before their first difference.
local function differ(label, e, g)
  if #e > 100 or #g > 100 then
    local i = 1
    while i <= #e and e:byte(i) == g:byte(i) do i = i + 1 end
    local from = math.max(1, i - 30)
    local lead = from > 1 and "..." or ""
    e, g = lead .. e:sub(from), lead .. g:sub(from)
  end
  return label .. ": expected " .. clip(e, 110) .. " got " .. clip(g, 110)
end

-- Loose equality for cases whose recording replaced values (--placeholders):
-- a "<...>" in an expected string (<uuid:1>, <region>, ...) matches any
-- text; a string holding JSON is compared by its value; a Lambda error
-- object's "stackTrace" is left out (a Python trace against a Lua one).
local function loose_equal(e, g)
  if M.equal(e, g) then return true end
  if type(e) == "string" and type(g) == "string" then
    if e:find("<[^>]+>") then
      local pat = "^" .. e:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")
                         :gsub("<[^>]+>", ".-") .. "$"
      if g:match(pat) then return true end
    end
    local ok1, de = pcall(M.decode, e)
    local ok2, dg = pcall(M.decode, g)
    if ok1 and ok2 and type(de) == "table" and type(dg) == "table" then
      return loose_equal(de, dg)
    end
    return false
  end
  if type(e) ~= "table" or type(g) ~= "table" or e == NULL or g == NULL
     or is_array(e) ~= is_array(g) then
    return false
  end
  if is_array(e) then
    if #e ~= #g then return false end
    for k = 1, #e do
      if not loose_equal(e[k], g[k]) then return false end
    end
    return true
  end
  local lambda_error = e.errorType ~= nil and g.errorType ~= nil
  for k, v in pairs(e) do
    if not (lambda_error and k == "stackTrace") then
      if g[k] == nil or not loose_equal(v, g[k]) then return false end
    end
  end
  for k in pairs(g) do
    if e[k] == nil and not (lambda_error and k == "stackTrace") then
      return false
    end
  end
  return true
end

-- Why a case is not run, or nil when it is.
local function skip_reason(c, opts)
  if c.placeholders and c.placeholders ~= NULL and c.placeholders ~= false
     and not (type(c.placeholders) == "table" and next(c.placeholders) == nil)
     and not opts.placeholders
  then
    return "placeholders"
  end
  if c.slow == true and not opts.slow then return "slow" end
  if opts.filter and not c.id:find(opts.filter, 1, true) then
    return "filter"
  end
  return nil
end

-- Compare a describe object with the recorded expectation: nil when they
-- agree, else a one-line reason.
local function compare(case, got, loose)
  local exp = case.expected
  local equal = loose and loose_equal or M.equal
  if type(got) ~= "table" or is_array(got) then
    return "describe is not an object: " .. clip(M.encode(got))
  end
  if got.status ~= exp.status then
    local detail
    if got.status == "SUCCEEDED" then
      detail = "output=" .. M.encode(got.output)
    else
      detail = "error=" .. M.encode(got.error) .. " cause=" ..
               M.encode(got.cause)
    end
    return string.format("status: expected %s got %s (%s)", exp.status,
                         tostring(got.status), detail)
  end
  if exp.status == "SUCCEEDED" then
    if not equal(exp.output, got.output) then
      return differ("output", M.encode(exp.output), M.encode(got.output))
    end
    return nil
  end
  local eerr = exp.error
  if eerr == nil then eerr = NULL end
  local gerr = got.error
  if gerr == nil then gerr = NULL end
  if not M.equal(eerr, gerr) then
    return "error: expected " .. M.encode(eerr) .. " got " ..
           M.encode(gerr) .. " (cause " .. clip(M.encode(got.cause), 80) ..
           ")"
  end
  if case.cause_is_json_text then
    local ok, gc = pcall(M.decode, type(got.cause) == "string" and
                                   got.cause or "")
    if not ok or not equal(exp.cause, gc) then
      return differ("cause (JSON)", M.encode(exp.cause), ok and
                    M.encode(gc) or M.encode(got.cause))
    end
  elseif type(exp.cause) == "string" and
         not equal(exp.cause, got.cause) then
    return differ("cause", M.encode(exp.cause), M.encode(got.cause))
  end
  return nil
end
M.compare = compare

-- The shell command that runs one case; its exit status goes to dir/rc.
local function binary_command(opts, dir, case)
  return string.format(
    "timeout -k 2 %d %s%s run %s --input @%s --tasks %s --clock virtual " ..
    "--describe%s >%s 2>%s </dev/null; echo $? >%s",
    opts.timeout, opts.wrap and opts.wrap .. " " or "",
    shquote(opts.binary), shquote(dir .. "/def.json"),
    shquote(dir .. "/input.json"), shquote(dir .. "/tasks"),
    case.state_machine_type == "EXPRESS" and " --express" or "",
    shquote(dir .. "/out.json"), shquote(dir .. "/err.txt"),
    shquote(dir .. "/rc"))
end

-- Read what binary_command left in dir: the describe object, or nil and
-- a reason.
local function binary_result(opts, dir)
  local rc = math.tointeger(tonumber(read_file(dir .. "/rc") or ""))
  local stderr = read_file(dir .. "/err.txt") or ""
  if rc == nil then return nil, "no exit status" end
  if opts.wrap_status and rc == opts.wrap_status then
    return nil, "the wrapper reported errors: " .. clip(stderr, 2000), true
  end
  if rc == 124 or rc == 137 then
    return nil, "timed out after " .. opts.timeout .. "s"
  end
  if rc > 128 then
    return nil, string.format("killed by signal %d: %s", rc - 128,
                              clip(stderr, 120))
  end
  if rc ~= 0 and rc ~= 1 then
    return nil, string.format("exit %d: %s", rc, clip(stderr, 120))
  end
  local text = read_file(dir .. "/out.json") or ""
  local ok, got = pcall(M.decode, text)
  if not ok then
    return nil, string.format("exit %d, stdout not JSON (%s): %s%s", rc,
                              got, clip(text, 60),
                              stderr ~= "" and " / " .. clip(stderr, 60)
                              or "")
  end
  local want = (type(got) == "table" and got.status == "SUCCEEDED") and 0
               or 1
  if rc ~= want then
    return nil, string.format("exit %d with status %s", rc,
                              tostring(type(got) == "table" and got.status))
  end
  return got
end

-- Run a batch of prepared cases, up to opts.jobs processes at once.
local function run_batch(opts, batch)
  local cmds = {}
  for n, b in ipairs(batch) do
    cmds[n] = "( " .. binary_command(opts, b.dir, b.case) .. " ) &"
    if opts.verbose then
      print("  $ " .. binary_command(opts, b.dir, b.case))
    end
  end
  os.execute(table.concat(cmds, "\n") .. "\nwait")
  for _, b in ipairs(batch) do
    b.got, b.reason, b.wrapped = binary_result(opts, b.dir)
  end
end

local moonstep_mod
local function run_inprocess(opts, dir, case, raw_def, raw_input)
  local ms = moonstep_mod
  local ok, def = pcall(ms.json.decode, raw_def)
  if not ok then return nil, "moonstep.json.decode(def): " .. clip(def) end
  local input
  ok, input = pcall(ms.json.decode, raw_input)
  if not ok then return nil, "moonstep.json.decode(input): " .. clip(input) end
  local ok2, res, diags = pcall(ms.run, def, input,
                                { tasks_dir = dir .. "/tasks",
                                  virtual_clock = true,
                                  express = case.state_machine_type ==
                                            "EXPRESS" })
  if not ok2 then return nil, "moonstep.run raised: " .. clip(res) end
  if res == nil then
    local d = type(diags) == "table" and diags[1]
    if type(d) == "table" then
      return nil, "invalid definition: " .. tostring(d.pointer) .. ": " ..
                  clip(d.message, 100)
    end
    return nil, "moonstep.run returned nil: " .. clip(tostring(diags))
  end
  local text
  ok, text = pcall(ms.json.encode, res)
  if not ok then return nil, "moonstep.json.encode: " .. clip(text) end
  local got
  ok, got = pcall(M.decode, text)
  if not ok then return nil, "bad JSON from encode: " .. clip(got) end
  return got
end

local function usage(msg)
  io.stderr:write((msg and msg .. "\n" or "") ..
    "usage: lua5.4 spec/conformance.lua [--binary PATH] [--file JSONL]\n" ..
    "  [--filter SUBSTR] [--verbose] [--threshold PCT] [--slow]\n" ..
    "  [--inprocess] [--timeout SECONDS] [--jobs N] [--keep]\n" ..
    "  [--placeholders]   also run cases with recorded placeholders,\n" ..
    "                     compared loosely (see loose_equal)\n" ..
    "  [--wrap CMD]       run the binary under CMD (e.g. valgrind)\n" ..
    "  [--wrap-status N]  a case exiting N fails the run (CMD's error)\n")
  os.exit(2)
end

local function parse_args(argv)
  local build = os.getenv("MOONSTEP_BUILD") or "build"
  local o = {
    binary = build .. "/moonstep",
    file = os.getenv("MOONSTEP_CONFORMANCE") or
           "../shared/conformance/aws-recorded.jsonl",
    threshold = 95, timeout = 30, jobs = 4,
  }
  local i = 1
  local function value()
    i = i + 1
    if argv[i] == nil then usage("missing value for " .. argv[i - 1]) end
    return argv[i]
  end
  while argv[i] do
    local a = argv[i]
    if a == "--binary" then o.binary = value()
    elseif a == "--file" then o.file = value()
    elseif a == "--filter" then o.filter = value()
    elseif a == "--threshold" then
      o.threshold = tonumber(value()) or usage("bad --threshold")
    elseif a == "--timeout" then
      o.timeout = math.tointeger(tonumber(value())) or usage("bad --timeout")
    elseif a == "--jobs" or a == "-j" then
      o.jobs = math.tointeger(tonumber(value())) or usage("bad --jobs")
      if o.jobs < 1 then usage("bad --jobs") end
    elseif a == "--verbose" then o.verbose = true
    elseif a == "--slow" then o.slow = true
    elseif a == "--inprocess" then o.inprocess = true
    elseif a == "--keep" then o.keep = true
    elseif a == "--placeholders" then o.placeholders = true
    elseif a == "--wrap" then o.wrap = value()
    elseif a == "--wrap-status" then
      o.wrap_status = math.tointeger(tonumber(value()))
                      or usage("bad --wrap-status")
    elseif a == "--help" or a == "-h" then usage()
    else usage("unknown option " .. a) end
    i = i + 1
  end
  return o
end

local function main(argv)
  local opts = parse_args(argv)
  local fh = io.open(opts.file, "rb")
  if not fh then
    io.stderr:write("conformance: cannot open " .. opts.file .. "\n")
    return 2
  end
  if opts.inprocess then
    local dir = opts.binary:match("^(.*)/[^/]*$") or "."
    package.cpath = dir .. "/?.so;" .. package.cpath
    local ok, ms = pcall(require, "moonstep")
    if not ok or type(ms) ~= "table" or type(ms.run) ~= "function" then
      io.stderr:write("conformance: --inprocess needs moonstep.run " ..
                      "(require \"moonstep\" from " .. dir .. "): " ..
                      tostring(ok and "no run function" or ms) .. "\n")
      return 2
    end
    moonstep_mod = ms
  else
    local f = io.open(opts.binary, "rb")
    if not f then
      io.stderr:write("conformance: no binary at " .. opts.binary .. "\n")
      return 2
    end
    f:close()
  end

  local p = io.popen("mktemp -d " .. shquote((os.getenv("TMPDIR") or "/tmp")
                     .. "/moonstep-conformance.XXXXXX"))
  local root = p:read("l")
  p:close()
  if not root or root == "" then
    io.stderr:write("conformance: mktemp failed\n")
    return 2
  end

  local per_feature, skipped, failures = {}, {}, {}
  local total, passed, lineno, wrapped = 0, 0, 0, 0
  local t0 = os.time()

  local function record(case, got, reason)
    if got then reason = compare(case, got, opts.placeholders) end
    local pass = reason == nil
    if pass then
      passed = passed + 1
    else
      failures[#failures + 1] = { id = case.id, reason = reason }
    end
    if opts.verbose then
      print((pass and "PASS " or "FAIL ") .. case.id ..
            (pass and "" or ": " .. reason))
    end
    local feats = case.features
    if type(feats) ~= "table" or #feats == 0 then feats = { "(none)" } end
    for _, f in ipairs(feats) do
      local r = per_feature[f] or { pass = 0, total = 0 }
      per_feature[f] = r
      r.total = r.total + 1
      if pass then r.pass = r.pass + 1 end
    end
  end

  -- Cases go in batches: one mkdir for all, files written, then run.
  local batch = {}
  local function flush()
    local dirs = {}
    for n, b in ipairs(batch) do dirs[n] = shquote(b.dir .. "/tasks") end
    os.execute("mkdir -p " .. table.concat(dirs, " "))
    for _, b in ipairs(batch) do
      write_file(b.dir .. "/def.json", b.raw_def)
      write_file(b.dir .. "/input.json", b.raw_input)
      if type(b.case.tasks) == "table" then
        for name, src in pairs(b.case.tasks) do
          write_file(b.dir .. "/tasks/" .. name .. ".lua", src)
        end
      end
    end
    if opts.inprocess then
      for _, b in ipairs(batch) do
        b.got, b.reason = run_inprocess(opts, b.dir, b.case, b.raw_def,
                                        b.raw_input)
      end
    else
      run_batch(opts, batch)
    end
    for _, b in ipairs(batch) do
      record(b.case, b.got, b.reason)
      if b.wrapped then wrapped = wrapped + 1 end
    end
    batch = {}
  end
  local batch_size = opts.inprocess and 32 or opts.jobs

  for line in fh:lines() do
    lineno = lineno + 1
    if line:find("%S") then
      local spans = {}
      local ok, case = pcall(M.decode, line, spans)
      if not ok then
        io.stderr:write(string.format("%s:%d: %s\n", opts.file, lineno,
                                      case))
        return 2
      end
      local why = skip_reason(case, opts)
      if why then
        skipped[why] = (skipped[why] or 0) + 1
      else
        total = total + 1
        batch[#batch + 1] = {
          case = case, dir = string.format("%s/%d", root, lineno),
          raw_def = line:sub(spans.definition[1], spans.definition[2]),
          raw_input = line:sub(spans.input[1], spans.input[2]),
        }
        if #batch >= batch_size then flush() end
      end
    end
  end
  if #batch > 0 then flush() end
  fh:close()
  if not opts.keep then os.execute("rm -rf " .. shquote(root)) end

  local names = {}
  for f in pairs(per_feature) do names[#names + 1] = f end
  table.sort(names)
  print(string.format("%-40s %6s %6s %7s", "feature", "pass", "total",
                      "rate"))
  for _, f in ipairs(names) do
    local r = per_feature[f]
    print(string.format("%-40s %6d %6d %6.1f%%", f, r.pass, r.total,
                        100 * r.pass / r.total))
  end
  if #failures > 0 then
    print("\nfailing cases:")
    for _, x in ipairs(failures) do
      print("  " .. x.id .. ": " .. clip(x.reason, 300))
    end
  end
  local skip_list = {}
  for k, n in pairs(skipped) do skip_list[#skip_list + 1] = k .. " " .. n end
  table.sort(skip_list)
  local rate = total > 0 and 100 * passed / total or 0
  print(string.format(
    "\nconformance: %d/%d passed (%.1f%%), threshold %g%%; skipped: %s; " ..
    "%s, %ds", passed, total, rate, opts.threshold,
    #skip_list > 0 and table.concat(skip_list, ", ") or "none",
    opts.inprocess and "in-process" or opts.binary, os.time() - t0))
  if total == 0 then
    print("conformance: no case selected")
    return 1
  end
  if wrapped > 0 then
    print(string.format("conformance: %s reported errors in %d case(s)",
                        opts.wrap, wrapped))
    return 1
  end
  return rate >= opts.threshold and 0 or 1
end
M.main = main

-- Run as a script (not when required by a spec).
if arg and arg[0] and arg[0]:match("conformance%.lua$") then
  os.exit(main(arg))
end
return M
