-- ingest_rows.lua - the csv-ingest example's rules for one CSV row, shared
-- by its handlers (tasks/CSVToJSON.lua, tasks/WriteBatch.lua,
-- tasks/IngestSummary.lua): where the object named by an S3 event is, what
-- makes a row good, and the item a good row becomes. Not a handler itself
-- (require "ingest_rows" from a handler: tasks/ is on package.path).
--
-- A row: id,name,email,city,joined,balance,notes. Good when id is not
-- empty, email has an "@", joined is YYYY-MM-DD and balance a decimal
-- number; the item keeps id, name, email, joined, balance (a number) and
-- city and notes when not empty.
local M = {}

M.FIELDS = {"id", "name", "email", "city", "joined", "balance", "notes"}
M.TABLE = "Customers"

-- Percent-decoding of an event's object key ("+" is a space), as S3
-- encodes keys in event notifications.
local function unescape(k)
  return (k:gsub("+", " "):gsub("%%(%x%x)", function(h)
    return string.char(tonumber(h, 16))
  end))
end

-- The bucket and key an event names: an S3 notification (Records[1].s3,
-- key URL-encoded), an EventBridge "Object Created" event (detail, key
-- as is), or a plain {bucket =, key =}. Raises Ingest.BadEvent otherwise.
function M.object_of(event)
  if type(event) == "table" then
    local r = type(event.Records) == "table" and event.Records[1]
    if type(r) == "table" and type(r.s3) == "table" then
      local b, o = r.s3.bucket, r.s3.object
      if type(b) == "table" and type(o) == "table"
         and type(b.name) == "string" and type(o.key) == "string" then
        return b.name, unescape(o.key)
      end
    end
    local d = event.detail
    if type(d) == "table" and type(d.bucket) == "table"
       and type(d.object) == "table" and type(d.bucket.name) == "string"
       and type(d.object.key) == "string" then
      return d.bucket.name, d.object.key
    end
    if type(event.bucket) == "string" and type(event.key) == "string" then
      return event.bucket, event.key
    end
  end
  error({errorType = "Ingest.BadEvent",
         errorMessage = "expected an S3 event (Records[].s3 or an "
           .. "EventBridge Object Created detail)"})
end

-- The item of a good row (a table keyed by the header), or nil and why.
-- With in_place, rec itself becomes the item (balance a number, an empty
-- city or notes removed): for a caller whose header has no other fields
-- than FIELDS, it saves a second table per row.
function M.item(rec, in_place)
  local id = rec.id
  if id == nil or id == "" then return nil, "no id" end
  local email = rec.email
  if email == nil or not email:find("@", 1, true) then
    return nil, "bad email"
  end
  local joined = rec.joined
  if joined == nil or not joined:match("^%d%d%d%d%-%d%d%-%d%d$") then
    return nil, "bad joined date"
  end
  local b = rec.balance
  local balance = b and b:match("^%-?%d+%.?%d*$") and tonumber(b)
  if not balance then return nil, "bad balance" end
  if in_place then
    rec.balance = balance
    if rec.name == nil then rec.name = "" end
    if rec.city == "" then rec.city = nil end
    if rec.notes == "" then rec.notes = nil end
    return rec
  end
  local it = {id = id, name = rec.name or "", email = email,
              joined = joined, balance = balance}
  if rec.city and rec.city ~= "" then it.city = rec.city end
  if rec.notes and rec.notes ~= "" then it.notes = rec.notes end
  return it
end

-- Whether a header (a list of names) has exactly the fields of FIELDS,
-- each once: then item(rec, true) may be used on its records.
function M.exact_header(names)
  if type(names) ~= "table" or #names ~= #M.FIELDS then return false end
  local want = {}
  for _, f in ipairs(M.FIELDS) do want[f] = true end
  for _, n in ipairs(names) do
    if not want[n] then return false end
    want[n] = nil
  end
  return next(want) == nil
end

-- t marked as a JSON array, so an empty list stays [] (moonstep.json in
-- the handlers' host, moonstep.so's json under plain Lua).
local json
do
  local ok, j = pcall(require, "moonstep.json")
  if not ok then
    local ok2, m = pcall(require, "moonstep")
    j = ok2 and type(m) == "table" and m.json or nil
  end
  json = type(j) == "table" and j or nil
end
function M.array(t)
  if json and json.array then return json.array(t) end
  return t
end

-- The database the handlers write to: moonstep.tables (the engine's), or
-- M.tables when a spec sets it (a tables.open{db = ...}).
M.tables = nil
function M.db()
  return M.tables or require "moonstep.tables"
end

-- How many line numbers a summary lists (the counts are always whole).
M.MAX_LISTED = 1000

return M
