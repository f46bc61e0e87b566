-- gen.lua - sample customer CSVs of any size for the csv-ingest example:
-- a header line, then rows "id,name,email,city,joined,balance,notes" of
-- about 74 bytes on average, deterministic for a seed. Some notes are
-- quoted with commas, doubled quotes or a line break inside; some names
-- and cities are UTF-8; some cities and notes are empty.
--
--   lua5.4 examples/csv-ingest/gen.lua ROWS [options] > FILE
--     -o FILE     write FILE instead of standard output
--     --bad N     N malformed rows (a field missing, or a balance that is
--                 not a number), spread through the file
--     --noid N    N rows whose id is empty
--     --dup N     N rows repeating an earlier row's id
--     --seed S    the random seed (default 1)
--   It reports on stderr the rows written and, for each planted bad row,
--   the line it starts on ("bad line 17: ...").
--
-- As a module (the specs): require "gen".generate(opts, write) with opts
-- {rows=, bad=, noid=, dup=, seed=}; returns the planted rows
-- {{line=, kind="bad"|"noid"|"dup", id=}, ...}.
local M = {}

local FIRST = {"Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Linus",
               "Margaret", "Dennis", "Frances", "José", "Zoë", "Łukasz",
               "Søren", "Ngozi", "Hiroshi", "Amélie", "Björn"}
local LAST = {"Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov",
              "Thompson", "Torvalds", "Hamilton", "Ritchie", "Allen",
              "García", "Müller", "Nowak", "Øster", "Okafor", "Tanaka"}
local CITIES = {"Lisbon", "Berlin", "Paris", "Oslo", "Kraków", "Zürich",
                "São Paulo", "Lagos", "Tokyo", "Austin", "Reykjavík", ""}
local NOTES = {
  "", "", "", "", "", "", "", "", "", "",
  "vip", "call after 5pm", "prefers email",
  '"moved, new address pending"',
  '"says ""hi"" to everyone"',
  '"two lines:\nfirst, then second"',
  '"café, crème brûlée"',
}

local function pick(t) return t[math.random(#t)] end

local function lower_ascii(s)
  return (s:gsub("[^%w]", ""):lower())
end

-- Lines a field adds beyond its first (newlines inside quotes).
local function extra_lines(s)
  local _, n = s:gsub("\n", "")
  return n
end

-- Write the CSV through write(chunk); returns the planted rows.
function M.generate(opts, write)
  local rows = opts.rows or 1000
  math.randomseed(opts.seed or 1)
  local plan = {}        -- row number -> kind
  local free = rows - 1   -- the first row is never a planted one
  local function plant(n, kind)
    local placed = 0
    while placed < n and free > 0 do
      local r = math.random(2, rows)
      if not plan[r] then
        plan[r] = kind
        placed = placed + 1
        free = free - 1
      end
    end
  end
  plant(opts.bad or 0, "bad")
  plant(opts.noid or 0, "noid")
  plant(opts.dup or 0, "dup")

  local planted = {}
  local buf, nbuf = {}, 0
  local function out(s)
    nbuf = nbuf + 1
    buf[nbuf] = s
    if nbuf >= 512 then
      write(table.concat(buf, "", 1, nbuf))
      nbuf = 0
    end
  end
  out("id,name,email,city,joined,balance,notes\n")
  local line = 2
  for r = 1, rows do
    local id = string.format("c%07d", r)
    local first, last = pick(FIRST), pick(LAST)
    local name = first .. " " .. last
    local email = string.format("%s%d@example.com", lower_ascii(first),
                                r % 100)
    local city = pick(CITIES)
    if city:find(" ") then city = '"' .. city .. '"' end
    local joined = string.format("20%02d-%02d-%02d", math.random(10, 25),
                                 math.random(1, 12), math.random(1, 28))
    local balance = string.format("%d.%02d", math.random(0, 9999),
                                  math.random(0, 99))
    local notes = pick(NOTES)
    local kind = plan[r]
    local row
    if kind == "bad" then
      if r % 2 == 0 then
        row = table.concat({id, name, email}, ",")        -- fields missing
      else
        row = table.concat({id, name, email, city, joined, "12.5x", notes},
                           ",")            -- not a number
      end
    else
      if kind == "noid" then id = "" end
      if kind == "dup" then
        local src
        repeat src = math.random(1, r - 1) until not plan[src]
        id = string.format("c%07d", src)
      end
      row = table.concat({id, name, email, city, joined, balance, notes}, ",")
    end
    if kind then
      planted[#planted + 1] = {line = line, kind = kind, id = id}
    end
    out(row)
    out("\n")
    line = line + 1 + extra_lines(row)
  end
  if nbuf > 0 then write(table.concat(buf, "", 1, nbuf)) end
  return planted
end

local function main(args)
  local opts, path = {}, nil
  local i = 1
  while i <= #args do
    local a = args[i]
    local function num()
      i = i + 1
      local v = math.tointeger(tonumber(args[i] or ""))
      if not v or v < 0 then
        io.stderr:write("gen.lua: ", a, " needs a count\n")
        os.exit(2)
      end
      return v
    end
    if a == "-o" then i = i + 1; path = args[i]
    elseif a == "--bad" then opts.bad = num()
    elseif a == "--noid" then opts.noid = num()
    elseif a == "--dup" then opts.dup = num()
    elseif a == "--seed" then opts.seed = num()
    elseif a:match("^%d+$") then opts.rows = tonumber(a)
    else
      io.stderr:write("usage: lua5.4 gen.lua ROWS [-o FILE] [--bad N] "
                      .. "[--noid N] [--dup N] [--seed S]\n")
      os.exit(2)
    end
    i = i + 1
  end
  local f = path and assert(io.open(path, "wb")) or io.stdout
  local planted = M.generate(opts, function(s) f:write(s) end)
  if path then f:close() end
  io.stderr:write(string.format("gen.lua: %d rows\n", opts.rows or 1000))
  for _, p in ipairs(planted) do
    io.stderr:write(string.format("%s line %d: %s\n", p.kind, p.line, p.id))
  end
end

if not pcall(debug.getlocal, 4, 1) then
  main(arg)
end

return M
