-- seeds.lua - builds the fuzz targets' seed corpora from the specs'
-- fixtures at run time (nothing generated is committed):
--   lua5.4 spec/fuzz/seeds.lua OUT
-- writes OUT/<target>/<n> for each target in spec/fuzz/, in the input
-- format that target's comment describes, plus the small hand-written
-- seeds in spec/fuzz/seeds/<target>/ when there are any. Run from the
-- repository's top level (make fuzz does).
package.path = "./spec/?.lua;" .. package.path
local J = require "conformance"

local out = assert(arg[1], "usage: lua5.4 spec/fuzz/seeds.lua OUT")
local MAX = 65536
local count = {}

local function shquote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function lines(cmd)
  local p = assert(io.popen(cmd))
  local t = {}
  for l in p:lines() do t[#t + 1] = l end
  p:close()
  return t
end

local function seed(target, text)
  if type(text) ~= "string" or #text > MAX then return end
  local n = (count[target] or 0) + 1
  if n == 1 then os.execute("mkdir -p " .. shquote(out .. "/" .. target)) end
  count[target] = n
  local f = assert(io.open(string.format("%s/%s/%d", out, target, n), "wb"))
  f:write(text)
  f:close()
end

local function cases(path)
  local text = slurp(path)
  if not text then return {} end
  local ok, v = pcall(J.decode, text, nil, true)
  return ok and type(v) == "table" and v or {}
end

local E = J.encode

-- Every JSON file of the fixtures and examples: the JSON parser's seeds,
-- and the definitions among them the compiler's.
for _, path in ipairs(lines("find spec/fixtures examples -name '*.json'" ..
                            " | sort")) do
  local text = slurp(path)
  seed("json", text)
  if path:match("%.asl%.json$") then seed("definition", text) end
  if path:match("/mock/") then seed("mock", text) end
end

for _, c in ipairs(cases("spec/fixtures/validate/cases.json")) do
  if c.definition ~= nil then seed("definition", E(c.definition)) end
end
for _, file in ipairs({ "cases.json", "review_cases.json" }) do
  for _, c in ipairs(cases("spec/fixtures/exec/" .. file)) do
    if c.definition ~= nil then seed("definition", E(c.definition)) end
    if c.input ~= nil then seed("json", E(c.input)) end
  end
end
for _, c in ipairs(cases("spec/fixtures/jpath/cases.json")) do
  if type(c.path) == "string" then
    seed("jpath", c.path .. "\n" .. E(c.input))
  end
end
for _, c in ipairs(cases("spec/fixtures/intrinsic/cases.json")) do
  if type(c.expr) == "string" then
    seed("intrinsic", c.expr .. "\n" .. E(c.input))
  end
end
for _, c in ipairs(cases("spec/fixtures/payload/cases.json")) do
  if c.template ~= nil then
    seed("template", "[" .. E(c.template) .. "," .. E(c.input) .. "]")
  end
end
for _, c in ipairs(cases("spec/fixtures/choice/cases.json")) do
  if c.rule ~= nil then
    seed("choice", "[" .. E(c.rule) .. "," .. E(c.input) .. "]")
  end
end
for _, c in ipairs(cases("spec/fixtures/validate/jsonloc.json")) do
  if type(c.pointer) == "string" and type(c.text) == "string" then
    seed("locate", c.pointer .. "\n" .. c.text)
  end
end

-- CSV: the default dialect in 7-byte chunks, and AWS's backslash one.
for _, c in ipairs(cases("spec/fixtures/csv/cases.json")) do
  if type(c.input) == "string" then
    seed("csv", "\0\6" .. c.input)
    seed("csv", "\8\63" .. c.input)
  end
end

-- DynamoDB expressions: kind byte, expression, then names/values/item.
local ddb_item
do
  local items = cases("spec/fixtures/ddbexpr/items.json")
  ddb_item = type(items) == "table" and items.doc or nil
end
for file, kind in pairs({ ["conditions.json"] = 0, ["keyconds.json"] = 1,
                          ["updates.json"] = 2, ["projections.json"] = 3,
                          ["errors.json"] = 4 }) do
  for _, c in ipairs(cases("spec/fixtures/ddbexpr/" .. file)) do
    if type(c.expr) == "string" then
      local parts = {}
      if type(c.names) == "table" then
        parts[#parts + 1] = '"names":' .. E(c.names)
      end
      if type(c.values) == "table" then
        parts[#parts + 1] = '"values":' .. E(c.values)
      end
      local item = c.item ~= nil and c.item or ddb_item
      if type(item) == "table" then
        parts[#parts + 1] = '"item":' .. E(item)
      end
      seed("ddbexpr", string.char(kind) .. c.expr .. "\n{" ..
           table.concat(parts, ",") .. "}")
    end
  end
end

-- JSONata: the reference suite's expressions with their data, when the
-- suite is beside the repository (../shared/jsonata/cases.jsonl).
do
  local fh = io.open(os.getenv("MOONSTEP_JSONATA") or
                     "../shared/jsonata/cases.jsonl", "rb")
  if fh then
    for l in fh:lines() do
      local ok, c = pcall(J.decode, l)
      if ok and type(c) == "table" and type(c.expr) == "string" and
         not c.expr:find("\n") then
        seed("jsonata", c.expr .. (c.data ~= nil and "\n" .. E(c.data) or ""))
      end
    end
    fh:close()
  end
end

-- Hand-written seeds (small; for targets the fixtures do not reach).
for _, path in ipairs(lines("find spec/fuzz/seeds -type f 2>/dev/null" ..
                            " | sort")) do
  local target = path:match("^spec/fuzz/seeds/([^/]+)/")
  if target then seed(target, slurp(path)) end
end

local names = {}
for t, n in pairs(count) do names[#names + 1] = t .. " " .. n end
table.sort(names)
print("seeds: " .. table.concat(names, ", "))
