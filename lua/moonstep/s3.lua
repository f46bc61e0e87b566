-- s3.lua - moonstep.s3: the local S3 buckets (s3://BUCKET/KEY is the file
-- KEY in the folder BUCKET of the buckets folder, .moonstep/buckets by
-- default, $MOONSTEP_BUCKETS or --buckets DIR) with the AWS SDK's request
-- and response shapes. A thin layer over moonstep.core.s3 (engine/ls3.c).
--
--   s3.get_object{Bucket=, Key=}       -> {Body=, ContentLength=, ETag=,
--                                          LastModified=, ContentType=}
--   s3.get_object{Bucket=, Key=, stream=true}
--                                      -> reader: the same fields but Body,
--                                         r:read(n), r:lines(), r:close()
--   s3.put_object{Bucket=, Key=, Body=[, ContentType=]} -> {ETag=}
--   s3.list_objects{Bucket=[, Prefix=, MaxKeys=, ContinuationToken=,
--                   StartAfter=, Delimiter=]}  -> ListObjectsV2's response
--   s3.delete_object{Bucket=, Key=}    -> {}
--   s3.head_object{Bucket=, Key=}      -> metadata as get_object, no Body
--   s3.copy_object{Bucket=, Key=, CopySource="bucket/key"}
--                                      -> {CopyObjectResult={ETag=, ...}}
--   s3.create_bucket{Bucket=}, s3.list_buckets() -> {Buckets={{Name=}..}}
--   s3.parse_uri("s3://b/k")           -> "b", "k"
--   s3.buckets_dir([dir])              -> the folder (dir sets it)
--
-- Failures raise {errorType = S3's code ("NoSuchKey", "NoSuchBucket",
-- "InvalidArgument", ...), errorMessage = S3's message}, so a handler that
-- lets one through fails its Task with Error "NoSuchKey".
local core = require "moonstep.core.s3"

local M = {}

local function raise(code, message)
  error({errorType = code, errorMessage = message,
         code = code, message = message}, 0)
end

local function check(v, code, message)
  if v == nil and code then raise(code, message) end
  return v
end

local function need(p, ...)
  if type(p) ~= "table" then
    error("moonstep.s3: expected a table of parameters", 3)
  end
  for _, k in ipairs{...} do
    if type(p[k]) ~= "string" then
      raise("InvalidArgument", ("%s must be a string"):format(k))
    end
  end
end

local Reader = {}
Reader.__index = Reader

function Reader:read(n)
  return self._r:read(n)
end

function Reader:close()
  self._r:close()
end

-- Lines without their "\n" (as io.lines), read in chunks.
function Reader:lines()
  local buf, pos, done = "", 1, false
  return function()
    while true do
      local nl = buf:find("\n", pos, true)
      if nl then
        local line = buf:sub(pos, nl - 1)
        pos = nl + 1
        return line
      end
      if done then
        if pos <= #buf then
          local line = buf:sub(pos)
          pos = #buf + 1
          return line
        end
        return nil
      end
      local chunk = self._r:read(65536)
      buf = buf:sub(pos)
      pos = 1
      if chunk then buf = buf .. chunk else done = true end
    end
  end
end

Reader.__close = Reader.close

function M.get_object(p)
  need(p, "Bucket", "Key")
  if p.stream then
    local r, meta, msg = core.open(p.Bucket, p.Key)
    if r == nil then raise(meta, msg) end
    meta._r = r
    return setmetatable(meta, Reader)
  end
  local body, meta, msg = core.get(p.Bucket, p.Key)
  check(body, meta, msg)
  meta.Body = body
  return meta
end

function M.head_object(p)
  need(p, "Bucket", "Key")
  return check(core.head(p.Bucket, p.Key))
end

function M.put_object(p)
  need(p, "Bucket", "Key")
  local body = p.Body
  if body == nil then body = "" end
  if type(body) ~= "string" then
    raise("InvalidArgument", "Body must be a string")
  end
  local meta = check(core.put(p.Bucket, p.Key, body, p.ContentType))
  return {ETag = meta.ETag}
end

function M.delete_object(p)
  need(p, "Bucket", "Key")
  check(core.delete(p.Bucket, p.Key))
  return {}
end

function M.copy_object(p)
  need(p, "Bucket", "Key", "CopySource")
  local sb, sk = p.CopySource:gsub("^/", ""):match("^([^/]+)/(.+)$")
  if not sb then raise("InvalidArgument", "Invalid copy source object key") end
  local meta = check(core.copy(sb, sk, p.Bucket, p.Key))
  return {CopyObjectResult = {ETag = meta.ETag,
                              LastModified = meta.LastModified}}
end

function M.list_objects(p)
  need(p, "Bucket")
  local req = {}
  for _, k in ipairs{"Prefix", "Delimiter", "ContinuationToken",
                     "StartAfter", "MaxKeys"} do
    req[k] = p[k]
  end
  return check(core.list(p.Bucket, req))
end
M.list_objects_v2 = M.list_objects

function M.create_bucket(p)
  need(p, "Bucket")
  check(core.create_bucket(p.Bucket))
  return {Location = "/" .. p.Bucket}
end

function M.list_buckets()
  local out = {}
  for i, name in ipairs(core.list_buckets()) do out[i] = {Name = name} end
  return {Buckets = out}
end

function M.parse_uri(uri)
  local b, k = tostring(uri):match("^s3://([^/]+)/?(.*)$")
  return b, k
end

M.buckets_dir = core.root

return M
