-- s3_spec.lua - moonstep.s3 (lua/moonstep/s3.lua over engine/s3.c and
-- engine/ls3.c, reached through moonstep.so): keys as files under the
-- buckets folder, escape attempts refused, put/get/head/delete/copy with
-- S3's metadata (ETag = quoted MD5), ListObjectsV2 pages and delimiters,
-- streamed reads of a big object, S3's error names.
local s3 = require "moonstep.s3"
local S = require "support"

local function raises(code, f, ...)
  local ok, e = pcall(f, ...)
  assert.is_false(ok)
  assert.are.equal("table", type(e))
  assert.are.equal(code, e.errorType)
  return e
end

describe("moonstep.s3", function()
  local tmp, old
  before_each(function()
    tmp = S.tmpdir("s3")
    old = s3.buckets_dir()
    s3.buckets_dir(tmp .. "/buckets")
    s3.create_bucket{Bucket = "data"}
  end)
  after_each(function()
    s3.buckets_dir(old)
    S.rmtree(tmp)
  end)

  it("stores a key as a file in the bucket's folder", function()
    local r = s3.put_object{Bucket = "data", Key = "in/a.txt",
                            Body = "hello", ContentType = "text/plain"}
    -- MD5("hello")
    assert.are.equal('"5d41402abc4b2a76b9719d911017c592"', r.ETag)
    assert.are.equal("hello", S.slurp(tmp .. "/buckets/data/in/a.txt"))
    local o = s3.get_object{Bucket = "data", Key = "in/a.txt"}
    assert.are.equal("hello", o.Body)
    assert.are.equal(5, o.ContentLength)
    assert.are.equal("text/plain", o.ContentType)
    assert.are.equal(r.ETag, o.ETag)
    assert.truthy(o.LastModified:match("^%d%d%d%d%-%d%d%-%d%dT.*Z$"))
    local h = s3.head_object{Bucket = "data", Key = "in/a.txt"}
    assert.is_nil(h.Body)
    assert.are.equal(5, h.ContentLength)
  end)

  it("computes the ETag of a file dropped in by another tool", function()
    S.spit(tmp .. "/buckets/data/x.csv", "")
    local h = s3.head_object{Bucket = "data", Key = "x.csv"}
    assert.are.equal('"d41d8cd98f00b204e9800998ecf8427e"', h.ETag)
    assert.are.equal("binary/octet-stream", h.ContentType)
    -- changed behind its back: computed again
    S.spit(tmp .. "/buckets/data/x.csv", "hello!")
    os.execute("touch -d '2001-01-01' " .. S.shquote(tmp ..
                                                     "/buckets/data/x.csv"))
    h = s3.head_object{Bucket = "data", Key = "x.csv"}
    assert.are.equal(6, h.ContentLength)
    assert.are_not.equal('"d41d8cd98f00b204e9800998ecf8427e"', h.ETag)
    assert.truthy(h.LastModified:match("^2001%-01%-01"))
  end)

  it("names S3's errors", function()
    raises("NoSuchKey", s3.get_object, {Bucket = "data", Key = "nope"})
    raises("NoSuchKey", s3.head_object, {Bucket = "data", Key = "nope"})
    raises("NoSuchBucket", s3.get_object, {Bucket = "other", Key = "a"})
    raises("NoSuchBucket", s3.put_object, {Bucket = "other", Key = "a",
                                           Body = "x"})
    raises("NoSuchBucket", s3.list_objects, {Bucket = "other"})
    raises("BucketAlreadyOwnedByYou", s3.create_bucket, {Bucket = "data"})
    raises("InvalidBucketName", s3.create_bucket, {Bucket = "a/b"})
    local e = raises("NoSuchKey", s3.get_object, {Bucket = "data",
                                                  Key = "nope"})
    assert.are.equal("The specified key does not exist.", e.errorMessage)
  end)

  it("refuses keys that would leave their bucket", function()
    os.execute("mkdir -p " .. S.shquote(tmp .. "/outside"))
    S.spit(tmp .. "/outside/secret", "s")
    S.spit(tmp .. "/buckets/secret2", "s")
    os.execute("ln -s " .. S.shquote(tmp .. "/outside") .. " " ..
               S.shquote(tmp .. "/buckets/data/link"))
    os.execute("ln -s " .. S.shquote(tmp .. "/outside/secret") .. " " ..
               S.shquote(tmp .. "/buckets/data/filelink"))
    for _, k in ipairs{"../secret2", "a/../../secret2", "/etc/passwd",
                       "./a", "a//b", "", "a/", "..",
                       ".moonstep-tmp-x"} do
      raises("InvalidArgument", s3.put_object,
             {Bucket = "data", Key = k, Body = "x"})
      local ok = pcall(s3.get_object, {Bucket = "data", Key = k})
      assert.is_false(ok)
    end
    raises("NoSuchKey", s3.get_object, {Bucket = "data",
                                        Key = "link/secret"})
    raises("NoSuchKey", s3.get_object, {Bucket = "data", Key = "filelink"})
    raises("InvalidArgument", s3.put_object,
           {Bucket = "data", Key = "link/new", Body = "x"})
    raises("InvalidArgument", s3.put_object,
           {Bucket = "data", Key = "filelink", Body = "x"})
    raises("InvalidArgument", s3.put_object,
           {Bucket = "data", Key = "link/sub/new", Body = "x"})
    local made = os.execute("test -e " .. S.shquote(tmp .. "/outside/sub"))
    assert.is_nil(made)
    assert.is_nil(S.read(tmp .. "/outside/new"))
    assert.are.equal("s", S.slurp(tmp .. "/outside/secret"))
    -- listings do not follow them either
    local l = s3.list_objects{Bucket = "data"}
    assert.are.equal(0, l.KeyCount)
    l = s3.list_objects{Bucket = "data", Prefix = "link/"}
    assert.are.equal(0, l.KeyCount)
    raises("InvalidBucketName", s3.get_object, {Bucket = "..", Key = "x"})
    raises("InvalidBucketName", s3.get_object, {Bucket = ".meta",
                                                Key = "x"})
  end)

  it("lists keys in order, a page at a time", function()
    for i = 1, 25 do
      s3.put_object{Bucket = "data", Key = ("k/%02d"):format(i),
                    Body = tostring(i)}
    end
    s3.put_object{Bucket = "data", Key = "other", Body = "o"}
    local seen, token, pages = {}, nil, 0
    repeat
      local r = s3.list_objects{Bucket = "data", Prefix = "k/", MaxKeys = 10,
                                ContinuationToken = token}
      pages = pages + 1
      assert.are.equal("data", r.Name)
      assert.are.equal("k/", r.Prefix)
      assert.are.equal(10, r.MaxKeys)
      assert.are.equal(#r.Contents, r.KeyCount)
      for _, c in ipairs(r.Contents) do
        seen[#seen + 1] = c.Key
        assert.are.equal("STANDARD", c.StorageClass)
        assert.truthy(c.ETag:match('^"%x+"$'))
        assert.is_number(c.Size)
      end
      token = r.NextContinuationToken
      assert.are.equal(r.IsTruncated, token ~= nil)
    until not token
    assert.are.equal(3, pages)
    assert.are.equal(25, #seen)
    for i = 1, 25 do assert.are.equal(("k/%02d"):format(i), seen[i]) end
    local all = s3.list_objects{Bucket = "data"}
    assert.are.equal(26, all.KeyCount)
    assert.is_false(all.IsTruncated)
    local d = s3.list_objects{Bucket = "data", Delimiter = "/"}
    assert.are.equal(1, #d.Contents)
    assert.are.equal("other", d.Contents[1].Key)
    assert.are.equal("k/", d.CommonPrefixes[1].Prefix)
    local a = s3.list_objects{Bucket = "data", Prefix = "k/",
                              StartAfter = "k/23"}
    assert.are.equal(2, a.KeyCount)
  end)

  it("deletes (a missing key too) and copies", function()
    s3.put_object{Bucket = "data", Key = "a/b/c", Body = "abc"}
    s3.copy_object{Bucket = "data", Key = "copy", CopySource = "data/a/b/c"}
    assert.are.equal("abc", s3.get_object{Bucket = "data",
                                          Key = "copy"}.Body)
    assert.are.same({}, s3.delete_object{Bucket = "data", Key = "a/b/c"})
    assert.are.same({}, s3.delete_object{Bucket = "data", Key = "a/b/c"})
    raises("NoSuchKey", s3.get_object, {Bucket = "data", Key = "a/b/c"})
    -- the emptied folders went with it: "a" can be a key now
    s3.put_object{Bucket = "data", Key = "a", Body = "now a file"}
    assert.are.equal(2, s3.list_objects{Bucket = "data"}.KeyCount)
  end)

  it("streams a big object in chunks and lines", function()
    local parts = {}
    for i = 1, 200000 do parts[i] = ("line %d"):format(i) end
    local text = table.concat(parts, "\n") .. "\n"
    s3.put_object{Bucket = "data", Key = "big.txt", Body = text}
    local r = s3.get_object{Bucket = "data", Key = "big.txt", stream = true}
    assert.are.equal(#text, r.ContentLength)
    local n, total = 0, 0
    for line in r:lines() do
      n = n + 1
      total = total + #line + 1
      if n == 150000 then assert.are.equal("line 150000", line) end
    end
    r:close()
    assert.are.equal(200000, n)
    assert.are.equal(#text, total)
    r = s3.get_object{Bucket = "data", Key = "big.txt", stream = true}
    assert.are.equal("line 1\nli", r:read(9))
    r:close()
  end)

  it("leaves no temp files and lists the buckets", function()
    s3.put_object{Bucket = "data", Key = "x", Body = "1"}
    s3.put_object{Bucket = "data", Key = "x", Body = "2"}
    local p = io.popen("ls -A " .. S.shquote(tmp .. "/buckets/data"))
    local names = p:read("a")
    p:close()
    assert.are.equal("x\n", names)
    s3.create_bucket{Bucket = "more"}
    local b = s3.list_buckets().Buckets
    assert.are.equal(2, #b)
    assert.are.equal("data", b[1].Name)
    assert.are.equal("more", b[2].Name)
    assert.are.same({"b", "k/x"}, {s3.parse_uri("s3://b/k/x")})
  end)
end)
