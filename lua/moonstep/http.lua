-- moonstep.http - HTTP requests for handlers and Lua scripts, over the C
-- core moonstep.core.http (engine/lhttp.c, libcurl).
--
--   local http = require "moonstep.http"
--   local r = http.request{method = "POST", url = "http://host/x",
--                          query = {page = 2}, json = {name = "ann"},
--                          headers = {["X-Id"] = "7"}, timeout = 5}
--   r.status, r.reason, r.headers["content-type"], r.body, r:json(), r.ok
--   http.get(url[, opts]), http.post(url, opts), http.put, http.delete
--
-- Options: method (default GET), url, query (table: keys sorted, a list
-- value repeats its key; or a string), headers (table name -> value),
-- body (string), json (any value: sent as JSON with Content-Type
-- application/json unless given), timeout (seconds, default 60),
-- follow_redirects (default true), max_body (bytes kept, default 64 MiB).
--
-- Any HTTP status is a response (check r.ok or r.status). No response at
-- all raises a table {errorType = "Http.Timeout" | "Http.DnsFailure" |
-- "Http.ConnectionRefused" | "Http.BodyTooLarge" | "Http.InvalidUrl" |
-- "Http.Error", errorMessage = "METHOD URL: why"}; raised in a handler it
-- becomes the Task's Error and Cause, as a Lambda error would.
--
-- Inside the engine a request does not block the scheduler: other
-- Parallel branches and Map iterations run while it waits.
local core = require "moonstep.core.http"
local json = require "moonstep.json"

local M = {}

-- RFC 3986 unreserved characters stay, everything else is %XX.
function M.escape(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(c)
    return string.format("%%%02X", c:byte())
  end))
end

local function scalar(v)
  if v == true then return "true" elseif v == false then return "false" end
  if v == json.null then return "null" end
  if math.type(v) == "float" and v == math.floor(v) and v > -1e15 and
      v < 1e15 then
    return string.format("%d", v)
  end
  return tostring(v)
end

-- A query string from a table (keys sorted; a list value repeats its key)
-- or a string (used as is).
function M.encode_query(q)
  if type(q) == "string" then return q end
  local keys = {}
  for k in pairs(q) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  local out = {}
  for _, k in ipairs(keys) do
    local v = q[k]
    if v == nil then v = q[tonumber(k)] end
    if type(v) == "table" and v ~= json.null then
      for _, item in ipairs(v) do
        out[#out + 1] = M.escape(k) .. "=" .. M.escape(scalar(item))
      end
    else
      out[#out + 1] = M.escape(k) .. "=" .. M.escape(scalar(v))
    end
  end
  return table.concat(out, "&")
end

-- Headers read case-insensitively: keys are stored lower-cased.
local headers_mt = {
  __index = function(t, k)
    if type(k) == "string" then return rawget(t, k:lower()) end
  end,
}

local response_mt = {}
response_mt.__index = response_mt

-- The body decoded as JSON (raises when it is not JSON).
function response_mt:json()
  return json.decode(self.body)
end

local function fail(kind, msg)
  error({errorType = "Http." .. kind, errorMessage = msg}, 0)
end

function M.request(opts)
  if type(opts) == "string" then opts = {url = opts} end
  if type(opts) ~= "table" then
    error("http.request: expected a table of options", 2)
  end
  local url = opts.url
  if type(url) ~= "string" or url == "" then
    error("http.request: url must be a non-empty string", 2)
  end
  if opts.query ~= nil then
    local qs = M.encode_query(opts.query)
    if qs ~= "" then
      url = url .. (url:find("?", 1, true) and "&" or "?") .. qs
    end
  end
  local hlist, have = {}, {}
  if opts.headers then
    local names = {}
    for k in pairs(opts.headers) do names[#names + 1] = tostring(k) end
    table.sort(names)
    for _, k in ipairs(names) do
      hlist[#hlist + 1] = {k, scalar(opts.headers[k])}
      have[k:lower()] = true
    end
  end
  local body = opts.body
  if opts.json ~= nil then
    body = json.encode(opts.json)
    if not have["content-type"] then
      hlist[#hlist + 1] = {"Content-Type", "application/json"}
    end
  end
  if body ~= nil then body = tostring(body) end
  local follow = opts.follow_redirects
  if follow == nil then follow = true end
  local r, kind, msg = core.request{
    method = string.upper(opts.method or "GET"), url = url,
    headers = hlist, body = body, timeout = opts.timeout,
    follow = follow, max_body = opts.max_body,
  }
  if not r then fail(kind, msg) end
  local h = setmetatable({}, headers_mt)
  for _, pair in ipairs(r.headers) do
    local k = pair[1]:lower()
    h[k] = h[k] and (h[k] .. ", " .. pair[2]) or pair[2]
  end
  r.headers = h
  r.ok = r.status >= 200 and r.status < 300
  return setmetatable(r, response_mt)
end

local function shorthand(method)
  return function(url, opts)
    local o = {}
    for k, v in pairs(opts or {}) do o[k] = v end
    o.method, o.url = method, url
    return M.request(o)
  end
end

M.get = shorthand("GET")
M.post = shorthand("POST")
M.put = shorthand("PUT")
M.patch = shorthand("PATCH")
M.delete = shorthand("DELETE")
M.head = shorthand("HEAD")

return M
