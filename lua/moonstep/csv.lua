-- csv.lua - moonstep.csv: CSV files, strings and streams as records, and
-- records back to CSV. A thin layer over moonstep.core.csv (engine/csv.c
-- parses; engine/lcsv.c builds the Lua tables): this file checks options
-- and opens and closes files.
--
--   for rec, line in csv.open(path, opts) do ... end   -- a file, streamed
--   for rec, line in csv.records(text, opts) do ... end
--   local recs, bad = csv.decode(text, opts)
--   local r = csv.reader(opts); r:feed(chunk) -> recs; r:finish() -> recs
--   csv.encode(rows, opts) -> text
--   local w = csv.writer(path_or_file, opts); w:write(rec); w:close()
--
-- Reading options (all optional):
--   delimiter   one byte: ",", "\t", ";", "|", " ", ...      default ","
--   quote       one byte, or false for none                  default '"'
--   header      true: the first row names the fields; an array: these
--               names; false/nil: records are arrays (with the
--               moonstep.json array marker)                  default nil
--   skip_empty  drop empty lines                             default true
--   convert     "true"/"false" -> booleans, decimal numbers
--               (-?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?) -> numbers, "" -> nil
--               (json.null in arrays, to keep positions)     default false
--   strict      raise on a bad record                        default true,
--               false when on_error is given
--   on_error    function(err) per bad record when not strict:
--               err = {line=, column=, message=, raw=, record_line=}
--   ragged      accept any number of fields per record       default false
--   backslash   AWS ItemReader escapes (\\ \" \<delimiter>)  default false
--   max_field, max_record   bytes; default 1 MiB and 8 MiB
--   reuse       the iterators (csv.open, csv.records, r:records) yield
--               one table for every record, refilled each time (every
--               field set, missing ones to nil; keys the caller added
--               stay): for a loop that does not keep the records; fewer
--               tables to make and collect                default false
-- Writing options: delimiter, quote, header (names, or true: the sorted
-- keys of the first keyed row), eol (default "\n").
local core = require "moonstep.core.csv"

local M = {}

M.FIELD_MAX = core.FIELD_MAX
M.RECORD_MAX = core.RECORD_MAX

local CHUNK = 1 << 16  -- bytes read from a file at a time

local READ_OPTS = {
  delimiter = "string", quote = "string|boolean", header = "table|boolean",
  skip_empty = "boolean", convert = "boolean", strict = "boolean",
  on_error = "function", ragged = "boolean", backslash = "boolean",
  max_field = "number", max_record = "number", reuse = "boolean",
}
local WRITE_OPTS = {
  delimiter = "string", quote = "string|boolean", header = "table|boolean",
  eol = "string", backslash = "boolean",
}

local function byte_opt(who, name, v)
  if type(v) == "string" and #v ~= 1 and not (name == "quote" and v == "")
  then
    error(string.format("%s: %s must be one byte, not %q", who, name, v), 3)
  end
  if v == "\r" or v == "\n" then
    error(string.format("%s: %s cannot be a line break", who, name), 3)
  end
end

-- A checked copy of opts.
local function check(who, opts, allowed)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then
    error(who .. ": options must be a table, not a " .. type(opts), 3)
  end
  local o = {}
  for k, v in pairs(opts) do
    local want = allowed[k]
    if not want then
      error(string.format("%s: unknown option %q", who, tostring(k)), 3)
    end
    if not want:find(type(v), 1, true) then
      error(string.format("%s: option %s must be a %s, not a %s", who, k,
                          want:gsub("|", " or "), type(v)), 3)
    end
    o[k] = v
  end
  byte_opt(who, "delimiter", o.delimiter)
  byte_opt(who, "quote", o.quote)
  if o.quote == true then o.quote = nil end
  local q = o.quote == nil and '"' or o.quote
  if o.delimiter and o.delimiter == q then
    error(who .. ": the delimiter and the quote must differ", 3)
  end
  for _, k in ipairs({"max_field", "max_record"}) do
    local v = o[k]
    if v ~= nil then
      v = math.tointeger(v)
      if not v or v < 1 then
        error(string.format("%s: %s must be a positive integer", who, k), 3)
      end
      o[k] = v
    end
  end
  if type(o.header) == "table" then
    for i, name in ipairs(o.header) do
      if type(name) ~= "string" then
        error(string.format("%s: header[%d] must be a string", who, i), 3)
      end
    end
  end
  if o.strict == nil then o.strict = o.on_error == nil end
  return o
end

-- Closes the file when a generic for ends, by break or error too.
local closer_mt = {__close = function(c) c.close() end}

--- Records of the file at path, streamed in bounded memory; yields each
--- record and the line it starts on. The file is closed at the end.
function M.open(path, opts)
  local o = check("csv.open", opts, READ_OPTS)
  local f, err = io.open(path, "rb")
  if not f then error("csv.open: " .. err, 2) end
  local open = true
  local function close()
    if open then
      open = false
      f:close()
    end
  end
  local p = core.parser(o)
  local next_rec, state = p:records(function()
    local chunk = open and f:read(CHUNK) or nil
    if not chunk then close() end
    return chunk
  end)
  return next_rec, state, nil, setmetatable({close = close}, closer_mt)
end

--- Records of a string; yields each record and its line.
function M.records(text, opts)
  if type(text) ~= "string" then
    error("csv.records: text must be a string, not a " .. type(text), 2)
  end
  local p = core.parser(check("csv.records", opts, READ_OPTS))
  return p:records(text)
end

--- All records of a string as an array, and the array of bad records
--- (empty unless strict is false).
function M.decode(text, opts)
  if type(text) ~= "string" then
    error("csv.decode: text must be a string, not a " .. type(text), 2)
  end
  local o = check("csv.decode", opts, READ_OPTS)
  local bad, user = {}, o.on_error
  o.on_error = function(err)
    bad[#bad + 1] = err
    if user then user(err) end
  end
  local p = core.parser(o)
  local recs = p:feed(text)
  local n = #recs
  for i, r in ipairs(p:finish()) do recs[n + i] = r end
  return recs, bad
end

--- A push reader: r:feed(chunk) -> records the chunk completes;
--- r:finish() -> the last ones; r:count(chunk|nil) counts without
--- building tables; r:header() -> the names once known.
function M.reader(opts)
  return core.parser(check("csv.reader", opts, READ_OPTS))
end

-- Whether a row is an array (else a table keyed by names).
local function is_array(row)
  return rawlen(row) > 0 or next(row) == nil
end

local function sorted_keys(row)
  local names = {}
  for k in pairs(row) do
    if type(k) == "string" then names[#names + 1] = k end
  end
  table.sort(names)
  return names
end

-- The encoder for rows and the one for the header line (nil when none).
local function encoders(o, first)
  local names = o.header
  if names == true then
    names = (type(first) == "table" and not is_array(first))
        and sorted_keys(first) or nil
  end
  if not names then
    o.header = nil
    return core.encoder(o), nil, nil
  end
  o.header = names
  local h = {}
  for k, v in pairs(o) do h[k] = v end
  h.header = nil
  return core.encoder(o), core.encoder(h), names
end

--- CSV text of an array of rows (arrays, or tables keyed by the header
--- names), quoting only where needed.
function M.encode(rows, opts)
  if type(rows) ~= "table" then
    error("csv.encode: rows must be a table, not a " .. type(rows), 2)
  end
  local o = check("csv.encode", opts, WRITE_OPTS)
  local enc, henc, names = encoders(o, rows[1])
  local body = enc:rows(rows)
  if henc then return henc:row(names) .. body end
  return body
end

local writer = {}
writer.__index = writer

--- A writer to a path (created or truncated) or an open file; rows as in
--- csv.encode. w:write(row), w:close() (closes only a file it opened).
function M.writer(target, opts)
  local o = check("csv.writer", opts, WRITE_OPTS)
  local f, own = target, false
  if type(target) == "string" then
    local err
    f, err = io.open(target, "wb")
    if not f then error("csv.writer: " .. err, 2) end
    own = true
  elseif type(target) ~= "userdata" and type(target) ~= "table" then
    error("csv.writer: expected a path or a file, not a " .. type(target),
          2)
  end
  local w = setmetatable({f = f, own = own, o = o}, writer)
  if type(o.header) == "table" then w:_start(nil) end
  return w
end

function writer:_start(first)
  self.enc, self.henc, self.names = encoders(self.o, first)
  if self.henc then self.f:write(self.henc:row(self.names)) end
end

function writer:write(row)
  if not self.f then error("csv.writer: write after close", 2) end
  if not self.enc then self:_start(row) end
  self.f:write(self.enc:row(row))
  return self
end

function writer:close()
  if not self.f then return end
  if self.own then self.f:close() else self.f:flush() end
  self.f = nil
end

writer.__close = writer.close
writer.__gc = function(w)
  if w.f and w.own then w.f:close() end
end

return M
