-- s3_svc_spec.lua - the S3 Task resources inside state machines
-- (engine/svc_s3.c over engine/s3.c), through the moonstep binary with a
-- scratch buckets folder: each aws-sdk:s3 action with the SDK's request
-- and response shapes, s3:getObject/putObject, errors caught under
-- Step Functions' names (S3.NoSuchKeyException, ...), a Lua handler
-- reading what a Task wrote.
local S = require "support"
local json = require "cjson"

local PRE = "arn:aws:states:::"

local HOME = (function()
  local p = assert(io.popen("pwd"))
  local d = p:read("l")
  p:close()
  return d
end)()

local function chain(states)
  local def = {StartAt = "S1", States = {}}
  for i, st in ipairs(states) do
    st.Type = st.Type or "Task"
    if i < #states then st.Next = "S" .. (i + 1) else st.End = true end
    def.States["S" .. i] = st
  end
  return def
end

-- A Task that catches every error into $.err and ends.
local function catching(resource, params)
  return {StartAt = "T", States = {
    T = {Type = "Task", Resource = resource, Parameters = params,
         Catch = {{ErrorEquals = {"States.ALL"}, ResultPath = "$.err",
                   Next = "Done"}}, End = true},
    Done = {Type = "Pass", End = true}}}
end

describe("#binary S3 integrations", function()
  local tmp
  before_each(function()
    S.require_binary()
    tmp = S.tmpdir("s3-svc")
    os.execute("mkdir -p " .. S.shquote(tmp .. "/buckets/data") .. " " ..
               S.shquote(tmp .. "/tasks"))
  end)
  after_each(function() S.rmtree(tmp) end)

  local function run(def, input)
    S.spit(tmp .. "/m.json", json.encode(def))
    local out, err, code = S.run(tmp, {"run", tmp .. "/m.json", "--input",
                                       json.encode(input or {}),
                                       "--db", tmp .. "/db"},
                                 "MOONSTEP_HOME=" .. S.shquote(HOME) ..
                                 " MOONSTEP_BUCKETS=" ..
                                 S.shquote(tmp .. "/buckets") .. " ", tmp)
    local ok, v = pcall(json.decode, out)
    return ok and v or out, err, code
  end

  it("puts, heads, gets, copies, lists and deletes (aws-sdk)", function()
    local out, err, code = run(chain{
      {Resource = PRE .. "aws-sdk:s3:putObject",
       Parameters = {Bucket = "data", Key = "a/hello.txt", Body = "hello",
                     ContentType = "text/plain"},
       ResultPath = "$.put"},
      {Resource = PRE .. "aws-sdk:s3:headObject",
       Parameters = {Bucket = "data", Key = "a/hello.txt"},
       ResultPath = "$.head"},
      {Resource = PRE .. "aws-sdk:s3:getObject",
       Parameters = {Bucket = "data", Key = "a/hello.txt"},
       ResultSelector = {["Body.$"] = "$.Body", ["ETag.$"] = "$.ETag",
                         ["ContentLength.$"] = "$.ContentLength",
                         ["ContentType.$"] = "$.ContentType"},
       ResultPath = "$.get"},
      {Resource = PRE .. "aws-sdk:s3:copyObject",
       Parameters = {Bucket = "data", Key = "b/copy.txt",
                     CopySource = "data/a/hello.txt"},
       ResultPath = "$.copy"},
      {Resource = PRE .. "aws-sdk:s3:listObjectsV2",
       Parameters = {Bucket = "data", MaxKeys = 1},
       ResultPath = "$.list"},
      {Resource = PRE .. "aws-sdk:s3:deleteObject",
       Parameters = {Bucket = "data", Key = "a/hello.txt"},
       ResultPath = "$.del"},
    })
    assert.are.equal(0, code, err)
    local etag = '"5d41402abc4b2a76b9719d911017c592"'
    assert.are.equal(etag, out.put.ETag)
    assert.are.equal(5, out.head.ContentLength)
    assert.are.equal("text/plain", out.head.ContentType)
    assert.are.equal(etag, out.head.ETag)
    assert.truthy(out.head.LastModified:match("^%d+%-%d+%-%d+T[%d:]+Z$"))
    assert.are.same({Body = "hello", ETag = etag, ContentLength = 5,
                     ContentType = "text/plain"}, out.get)
    assert.are.equal(etag, out.copy.CopyObjectResult.ETag)
    assert.are.equal(1, out.list.KeyCount)
    assert.is_true(out.list.IsTruncated)
    assert.are.equal("a/hello.txt", out.list.Contents[1].Key)
    assert.are.equal("STANDARD", out.list.Contents[1].StorageClass)
    assert.is_string(out.list.NextContinuationToken)
    assert.are.same({}, out.del)
    assert.is_nil(S.read(tmp .. "/buckets/data/a/hello.txt"))
    assert.are.equal("hello", S.read(tmp .. "/buckets/data/b/copy.txt"))
  end)

  it("s3:putObject and s3:getObject; a JSON Body is written as JSON",
     function()
    local out, err, code = run(chain{
      {Resource = PRE .. "s3:putObject",
       Parameters = {Bucket = "data", Key = "doc.json", ["Body.$"] = "$.doc"},
       ResultPath = "$.put"},
      {Resource = PRE .. "s3:getObject",
       Parameters = {Bucket = "data", Key = "doc.json"},
       ResultSelector = {["Body.$"] = "States.StringToJson($.Body)"},
       ResultPath = "$.get"},
    }, {doc = {a = 1}})
    assert.are.equal(0, code, err)
    assert.are.same({a = 1}, out.get.Body)
    assert.are.equal('{"a":1}', S.read(tmp .. "/buckets/data/doc.json"))
  end)

  it("fails with S3's errors as Step Functions names them", function()
    local cases = {
      {"aws-sdk:s3:getObject", {Bucket = "data", Key = "nope"},
       "S3.NoSuchKeyException", "^The specified key does not exist%. " ..
       "%(Service: S3, Status Code: 404, Request ID: %x+%)$"},
      {"aws-sdk:s3:headObject", {Bucket = "data", Key = "nope"},
       "S3.NoSuchKeyException"},
      {"aws-sdk:s3:getObject", {Bucket = "nobucket", Key = "k"},
       "S3.NoSuchBucketException"},
      {"aws-sdk:s3:listObjectsV2", {Bucket = "nobucket"},
       "S3.NoSuchBucketException"},
      {"aws-sdk:s3:putObject", {Bucket = "data", Key = "../x", Body = ""},
       "S3.InvalidArgumentException"},
      {"aws-sdk:s3:createBucket", {Bucket = "data"},
       "S3.BucketAlreadyOwnedByYouException"},
      {"aws-sdk:s3:putObject", {Bucket = "data"}, "States.Runtime"},
      {"aws-sdk:s3:selectObjectContent", {Bucket = "data"},
       "States.Runtime"},
    }
    for _, c in ipairs(cases) do
      local out, err, code = run(catching(PRE .. c[1], c[2]))
      if c[3] == "States.Runtime" then  -- States.ALL does not catch it
        assert.are.equal(1, code, err)
        assert.truthy(err:find("States.Runtime", 1, true), err)
        goto next
      end
      assert.are.equal(0, code, err)
      assert.are.equal(c[3], out.err.Error, c[1])
      if c[4] then assert.truthy(out.err.Cause:match(c[4]), out.err.Cause) end
      ::next::
    end
    assert.is_nil(S.read(tmp .. "/buckets/x"))
  end)

  it("a handler reads with moonstep.s3 what a Task put", function()
    S.spit(tmp .. "/tasks/Count.lua", [[
local s3 = require "moonstep.s3"
return {handler = function(event)
  local r = s3.get_object{Bucket = event.bucket, Key = event.key,
                          stream = true}
  local n = 0
  for _ in r:lines() do n = n + 1 end
  r:close()
  local ok, e = pcall(s3.get_object, {Bucket = event.bucket, Key = "none"})
  return {lines = n, missing = e.errorType}
end}
]])
    local out, err, code = run(chain{
      {Resource = PRE .. "aws-sdk:s3:putObject",
       Parameters = {Bucket = "data", Key = "l.txt", Body = "a\nb\nc\n"},
       ResultPath = "$.put"},
      {Resource = "arn:aws:lambda:us-east-1:123456789012:function:Count",
       Parameters = {bucket = "data", key = "l.txt"}},
    })
    assert.are.equal(0, code, err)
    assert.are.same({lines = 3, missing = "NoSuchKey"}, out)
  end)
end)
