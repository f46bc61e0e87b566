-- cli_s3_spec.lua - `moonstep s3 cp|ls|rm|mb|rb` and `moonstep watch`
-- (engine/cli_s3.c) through the binary, with a scratch buckets folder:
-- files in and out of buckets, listings, removal, and the trigger with
-- both event shapes (--once), its filters, a file still being written
-- taken only once complete, and SIGTERM ending it cleanly.
local S = require "support"
local json = require "cjson"

describe("#binary moonstep s3 and watch", function()
  local tmp, env
  before_each(function()
    S.require_binary()
    tmp = S.tmpdir("cli-s3")
    env = "MOONSTEP_BUCKETS=" .. S.shquote(tmp .. "/buckets") .. " "
  end)
  after_each(function() S.rmtree(tmp) end)

  local function ms(...)
    return S.run(tmp, {...}, env, tmp)
  end

  it("mb, cp in and out, ls, rm, rb", function()
    local out, err, code = ms("s3", "mb", "s3://data")
    assert.are.equal(0, code, err)
    S.spit(tmp .. "/local.csv", "id\n1\n")
    _, err, code = ms("s3", "cp", "local.csv", "s3://data/in/")
    assert.are.equal(0, code, err)
    assert.are.equal("id\n1\n", S.read(tmp .. "/buckets/data/in/local.csv"))
    _, err, code = ms("s3", "cp", "local.csv", "s3://data/top.csv")
    assert.are.equal(0, code, err)
    _, err, code = ms("s3", "cp", "s3://data/top.csv", "s3://data/c/copy.csv")
    assert.are.equal(0, code, err)
    out, err, code = ms("s3", "cp", "s3://data/c/copy.csv", "-")
    assert.are.equal(0, code, err)
    assert.are.equal("id\n1\n", out)
    _, err, code = ms("s3", "cp", "s3://data/c/copy.csv", "back.csv")
    assert.are.equal(0, code, err)
    assert.are.equal("id\n1\n", S.read(tmp .. "/back.csv"))
    out, err, code = ms("s3", "ls", "s3://data")
    assert.are.equal(0, code, err)
    assert.truthy(out:find("PRE c/\n", 1, true), out)
    assert.truthy(out:find("PRE in/\n", 1, true), out)
    assert.truthy(out:match("%d%d%d%d%-%d%d%-%d%d [%d:]+ +5 top%.csv\n"), out)
    out = ms("s3", "ls", "s3://data/in/", "--recursive")
    assert.truthy(out:find(" in/local.csv\n", 1, true), out)
    assert.is_nil(out:find("top.csv", 1, true))
    out = ms("s3", "ls")
    assert.are.equal("data\n", out)
    _, err, code = ms("s3", "rm", "s3://data/top.csv")
    assert.are.equal(0, code, err)
    _, err, code = ms("s3", "rm", "s3://data/top.csv")
    assert.are.equal(1, code)
    assert.truthy(err:find("NoSuchKey", 1, true), err)
    _, err, code = ms("s3", "rb", "s3://data")
    assert.are.equal(1, code)
    assert.truthy(err:find("BucketNotEmpty", 1, true), err)
    _, err, code = ms("s3", "rm", "s3://data", "--recursive")
    assert.are.equal(0, code, err)
    _, err, code = ms("s3", "rb", "s3://data")
    assert.are.equal(0, code, err)
    _, err, code = ms("s3", "cp", "local.csv", "s3://data/x")
    assert.are.equal(1, code)
    assert.truthy(err:find("NoSuchBucket", 1, true), err)
    _, err, code = ms("s3", "cp", "a", "b")
    assert.are.equal(2, code)
    _, err, code = ms("s3", "cp", "local.csv", "s3://data/../x")
    assert.are_not.equal(0, code)
  end)

  -- The Pass machine returns its input: the event.
  local function watch_setup()
    S.spit(tmp .. "/echo.asl.json", json.encode{StartAt = "P",
      States = {P = {Type = "Pass", End = true}}})
    ms("s3", "mb", "s3://inbox")
    S.spit(tmp .. "/f.csv", "id\n1\n")
    ms("s3", "cp", "f.csv", "s3://inbox/new/a b.csv")
    ms("s3", "cp", "f.csv", "s3://inbox/new/skip.txt")
    ms("s3", "cp", "f.csv", "s3://inbox/old/c.csv")
  end

  local function lines(out)
    local r = {}
    for l in out:gmatch("[^\n]+") do r[#r + 1] = json.decode(l) end
    return r
  end

  it("watch --once: S3 notification events", function()
    watch_setup()
    local out, err, code = ms("watch", "s3://inbox", "--machine",
                              "echo.asl.json", "--once", "--db", "db",
                              "--prefix", "new/", "--suffix", ".csv")
    assert.are.equal(0, code, err)
    local l = lines(out)
    assert.are.equal(1, #l)
    assert.are.equal("new/a b.csv", l[1].key)
    assert.are.equal("SUCCEEDED", l[1].status)
    assert.truthy(l[1].executionArn:match(":execution:echo:"))
    local r = l[1].output.Records[1]
    assert.are.equal("aws:s3", r.eventSource)
    assert.are.equal("ObjectCreated:Put", r.eventName)
    assert.are.equal("inbox", r.s3.bucket.name)
    assert.are.equal("arn:aws:s3:::inbox", r.s3.bucket.arn)
    assert.are.equal("new/a+b.csv", r.s3.object.key)  -- URL-encoded
    assert.are.equal(5, r.s3.object.size)
    assert.truthy(r.s3.object.eTag:match("^%x+$"))
  end)

  it("watch --once: EventBridge events", function()
    watch_setup()
    local out, err, code = ms("watch", "s3://inbox/old/", "--machine",
                              "echo.asl.json", "--once", "--db", "db",
                              "--event", "eventbridge")
    assert.are.equal(0, code, err)
    local l = lines(out)
    assert.are.equal(1, #l)
    local e = l[1].output
    assert.are.equal("Object Created", e["detail-type"])
    assert.are.equal("aws.s3", e.source)
    assert.are.same({"arn:aws:s3:::inbox"}, e.resources)
    assert.are.equal("inbox", e.detail.bucket.name)
    assert.are.equal("old/c.csv", e.detail.object.key)
    assert.are.equal(5, e.detail.object.size)
    _, err, code = ms("watch", "s3://inbox", "--machine", "echo.asl.json",
                      "--event", "sqs")
    assert.are.equal(2, code)
    _, err, code = ms("watch", "s3://nobucket", "--machine",
                      "echo.asl.json", "--once", "--db", "db")
    assert.are.equal(1, code)
  end)

  it("watch: new objects only, whole files only, ends on SIGTERM",
     function()
    watch_setup()
    -- already there at start: left alone
    os.execute(string.format(
      "cd %s && (%s%s watch s3://inbox --machine echo.asl.json --db db " ..
      "--settle 0.6 --interval 0.05 >out 2>err </dev/null & echo $! >pid; " ..
      "wait $!; echo $? >rc) >/dev/null 2>&1 &",
      S.shquote(tmp), env, S.shquote(S.BIN)))
    local pid = S.await(tmp .. "/pid"):match("%d+")
    os.execute("sleep 0.4")
    ms("s3", "cp", "f.csv", "s3://inbox/put.csv")
    -- written by another tool in two goes
    local f = assert(io.open(tmp .. "/buckets/inbox/slow.csv", "wb"))
    f:write("id\n")
    f:flush()
    os.execute("sleep 0.3")
    f:write("1\n2\n")
    f:close()
    os.execute("sleep 1.2")
    os.execute("kill -TERM " .. pid)
    local rc = S.await(tmp .. "/rc")
    assert.are.equal("0", rc:match("%d+"), S.read(tmp .. "/err"))
    local l = lines(S.read(tmp .. "/out"))
    local keys = {}
    for _, x in ipairs(l) do keys[#keys + 1] = x.key end
    table.sort(keys)
    assert.are.same({"put.csv", "slow.csv"}, keys)
    for _, x in ipairs(l) do
      if x.key == "slow.csv" then
        assert.are.equal(7, x.output.Records[1].s3.object.size)
      end
    end
  end)
end)
