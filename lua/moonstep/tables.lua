-- moonstep.tables - DynamoDB-like tables for handlers, in the style of
-- DynamoDB's DocumentClient: items are plain Lua values (strings, numbers,
-- booleans, moonstep.json.null, lists, maps), the store is the moonstep
-- database (or a file named with tables.open). The C core
-- (moonstep.core.tables, engine/ltables.c over engine/tables.c) does the
-- work; this file shapes the friendly API.
--
--   local tables = require "moonstep.tables"
--   tables.create{name = "users", key = "id", sort = "ts:N",
--                 indexes = {{name = "by_email", key = "email"}}}
--   local users = tables.users            -- or tables.table("users")
--   users:put{id = "u1", ts = 1, email = "a@example.com"}
--   users:get{id = "u1", ts = 1}
--   users:update({id = "u1", ts = 1}, "SET visits = visits + :one",
--                {values = {[":one"] = 1}})
--   local items, last = users:query{where = "id = :id",
--                                   values = {[":id"] = "u1"}}
--   users:batch_write(list_of_items)
--   tables.transact_write{{table = "users", put = item,
--                          condition = "attribute_not_exists(id)"}, ...}
--
-- Failures raise an error table {code =, message =, errorType =,
-- errorMessage = [, item =][, reasons =]} (tostring gives "code:
-- message"); a handler that lets one escape fails its Task with Error =
-- the DynamoDB exception name, as a Lambda function would.
local core = require "moonstep.core.tables"

local M = {}

-- ---- errors ----------------------------------------------------------------

local Error = {}
Error.__index = Error
Error.__tostring = function(e) return e.code .. ": " .. e.message end

local function raise(name, message, detail, level)
  local e = setmetatable({code = name, message = message,
                          errorType = name, errorMessage = message}, Error)
  if detail then
    e.item = detail.Item
    e.reasons = detail.CancellationReasons
  end
  error(e, level or 3)
end

M.Error = Error

-- Run an action; raise on failure.
local function run(h, action, req)
  local r, name, message, detail = h:call(action, req)
  if r == nil then raise(name, message, detail, 4) end
  return r
end

-- ---- option names ----------------------------------------------------------

-- Friendly option -> AWS request field. Fields written as AWS spells
-- them (Capitalized) pass through unchanged.
local option_names = {
  condition = "ConditionExpression", names = "ExpressionAttributeNames",
  values = "ExpressionAttributeValues", return_values = "ReturnValues",
  return_on_failure = "ReturnValuesOnConditionCheckFailure",
  where = "KeyConditionExpression", key_condition = "KeyConditionExpression",
  filter = "FilterExpression", projection = "ProjectionExpression",
  index = "IndexName", limit = "Limit", start = "ExclusiveStartKey",
  forward = "ScanIndexForward", select = "Select", segment = "Segment",
  segments = "TotalSegments", consistent = "ConsistentRead",
}

local function request(tname, opts, extra)
  local req = {TableName = tname}
  for k, v in pairs(opts or {}) do
    local aws = option_names[k]
    if aws then req[aws] = v
    elseif type(k) == "string" and k:match("^%u") then req[k] = v
    else error("moonstep.tables: unknown option '" .. tostring(k) .. "'", 4)
    end
  end
  for k, v in pairs(extra or {}) do req[k] = v end
  return req
end

-- ---- a table ---------------------------------------------------------------

local Table = {}
Table.__index = Table

-- put(item[, opts]): write item (replacing any with its key). Returns the
-- old item when opts.return_values = "ALL_OLD".
function Table:put(item, opts)
  local r = run(self.h, "PutItem", request(self.name, opts, {Item = item}))
  return r.Attributes
end

-- get(key[, opts]): the item, or nil.
function Table:get(key, opts)
  return run(self.h, "GetItem", request(self.name, opts, {Key = key})).Item
end

-- update(key, expr[, opts]): apply the UpdateExpression; returns the new
-- item (opts.return_values chooses otherwise; "NONE": nothing).
function Table:update(key, expr, opts)
  local req = request(self.name, opts, {Key = key, UpdateExpression = expr})
  req.ReturnValues = req.ReturnValues or "ALL_NEW"
  return run(self.h, "UpdateItem", req).Attributes
end

-- delete(key[, opts]): remove the item; returns it (nil if there was none).
function Table:delete(key, opts)
  local req = request(self.name, opts, {Key = key})
  req.ReturnValues = req.ReturnValues or "ALL_OLD"
  return run(self.h, "DeleteItem", req).Attributes
end

local function page(self, action, opts)
  local r = run(self.h, action, request(self.name, opts))
  return r.Items or {}, r.LastEvaluatedKey, r.Count, r.ScannedCount
end

-- query{where = "pk = :v ...", values =, names =, filter =, index =,
-- limit =, start =, forward =, projection =, select =}: one page.
-- Returns items, last_key (nil at the end), count, scanned_count.
function Table:query(opts) return page(self, "Query", opts) end

-- scan{filter =, values =, names =, index =, limit =, start =,
-- segment =, segments =, projection =, select =}: one page, as query.
function Table:scan(opts) return page(self, "Scan", opts) end

-- Every item of a query or scan, page after page: for item in t:each(...)
local function each(self, action, opts)
  opts = opts or {}
  local items, last, i = nil, nil, 0
  local started = false
  return function()
    while true do
      if items and i < #items then
        i = i + 1
        return items[i]
      end
      if started and last == nil then return nil end
      local o = {}
      for k, v in pairs(opts) do o[k] = v end
      o.start = last
      items, last = page(self, action, o)
      started, i = true, 0
    end
  end
end

function Table:query_all(opts) return each(self, "Query", opts) end
function Table:scan_all(opts) return each(self, "Scan", opts) end

-- batch_write(items[, deletes]): put every item of the list and delete
-- every key of deletes, in one transaction (all or none; any size).
function Table:batch_write(items, deletes)
  if (deletes == nil or #deletes == 0) and items and #items > 0 then
    local ok, name, message = self.h:put_many(self.name, items)
    if ok then return true end
    if ok == nil then raise(name, message, nil, 3) end
  end
  local reqs, n = {}, 0
  for _, item in ipairs(items or {}) do
    n = n + 1
    reqs[n] = {PutRequest = {Item = item}}
  end
  for _, key in ipairs(deletes or {}) do
    n = n + 1
    reqs[n] = {DeleteRequest = {Key = key}}
  end
  if n == 0 then return true end
  run(self.h, "BatchWriteItem", {RequestItems = {[self.name] = reqs}})
  return true
end

-- writer(): a batch writer for many items. w:add(item) turns the item
-- into its stored form at once, so the Lua table can be dropped (or
-- reused) right away: a long ingest keeps no items on the Lua heap;
-- w:flush() writes every item added since the last flush in one
-- transaction, as batch_write (all or none; they are forgotten either
-- way); #w: the items waiting. add raises on an item that cannot be
-- stored (a bad value), flush on a failed write (a missing key).
local Writer = {}
Writer.__index = Writer
Writer.__len = function(w) return #w.w end

function Writer:add(item)
  local ok, name, message = self.w:add(item)
  if not ok then raise(name, message, nil, 3) end
end

function Writer:flush()
  local ok, name, message = self.w:flush()
  if not ok then raise(name, message, nil, 3) end
  return true
end

function Table:writer()
  local w, name, message = self.h:writer(self.name)
  if not w then raise(name, message, nil, 3) end
  return setmetatable({w = w}, Writer)
end

-- batch_get(keys[, opts]): the items found (any order, missing ones left
-- out); opts.projection / opts.names as for get.
function Table:batch_get(keys, opts)
  if #keys == 0 then return {} end
  -- keys of string attributes, no option but a projection: the core's
  -- direct path (same request, same answer, no generic conversion)
  local proj, fast = opts and opts.projection, true
  for k in pairs(opts or {}) do
    if k ~= "projection" then fast = false end
  end
  if fast and (proj == nil or type(proj) == "string") then
    local r, name, message, detail = self.h:batch_get(self.name, keys, proj)
    if r == nil then raise(name, message, detail, 3) end
    if r then return r end
  end
  local spec = {Keys = keys}
  for k, v in pairs(opts or {}) do spec[option_names[k] or k] = v end
  local r = run(self.h, "BatchGetItem", {RequestItems = {[self.name] = spec}})
  return r.Responses[self.name] or {}
end

-- describe(): DescribeTable's Table.
function Table:describe()
  return run(self.h, "DescribeTable", {TableName = self.name}).Table
end

function Table:count()
  local n, last = 0, nil
  repeat
    local _, l, c = page(self, "Scan", {select = "COUNT", start = last})
    n, last = n + c, l
  until last == nil
  return n
end

-- ---- a database ------------------------------------------------------------

local Db = {}

local function key_def(spec, ktype, defs, seen)
  local name, ty = spec:match("^([^:]+):?(%u?)$")
  if not name then error("moonstep.tables: bad key '" .. spec .. "'", 4) end
  ty = ty ~= "" and ty or "S"
  if not seen[name] then
    seen[name] = true
    defs[#defs + 1] = {AttributeName = name, AttributeType = ty}
  end
  return {AttributeName = name, KeyType = ktype}
end

local function schema(opts, defs, seen)
  local ks = {key_def(opts.key, "HASH", defs, seen)}
  if opts.sort then ks[2] = key_def(opts.sort, "RANGE", defs, seen) end
  return ks
end

local methods = {}

-- create{name =, key = "id[:S|N|B]", sort = "ts:N", indexes = {{name =,
-- key =, sort = [, projection = "KEYS_ONLY" | include = {"attr", ...}]}}}:
-- make a table (indexes project ALL by default); returns its
-- description. An existing
-- table raises ResourceInUseException unless if_not_exists = true.
function methods.create(self, opts)
  assert(type(opts) == "table" and opts.name and opts.key,
         "moonstep.tables.create: name and key are required")
  local defs, seen = {}, {}
  local req = {TableName = opts.name, AttributeDefinitions = defs,
               KeySchema = schema(opts, defs, seen),
               BillingMode = "PAY_PER_REQUEST"}
  if opts.indexes and #opts.indexes > 0 then
    local gsis = {}
    for i, ix in ipairs(opts.indexes) do
      local proj = {ProjectionType = ix.include and "INCLUDE"
                                     or ix.projection or "ALL",
                    NonKeyAttributes = ix.include}
      gsis[i] = {IndexName = ix.name, KeySchema = schema(ix, defs, seen),
                 Projection = proj}
    end
    req.GlobalSecondaryIndexes = gsis
  end
  local r, name, message = self._h:call("CreateTable", req)
  if r then return r.TableDescription end
  if name == "ResourceInUseException" and opts.if_not_exists then
    return self:describe(opts.name)
  end
  raise(name, message, nil, 3)
end

function methods.describe(self, name)
  return run(self._h, "DescribeTable", {TableName = name}).Table
end

function methods.list(self)
  local names, start = {}, nil
  repeat
    local r = run(self._h, "ListTables", {ExclusiveStartTableName = start})
    for _, n in ipairs(r.TableNames) do names[#names + 1] = n end
    start = r.LastEvaluatedTableName
  until start == nil
  return names
end

function methods.drop(self, name)
  run(self._h, "DeleteTable", {TableName = name})
  return true
end

function methods.table(self, name)
  local t = self._tables[name]
  if not t then
    t = setmetatable({name = name, h = self._h}, Table)
    self._tables[name] = t
  end
  return t
end

-- transact_write{{table =, put = item | update = key, expr = | delete =
-- key | check = key, condition =, names =, values =}, ...}: all or none;
-- a failed condition raises TransactionCanceledException whose reasons
-- list each action's outcome.
function methods.transact_write(self, actions)
  local items = {}
  for i, a in ipairs(actions) do
    local opts = {}
    for k, v in pairs(a) do
      if k ~= "table" and k ~= "put" and k ~= "update" and k ~= "delete"
         and k ~= "check" and k ~= "expr" then opts[k] = v end
    end
    if a.put then
      items[i] = {Put = request(a.table, opts, {Item = a.put})}
    elseif a.update then
      items[i] = {Update = request(a.table, opts, {Key = a.update,
                                                  UpdateExpression = a.expr})}
    elseif a.delete then
      items[i] = {Delete = request(a.table, opts, {Key = a.delete})}
    elseif a.check then
      items[i] = {ConditionCheck = request(a.table, opts, {Key = a.check})}
    else
      items[i] = a  -- AWS's own shape
    end
  end
  run(self._h, "TransactWriteItems", {TransactItems = items})
  return true
end

-- The AWS face: call(action, request) with plain values, raw(action,
-- request) with AttributeValue JSON; both raise on failure.
function methods.call(self, action, req) return run(self._h, action, req) end
function methods.raw(self, action, req)
  local r, name, message, detail = self._h:raw(action, req)
  if r == nil then raise(name, message, detail, 3) end
  return r
end

-- open{db = PATH}: the tables of another SQLite file (default: the
-- moonstep database).
function methods.open(_, opts)
  local path = type(opts) == "table" and opts.db or opts
  local h = assert(core.open(path))
  return setmetatable({_h = h, _tables = {}, path = path}, Db)
end

-- Methods work with either db:create{...} or db.create{...}.
Db.__index = function(self, k)
  local m = methods[k]
  if m then
    local bound = function(first, ...)
      if first == self then return m(self, ...) end
      return m(self, first, ...)
    end
    rawset(self, k, bound)
    return bound
  end
  if type(k) == "string" and k:sub(1, 1) ~= "_" then
    return methods.table(self, k)
  end
  return nil
end

-- The module itself is the default database, opened on first use.
local default
local function get_default()
  if not default then
    default = methods.open(nil, nil)
  end
  return default
end

return setmetatable(M, {
  __index = function(_, k)
    if k == "path" then return core.default_path() end
    if k == "open" then return function(first, ...)
      if first == M then return methods.open(nil, ...) end
      return methods.open(nil, first, ...)
    end end
    local db = get_default()
    local v = db[k]
    if type(v) == "function" then
      return function(first, ...)
        if first == M then return v(db, ...) end
        return v(first, ...)
      end
    end
    return v
  end,
})
