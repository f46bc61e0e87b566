-- http_spec.lua - moonstep.http (lua/moonstep/http.lua over engine/lhttp.c
-- and engine/http.c) as a plain blocking client, against the test server
-- spec/support/testhttpd.c on 127.0.0.1.
require "moonstep"  -- loads moonstep.so, which preloads the C cores
local http = require "moonstep.http"
local httpd = require "support.httpd"

local function clock()
  local t = os.clock  -- CPU time is no good for waits: use the wall clock
  local p = io.popen("date +%s.%N")
  local s = tonumber(p:read("l"))
  p:close()
  return s or t()
end

describe("moonstep.http", function()
  local srv, base
  setup(function()
    srv = httpd.start()
    base = srv.base
  end)
  teardown(function() srv.stop() end)

  describe("status codes", function()
    it("returns any status as a response", function()
      for _, s in ipairs({200, 201, 404, 500, 503}) do
        local r = http.get(base .. "/status/" .. s)
        assert.are.equal(s, r.status)
        assert.are.equal(s >= 200 and s < 300, r.ok)
        assert.are.same({status = s}, r:json())
      end
    end)

    it("gives the reason phrase", function()
      assert.are.equal("Service Unavailable",
                       http.get(base .. "/status/503").reason)
      assert.are.equal("OK", http.get(base .. "/text").reason)
    end)
  end)

  describe("methods", function()
    it("sends each shorthand's method", function()
      for name, m in pairs({get = "GET", post = "POST", put = "PUT",
                            delete = "DELETE", patch = "PATCH"}) do
        local r = http[name](base .. "/echo")
        assert.are.equal(m, r:json().method)
      end
    end)

    it("takes the method from request{} in any case", function()
      local r = http.request{method = "put", url = base .. "/echo"}
      assert.are.equal("PUT", r:json().method)
    end)

    it("HEAD gets the headers and no body", function()
      local r = http.head(base .. "/text")
      assert.are.equal(200, r.status)
      assert.are.equal("", r.body)
      assert.are.equal("5", r.headers["content-length"])
    end)
  end)

  describe("headers", function()
    it("sends the given headers", function()
      local r = http.get(base .. "/echo", {headers = {["X-Token"] = "abc",
                                                      ["X-Num"] = 7}})
      local h = r:json().headers
      assert.are.equal("abc", h["x-token"])
      assert.are.equal("7", h["x-num"])
    end)

    it("reads response headers case-insensitively", function()
      local r = http.get(base .. "/headers")
      assert.are.equal("yes", r.headers["X-Custom"])
      assert.are.equal("yes", r.headers["x-custom"])
      assert.are.equal("yes", r.headers["X-CUSTOM"])
      assert.are.equal("application/json", r.headers["Content-Type"])
    end)

    it("joins repeated headers with a comma", function()
      local r = http.get(base .. "/headers")
      assert.are.equal("a=1, b=2", r.headers["set-cookie"])
    end)
  end)

  describe("query", function()
    it("encodes a table, keys sorted, lists repeated", function()
      local r = http.get(base .. "/echo",
                         {query = {b = {"x y", "z"}, a = 1, c = "&="}})
      assert.are.equal("a=1&b=x%20y&b=z&c=%26%3D", r:json().query)
    end)

    it("appends to a query already in the URL", function()
      local r = http.get(base .. "/echo?x=1", {query = {y = 2}})
      assert.are.equal("x=1&y=2", r:json().query)
    end)

    it("takes a string as is", function()
      local r = http.get(base .. "/echo", {query = "q=a+b"})
      assert.are.equal("q=a+b", r:json().query)
    end)

    it("escapes UTF-8 byte by byte", function()
      assert.are.equal("%C3%A9t%C3%A9", http.escape("été"))
    end)
  end)

  describe("JSON", function()
    it("sends json= as a JSON body with its Content-Type", function()
      local r = http.post(base .. "/echo",
                          {json = {name = "ann", n = 3, tags = {"a"}}})
      local e = r:json()
      assert.are.equal("application/json", e.headers["content-type"])
      assert.are.equal('{"n":3,"name":"ann","tags":["a"]}', e.body)
    end)

    it("keeps a Content-Type the caller gave", function()
      local r = http.post(base .. "/echo", {
        json = {a = 1}, headers = {["content-type"] = "application/x+json"}})
      assert.are.equal("application/x+json",
                       r:json().headers["content-type"])
    end)

    it("sends a string body as is, labelled only when told", function()
      local r = http.post(base .. "/echo", {body = "raw text"})
      local e = r:json()
      assert.are.equal("raw text", e.body)
      assert.is_nil(e.headers["content-type"])
    end)

    it("decodes a JSON response, integers kept", function()
      local r = http.post(base .. "/echo", {json = {big = 12345678901234567}})
      local sent = require("moonstep").json.decode(r:json().body)
      assert.are.equal(12345678901234567, sent.big)
      assert.are.equal("integer", math.type(sent.big))
    end)

    it("raises when the body is not JSON", function()
      assert.has_error(function() http.get(base .. "/text"):json() end)
    end)
  end)

  describe("redirects", function()
    it("follows them by default", function()
      local r = http.get(base .. "/redirect/3")
      assert.are.equal(200, r.status)
      assert.are.equal("/redirect/0", r:json().path)
      assert.matches("/redirect/0$", r.url)
    end)

    it("stops when follow_redirects is false", function()
      local r = http.get(base .. "/redirect/3", {follow_redirects = false})
      assert.are.equal(302, r.status)
      assert.are.equal("/redirect/2", r.headers.location)
    end)

    it("gives up after 10", function()
      local ok, e = pcall(http.get, base .. "/redirect/30")
      assert.is_false(ok)
      assert.are.equal("Http.Error", e.errorType)
    end)
  end)

  describe("failures", function()
    it("raises Http.Timeout when the timeout passes", function()
      local t0 = clock()
      local ok, e = pcall(http.get, base .. "/slow?ms=2000", {timeout = 0.2})
      local dt = clock() - t0
      assert.is_false(ok)
      assert.are.equal("Http.Timeout", e.errorType)
      assert.matches("^GET http://127%.0%.0%.1:%d+/slow%?ms=2000: ",
                     e.errorMessage)
      assert.is_true(dt < 1.5, "took " .. dt .. " s")
    end)

    it("raises Http.ConnectionRefused when nothing listens", function()
      local ok, e = pcall(http.get, "http://127.0.0.1:1/")
      assert.is_false(ok)
      assert.are.equal("Http.ConnectionRefused", e.errorType)
    end)

    it("raises Http.DnsFailure for a name that cannot resolve", function()
      local ok, e = pcall(http.get, "http://moonstep-test.invalid/",
                          {timeout = 10})
      assert.is_false(ok)
      assert.are.equal("Http.DnsFailure", e.errorType)
      assert.matches("moonstep%-test%.invalid", e.errorMessage)
    end)

    it("raises Http.InvalidUrl for other schemes", function()
      local ok, e = pcall(http.get, "file:///etc/passwd")
      assert.is_false(ok)
      assert.are.equal("Http.InvalidUrl", e.errorType)
    end)

    it("rejects bad arguments as programming errors", function()
      assert.has_error(function() http.request{} end)
      assert.has_error(function() http.request(42) end)
    end)
  end)

  describe("inside the engine", function()
    local moonstep = require "moonstep"
    local json = moonstep.json
    local S = require "support"
    local dir

    setup(function()
      dir = S.tmpdir("http-engine")
      os.execute("mkdir " .. S.shquote(dir .. "/tasks"))
      S.spit(dir .. "/tasks/Fetch.lua", [[
local http = require "moonstep.http"
return {handler = function(event)
  local r = http.get(event.url, {timeout = event.timeout})
  local out = {status = r.status, i = event.i}
  if event.twice then out.again = http.get(event.url).status end
  return out
end}
]])
      S.spit(dir .. "/tasks/Guarded.lua", [[
local http = require "moonstep.http"
return {handler = function(event)
  local ok, e = pcall(http.get, event.url, {timeout = 0.2})
  return {ok = ok, errorType = not ok and e.errorType or nil}
end}
]])
      S.spit(dir .. "/tasks/Raises.lua", [[
local http = require "moonstep.http"
return {handler = function(event)
  http.get(event.url)
  error({errorType = "Custom.Bad", errorMessage = "after the call"})
end}
]])
      S.spit(dir .. "/tasks/Yields.lua", [[
return {handler = function() coroutine.yield(1) return 1 end}
]])
      S.spit(dir .. "/tasks/Own.lua", [[
local http = require "moonstep.http"
return {handler = function(event)
  -- a coroutine of its own: the request inside it blocks, as outside
  local co = coroutine.wrap(function() return http.get(event.url).status end)
  return {status = co()}
end}
]])
      S.spit(dir .. "/tasks/SlowFn.lua", [[
local http = require "moonstep.http"
return {handler = function(event) return http.get(event.url).status end}
]])
      S.spit(dir .. "/tasks/SlowFn.json", '{"timeout": 1}')
    end)
    teardown(function() S.rmtree(dir) end)

    local function task_def(resource, extra)
      local t = {Type = "Task", Resource = resource, End = true}
      for k, v in pairs(extra or {}) do t[k] = v end
      return json.encode({StartAt = "T", States = {T = t}})
    end

    local function map_def(resource)
      return json.encode({StartAt = "M", States = {M = {
        Type = "Map", ItemsPath = "$.items", End = true,
        Iterator = {StartAt = "T", States = {T = {
          Type = "Task", Resource = resource, End = true}}}}}})
    end

    local function run(def, input, opts)
      opts = opts or {}
      opts.tasks_dir = dir .. "/tasks"
      return moonstep.run(def, input, opts)
    end

    it("40 Map iterations overlap their requests", function()
      local items = {}
      for i = 1, 40 do
        items[i] = {url = base .. "/slow?ms=300", i = i}
      end
      local t0 = clock()
      local r = run(map_def("lua:Fetch.handler"), {items = items})
      local dt = clock() - t0
      assert.are.equal("SUCCEEDED", r.status, r.cause)
      assert.are.equal(40, #r.output)
      for i = 1, 40 do
        assert.are.same({status = 200, i = i}, r.output[i])
      end
      assert.is_true(dt > 0.3, "took " .. dt .. " s")
      assert.is_true(dt < 4, "took " .. dt .. " s (no overlap?)")
    end)

    it("a handler may wait several times; so may Lambda ARNs", function()
      local items = {}
      for i = 1, 10 do
        items[i] = {url = base .. "/slow?ms=300", i = i, twice = true}
      end
      local t0 = clock()
      local r = run(map_def(
        "arn:aws:lambda:us-east-1:123456789012:function:Fetch"),
        {items = items})
      local dt = clock() - t0
      assert.are.equal("SUCCEEDED", r.status, r.cause)
      assert.are.same({status = 200, i = 3, again = 200}, r.output[3])
      assert.is_true(dt < 3, "took " .. dt .. " s")
    end)

    it("lambda:invoke wraps the result as before", function()
      local r = run(task_def("arn:aws:states:::lambda:invoke", {
        Parameters = {FunctionName = "Fetch",
                      Payload = {url = base .. "/slow?ms=50", i = 1}}}), {})
      assert.are.equal("SUCCEEDED", r.status, r.cause)
      assert.are.same({status = 200, i = 1}, r.output.Payload)
      assert.are.equal(200, r.output.StatusCode)
    end)

    it("a Parallel branch goes on while another waits", function()
      local def = json.encode({StartAt = "P", States = {P = {
        Type = "Parallel", End = true, Branches = {
          {StartAt = "T", States = {T = {Type = "Task",
            Resource = "lua:Fetch.handler", End = true}}},
          {StartAt = "W", States = {W = {Type = "Pass",
            Result = "quick", End = true}}},
        }}}})
      local r = run(def, {url = base .. "/slow?ms=200", i = 0},
                    {history = true})
      assert.are.equal("SUCCEEDED", r.status, r.cause)
      assert.are.same({{status = 200, i = 0}, "quick"}, r.output)
      -- the quick branch finished before the waiting one
      local order = {}
      for _, ev in ipairs(r.history) do
        if ev.type == "PassStateExited" or ev.type == "TaskStateExited" then
          order[#order + 1] = ev.type
        end
      end
      assert.are.same({"PassStateExited", "TaskStateExited"}, order)
    end)

    it("errors raised by the request or after it are the handler's",
       function()
      local r = run(task_def("lua:Guarded.handler"),
                    {url = base .. "/slow?ms=2000"})
      assert.are.equal("SUCCEEDED", r.status, r.cause)
      assert.are.same({ok = false, errorType = "Http.Timeout"}, r.output)
      r = run(task_def("lua:Raises.handler"), {url = base .. "/text"})
      assert.are.equal("Custom.Bad", r.error)
      r = run(task_def("lua:Fetch.handler"), {url = "http://127.0.0.1:1/"})
      assert.are.equal("Http.ConnectionRefused", r.error)
    end)

    it("the state's TimeoutSeconds stops a waiting handler", function()
      local t0 = clock()
      local r = run(task_def("lua:Fetch.handler", {TimeoutSeconds = 1}),
                    {url = base .. "/slow?ms=5000"})
      assert.are.equal("States.Timeout", r.error)
      assert.is_true(clock() - t0 < 3)
    end)

    it("the function's own timeout stops a waiting handler", function()
      local r = run(task_def(
        "arn:aws:lambda:us-east-1:123456789012:function:SlowFn"),
        {url = base .. "/slow?ms=5000"})
      assert.are.equal("Sandbox.Timedout", r.error)
    end)

    it("a failed iteration cancels the others' requests", function()
      local items = {{url = "http://127.0.0.1:1/", i = 1}}
      for i = 2, 5 do items[i] = {url = base .. "/slow?ms=3000", i = i} end
      local t0 = clock()
      local r = run(map_def("lua:Fetch.handler"), {items = items})
      assert.are.equal("Http.ConnectionRefused", r.error)
      assert.is_true(clock() - t0 < 2.5)
    end)

    it("a handler's own coroutine blocks; a bare yield is an error",
       function()
      local r = run(task_def("lua:Own.handler"), {url = base .. "/text"})
      assert.are.same({status = 200}, r.output)
      r = run(task_def("lua:Yields.handler"), {})
      assert.are.equal("Error", r.error)
      assert.matches("yield", r.cause)
    end)

    it("works on the virtual clock beside a Wait", function()
      local def = json.encode({StartAt = "P", States = {P = {
        Type = "Parallel", End = true, Branches = {
          {StartAt = "T", States = {T = {Type = "Task",
            Resource = "lua:Fetch.handler", End = true}}},
          {StartAt = "W", States = {W = {Type = "Wait", Seconds = 3600,
                                         End = true}}},
        }}}})
      local r = run(def, {url = base .. "/slow?ms=200", i = 0},
                    {virtual_clock = true})
      assert.are.equal("SUCCEEDED", r.status, r.cause)
      assert.are.same({status = 200, i = 0}, r.output[1])
    end)
  end)

  describe("large bodies", function()
    it("reads a 5 MB body whole", function()
      local r = http.get(base .. "/big?bytes=5000000")
      assert.are.equal(5000000, #r.body)
    end)

    it("raises Http.BodyTooLarge past max_body", function()
      local ok, e = pcall(http.get, base .. "/big?bytes=100000",
                          {max_body = 1000})
      assert.is_false(ok)
      assert.are.equal("Http.BodyTooLarge", e.errorType)
    end)

    it("sends a 2 MB body whole", function()
      local big = string.rep("y", 2000000)
      local r = http.put(base .. "/echo", {body = big})
      assert.are.equal(2000000, #r:json().body)
    end)
  end)
end)
