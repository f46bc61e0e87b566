-- http_invoke_spec.lua - arn:aws:states:::http:invoke (engine/svc_http.c)
-- inside state machines, against spec/support/testhttpd.c: the request a
-- Task's Parameters make, the result and errors, Retry and Catch,
-- URL_ENCODED bodies, connections (auth headers, no secret in history),
-- history events, and handlers' requests overlapping in a Map.
local cj = require "conformance"  -- pure Lua JSON, for the #binary tests
local moonstep, json  -- loaded by the tests that run in process, so that
                      -- the #binary ones run without moonstep.so
local S = require "support"
local httpd = require "support.httpd"

local ARN = "arn:aws:states:::http:invoke"

-- A one-Task machine calling http:invoke with params; extra fields merge
-- into the Task (Retry, Catch, ResultSelector, ...).
local function machine(params, extra)
  local task = {Type = "Task", Resource = ARN, Parameters = params,
                End = true}
  for k, v in pairs(extra or {}) do task[k] = v end
  if task.Catch then task.End = true end
  return json.encode({StartAt = "Call", States = {
    Call = task,
    Caught = {Type = "Pass", End = true},
  }})
end

local function run(def, input, opts)
  opts = opts or {}
  opts.virtual_clock = true
  return moonstep.run(def, input or {}, opts)
end

describe("http:invoke", function()
  local srv, base
  before_each(function()
    moonstep = require "moonstep"
    json = moonstep.json
  end)
  setup(function()
    srv = httpd.start()
    base = srv.base
  end)
  teardown(function() srv.stop() end)

  describe("request", function()
    it("sends Method, Headers, QueryParameters and a JSON RequestBody",
       function()
      local r = run(machine({
        ApiEndpoint = base .. "/echo", Method = "POST",
        Headers = {["X-Trace"] = "t-1"},
        QueryParameters = {page = "2", q = "a b"},
        RequestBody = {name = "ann", tags = {"x", "y"}},
      }))
      assert.are.equal("SUCCEEDED", r.status, r.cause)
      local e = r.output.ResponseBody
      assert.are.equal("POST", e.method)
      assert.are.equal("page=2&q=a%20b", e.query)
      assert.are.equal("t-1", e.headers["x-trace"])
      assert.are.equal("application/json; charset=UTF-8",
                       e.headers["content-type"])
      assert.are.same({name = "ann", tags = {"x", "y"}}, json.decode(e.body))
      assert.are.equal("Amazon|StepFunctions|HttpInvoke|us-east-1",
                       e.headers["user-agent"])
    end)

    it("takes its values from paths", function()
      local r = run(machine({["ApiEndpoint.$"] = "$.url", Method = "GET",
                             ["QueryParameters.$"] = "$.q"}),
                    {url = base .. "/echo", q = {id = "7"}})
      assert.are.equal("SUCCEEDED", r.status, r.cause)
      assert.are.equal("id=7", r.output.ResponseBody.query)
    end)

    it("sends a string RequestBody as is", function()
      local r = run(machine({ApiEndpoint = base .. "/echo", Method = "PUT",
                             Headers = {["Content-Type"] = "text/plain"},
                             RequestBody = "hello there"}))
      assert.are.equal("hello there", r.output.ResponseBody.body)
      assert.are.equal("text/plain",
                       r.output.ResponseBody.headers["content-type"])
    end)

    it("fails with States.Runtime on a bad Method or forbidden header",
       function()
      local r = run(machine({ApiEndpoint = base .. "/echo",
                             Method = "FETCH"}))
      assert.are.equal("FAILED", r.status)
      assert.are.equal("States.Runtime", r.error)
      r = run(machine({ApiEndpoint = base .. "/echo", Method = "GET",
                       Headers = {Host = "elsewhere"}}))
      assert.are.equal("States.Runtime", r.error)
      assert.matches("Host", r.cause)
    end)
  end)

  describe("result", function()
    it("has Headers, a parsed JSON ResponseBody, StatusCode, StatusText",
       function()
      local r = run(machine({ApiEndpoint = base .. "/headers",
                             Method = "GET"}))
      assert.are.equal("SUCCEEDED", r.status, r.cause)
      local o = r.output
      assert.are.same({}, o.ResponseBody)
      assert.are.equal(200, o.StatusCode)
      assert.are.equal("OK", o.StatusText)
      assert.are.same({"yes"}, o.Headers["X-Custom"])
      assert.are.same({"a=1", "b=2"}, o.Headers["Set-Cookie"])
    end)

    it("reads header text that is not UTF-8 as ISO-8859-1", function()
      local r = run(machine({ApiEndpoint = base .. "/latin1",
                             Method = "GET"}))
      assert.are.equal("SUCCEEDED", r.status, r.cause)
      assert.are.same({"cr\u{e8}me"}, r.output.Headers["X-Caf\u{e9}"])
      assert.are.same({"caf\u{e9}"}, r.output.Headers["X-Ok"])
    end)

    it("keeps a non-JSON body as a string", function()
      local r = run(machine({ApiEndpoint = base .. "/text", Method = "GET"}))
      assert.are.equal("hello", r.output.ResponseBody)
    end)
  end)

  describe("errors", function()
    it("a non-2xx status is States.Http.StatusCode.NNN, the response in "
       .. "the Cause", function()
      local r = run(machine({ApiEndpoint = base .. "/status/404",
                             Method = "GET"}))
      assert.are.equal("FAILED", r.status)
      assert.are.equal("States.Http.StatusCode.404", r.error)
      local cause = json.decode(r.cause)
      assert.are.equal(404, cause.StatusCode)
      assert.are.equal("Not Found", cause.StatusText)
      assert.are.same({status = 404}, cause.ResponseBody)
    end)

    it("Retry on States.Http.StatusCode.503 calls again", function()
      local r = run(machine({ApiEndpoint = base .. "/flaky?key=r1&fail=2",
                             Method = "GET"},
                            {Retry = {{ErrorEquals =
                                         {"States.Http.StatusCode.503"},
                                       IntervalSeconds = 1,
                                       MaxAttempts = 3}}}),
                    {}, {history = true})
      assert.are.equal("SUCCEEDED", r.status, r.cause)
      assert.are.same({calls = 3}, r.output.ResponseBody)
      local failed = 0
      for _, ev in ipairs(r.history) do
        if ev.type == "TaskFailed" then failed = failed + 1 end
      end
      assert.are.equal(2, failed)
    end)

    it("Catch takes the error with its response", function()
      local r = run(machine({ApiEndpoint = base .. "/status/500",
                             Method = "POST", RequestBody = {a = 1}},
                            {Catch = {{ErrorEquals = {"States.TaskFailed"},
                                       ResultPath = "$.err",
                                       Next = "Caught"}}}))
      assert.are.equal("SUCCEEDED", r.status)
      assert.are.equal("States.Http.StatusCode.500", r.output.err.Error)
      assert.are.equal(500, json.decode(r.output.err.Cause).StatusCode)
    end)

    it("a refused connection is States.Http.Socket", function()
      local r = run(machine({ApiEndpoint = "http://127.0.0.1:1/x",
                             Method = "GET"}))
      assert.are.equal("States.Http.Socket", r.error)
      assert.matches("127%.0%.0%.1", r.cause)
    end)

    it("a name that does not resolve is States.Http.Socket", function()
      local r = run(machine({ApiEndpoint = "http://moonstep-test.invalid/",
                             Method = "GET"}, {TimeoutSeconds = 10}))
      assert.are.equal("States.Http.Socket", r.error)
    end)

    it("the state's TimeoutSeconds is States.Timeout", function()
      local r = run(machine({ApiEndpoint = base .. "/slow?ms=3000",
                             Method = "GET"}, {TimeoutSeconds = 1}))
      assert.are.equal("States.Timeout", r.error)
    end)
  end)

  describe("Transform URL_ENCODED", function()
    -- spec/fixtures/http/url_encoded.json: body (JSON text, its key order
    -- kept), format (ArrayFormat; none: the default) and the expected
    -- form text
    local text = S.slurp("spec/fixtures/http/url_encoded.json")
    for _, c in ipairs(cj.decode(text)) do
      it(c.id, function()
        local tr = {RequestBodyEncoding = "URL_ENCODED"}
        if c.format then
          tr.RequestEncodingOptions = {ArrayFormat = c.format}
        end
        local def = machine({["ApiEndpoint.$"] = "$.url", Method = "POST",
                             ["RequestBody.$"] = "$.body",
                             Transform = tr})
        local input = string.format('{"url": "%s/echo", "body": %s}',
                                    base, c.body)
        local r = moonstep.run(def, input, {input_text = true})
        assert.are.equal("SUCCEEDED", r.status, r.cause)
        local e = r.output.ResponseBody
        assert.are.equal(c.expected, e.body)
        assert.are.equal("application/x-www-form-urlencoded",
                         e.headers["content-type"])
      end)
    end

    it("an unknown ArrayFormat is States.Runtime", function()
      local r = run(machine({ApiEndpoint = base .. "/echo", Method = "POST",
        RequestBody = {a = {1}},
        Transform = {RequestBodyEncoding = "URL_ENCODED",
                     RequestEncodingOptions = {ArrayFormat = "PIPES"}}}))
      assert.are.equal("States.Runtime", r.error)
    end)

    it("defaults to INDICES and nests objects as a[b]", function()
      local r = run(machine({
        ApiEndpoint = base .. "/echo", Method = "POST",
        RequestBody = {a = {b = "c", d = {1, 2}}},
        Transform = {RequestBodyEncoding = "URL_ENCODED"},
      }))
      assert.are.equal("a%5Bb%5D=c&a%5Bd%5D%5B0%5D=1&a%5Bd%5D%5B1%5D=2",
                       r.output.ResponseBody.body)
    end)
  end)

  describe("concurrency", function()
    it("40 Map iterations' calls overlap", function()
      local items = {}
      for i = 1, 40 do items[i] = {url = base .. "/slow?ms=300"} end
      local def = json.encode({StartAt = "M", States = {M = {
        Type = "Map", ItemsPath = "$.items", End = true,
        Iterator = {StartAt = "T", States = {T = {
          Type = "Task", Resource = ARN, End = true,
          ResultSelector = {["S.$"] = "$.StatusCode"},
          Parameters = {["ApiEndpoint.$"] = "$.url", Method = "GET"}}}}}}})
      local p = io.popen("date +%s.%N")
      local t0 = tonumber(p:read("l"))
      p:close()
      local r = moonstep.run(def, {items = items})
      p = io.popen("date +%s.%N")
      local dt = tonumber(p:read("l")) - t0
      p:close()
      assert.are.equal("SUCCEEDED", r.status, r.cause)
      assert.are.equal(40, #r.output)
      assert.are.same({S = 200}, r.output[40])
      assert.is_true(dt > 0.3 and dt < 4, "took " .. dt .. " s")
    end)
  end)

  describe("history", function()
    it("records resourceType http and resource invoke", function()
      local r = run(machine({ApiEndpoint = base .. "/text", Method = "GET"}),
                    {}, {history = true})
      local seen = {}
      for _, ev in ipairs(r.history) do
        local d = ev.taskScheduledEventDetails or ev.taskStartedEventDetails
                  or ev.taskSucceededEventDetails
        if d then
          seen[#seen + 1] = ev.type
          assert.are.equal("http", d.resourceType)
          assert.are.equal("invoke", d.resource)
        end
      end
      assert.are.same({"TaskScheduled", "TaskStarted", "TaskSucceeded"}, seen)
    end)
  end)
end)

describe("http:invoke connections #binary", function()
  local srv, dir
  local SECRET = "s3cr3t-k3y-0f-m00nst3p"
  setup(function()
    S.require_binary()
    srv = httpd.start()
    dir = S.tmpdir("http-conn")
    S.spit(dir .. "/connections.json", ([[{"Connections": {
  "ApiKeyConn": {"AuthorizationType": "API_KEY", "AuthParameters": {
    "ApiKeyAuthParameters": {"ApiKeyName": "X-Api-Key",
                             "ApiKeyValue": "SECRET"},
    "InvocationHttpParameters": {
      "HeaderParameters": [{"Key": "X-Extra", "Value": "e1"}],
      "QueryStringParameters": [{"Key": "tenant", "Value": "t9"}]}}},
  "arn:aws:events:us-east-1:123456789012:connection/Basic/1": {
    "AuthorizationType": "BASIC", "AuthParameters": {
      "BasicAuthParameters": {"Username": "ann", "Password": "SECRET"}}},
  "Bearer": {"AuthorizationType": "BEARER", "AuthParameters": {
    "BearerAuthParameters": {"Token": "SECRET"}}},
  "OAuth": {"AuthorizationType": "OAUTH_CLIENT_CREDENTIALS",
    "AuthParameters": {"OAuthParameters": {
      "AuthorizationEndpoint": "BASE/token", "HttpMethod": "POST",
      "ClientParameters": {"ClientID": "c1", "ClientSecret": "SECRET"}}}},
  "BadOAuth": {"AuthorizationType": "OAUTH_CLIENT_CREDENTIALS",
    "AuthParameters": {"OAuthParameters": {
      "AuthorizationEndpoint": "BASE/status/401",
      "ClientParameters": {"ClientID": "c1", "ClientSecret": "SECRET"}}}}
}}]]):gsub("SECRET", SECRET):gsub("BASE", srv.base))
  end)
  teardown(function()
    srv.stop()
    S.rmtree(dir)
  end)

  local function call(endpoint, conn, db)
    local def = string.format([[{"StartAt": "Call", "States": {"Call": {
      "Type": "Task", "Resource": "%s", "End": true, "Parameters": {
        "ApiEndpoint": "%s", "Method": "GET",
        "Authentication": {"ConnectionArn": "%s"}}}}}]],
      ARN, srv.base .. endpoint, conn)
    S.spit(dir .. "/m.json", def)
    return S.run(dir, {"run", dir .. "/m.json",
                       "--db", dir .. "/" .. (db or "db"),
                       "--name", "x" .. tostring(os.time()) ..
                       math.random(1e6)},
                 "MOONSTEP_CONNECTIONS=" .. S.shquote(dir ..
                                                      "/connections.json")
                 .. " ")
  end

  it("API_KEY: the key header, extra headers and query", function()
    local out, err, code = call(
      "/echo", "arn:aws:events:us-east-1:123456789012:connection/ApiKeyConn/"
      .. "0a1b")
    assert.are.equal(0, code, err)
    local e = cj.decode(out).ResponseBody
    assert.are.equal(SECRET, e.headers["x-api-key"])
    assert.are.equal("e1", e.headers["x-extra"])
    assert.are.equal("tenant=t9", e.query)
  end)

  it("BASIC by full ARN, BEARER by name", function()
    local out, err, code = call(
      "/echo", "arn:aws:events:us-east-1:123456789012:connection/Basic/1")
    assert.are.equal(0, code, err)
    local auth = cj.decode(out).ResponseBody.headers.authorization
    assert.matches("^Basic ", auth)
    out, err, code = call("/echo", "Bearer")
    assert.are.equal(0, code, err)
    assert.are.equal("Bearer " .. SECRET,
                     cj.decode(out).ResponseBody.headers.authorization)
  end)

  it("OAUTH_CLIENT_CREDENTIALS: a token first, then Bearer", function()
    local out, err, code = call("/echo", "OAuth")
    assert.are.equal(0, code, err)
    assert.are.equal("Bearer t0k-9",
                     cj.decode(out).ResponseBody.headers.authorization)
    out, err, code = call("/echo", "BadOAuth")
    assert.are.equal(1, code, out)
    assert.matches("Events.ConnectionResource.InvalidConnectionState", err)
    assert.is_nil(err:find(SECRET, 1, true))
  end)

  it("an unknown connection fails, naming it", function()
    local out, err, code = call("/text", "NoSuchConn")
    assert.are.equal(1, code, out)
    assert.matches("Events.ConnectionResource.ResourceNotFound", err)
    assert.matches("NoSuchConn", err)
  end)

  it("no secret reaches the history or the database", function()
    for _, conn in ipairs({"ApiKeyConn", "Bearer",
                           "arn:aws:events:us-east-1:123456789012:"
                           .. "connection/Basic/1"}) do
      local _, err, code = call("/status/401", conn, "clean.db")
      assert.are.equal(1, code)
      assert.is_nil(err:find(SECRET, 1, true))
    end
    local db = S.slurp(dir .. "/clean.db")
    for _, suffix in ipairs({"-wal", ""}) do
      local f = io.open(dir .. "/clean.db" .. suffix, "rb")
      if f then db = db .. f:read("a") f:close() end
    end
    assert.is_truthy(db:find("ApiKeyConn", 1, true))  -- history is there
    assert.is_nil(db:find(SECRET, 1, true))
    local b64 = "YW5uOnMzY3IzdC1rM3ktMGYtbTAwbnN0M3A="  -- ann:SECRET
    assert.is_nil(db:find(b64, 1, true))
  end)
end)
