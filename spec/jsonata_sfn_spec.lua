-- jsonata_sfn_spec.lua - Step Functions' JSONata dialect
-- (engine/jsonata_sfn.c): $partition, $range, $hash, $random, $uuid and
-- $parse bound, $eval not. The cases of spec/fixtures/jsonata_sfn/
-- cases.json run through moonstep.jsonata (dialect by default); a few
-- checks compare with plain JSONata ({reference = true}); one #binary
-- block runs `moonstep eval --jsonata` with and without --reference.
--
-- Case fields: id, expr, input? (a JSON value; absent: undefined),
-- expected (JSON value) | undefined: true | error: code [message], why?

local support = require("support")
-- a pure-Lua JSON codec: the cases are read when the file is loaded,
-- which the sanitizer run does without moonstep.so
local cjson = require("conformance")

local FIXTURE = "spec/fixtures/jsonata_sfn/cases.json"

local function load_cases()
  local f = assert(io.open(FIXTURE, "rb"), FIXTURE .. ": cannot open")
  local text = f:read("a")
  f:close()
  local cases = cjson.decode(text)
  assert(type(cases) == "table" and #cases > 0, FIXTURE .. ": no cases")
  return cases
end

describe("JSONata, Step Functions' dialect", function()
  local ms, json
  lazy_setup(function()
    ms = require("moonstep")
    json = ms.json
  end)
  local seen = {}

  for _, case in ipairs(load_cases()) do
    assert(case.id and not seen[case.id], "duplicate or missing id")
    seen[case.id] = true
    it(case.id .. ": " .. case.expr, function()
      local input = case.input ~= nil and cjson.encode(case.input) or nil
      local r, code, msg = ms.jsonata(case.expr, input, nil,
                                      { text = true })
      local got = r or code and ("error " .. code .. ": " ..
                  tostring(msg)) or "undefined"
      if case.error then
        assert.are.equal(case.error, code, got)
        if case.message then assert.are.equal(case.message, msg) end
      elseif case.undefined then
        assert.are.equal("undefined", got)
      else
        local want = cjson.encode(case.expected)
        assert(r ~= nil, "expected " .. want .. ", got " .. got)
        assert(json.equal(json.decode(want), json.decode(r)),
               "expected " .. want .. ", got " .. got)
      end
    end)
  end

  it("gives the function's position with an error, as built-ins do",
     function()
    local _, code, _, pos = ms.jsonata("1 + $partition([1], -1)", nil)
    assert.are.equal("D3137", code)
    local _, code2, _, pos2 = ms.jsonata("1 + $substring('a', 'x')", nil)
    assert.are.equal("T0410", code2)
    assert.are.equal(pos2, pos)
  end)

  it("draws different unseeded numbers", function()
    local seen_n, distinct = {}, 0
    for _ = 1, 20 do
      local v = ms.jsonata("$random()", nil)
      assert(v >= 0 and v < 1)
      if not seen_n[v] then distinct = distinct + 1 end
      seen_n[v] = true
    end
    assert(distinct > 15, "random() repeats: " .. distinct)
  end)

  it("makes every uuid a v4 one", function()
    local pat = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-" ..
                "%x%x%x%x%x%x%x%x%x%x%x%x$"
    local all = {}
    for _ = 1, 50 do
      local u = ms.jsonata("$uuid()", nil)
      assert.matches(pat, u)
      assert.is_nil(all[u])
      all[u] = true
    end
  end)

  it("keeps plain JSONata apart ({reference = true})", function()
    local ref = { reference = true }
    assert.are.equal(2, ms.jsonata("$eval('1 + 1')", nil, nil, ref))
    local _, code = ms.jsonata("$partition([1, 2], 1)", nil, nil, ref)
    assert.are.equal("T1006", code)
    _, code = ms.jsonata("$random(1)", nil, nil, ref)
    assert.are.equal("T0410", code)
    assert.is_nil(ms.jsonata("$parse", nil, nil, ref))
    -- and the dialect leaves the rest of the library alone
    assert.are.equal(6, ms.jsonata("$sum([1, 2, 3])", nil))
    assert.are.equal('"1e+21"', ms.jsonata("$string(1e21)", nil, nil,
                                           { text = true }))
  end)

  it("lets a user's binding shadow the added functions", function()
    assert.are.equal(7, ms.jsonata("$hash", nil, '{"hash": 7}',
                                   { text = true }) + 0)
    assert.are.equal(3, ms.jsonata(
      "($range := function($a) { $a + 1 }; $range(2))", nil))
  end)

  it("ends hostile calls with an error, never a crash or a hang", function()
    local function fails(expr)
      local r, code = ms.jsonata(expr, nil, nil, { timeout = 300 })
      assert(r == nil and code, expr .. ": no error")
    end
    fails("$range(0, 9007199254740992, 1)")
    fails("$range(-1e300, 1e300, 1)")
    fails("$parse('" .. string.rep("[", 5000) .. "')")
    fails("$parse('\"\\\\ud800\"')")
    fails("$partition($range(0, 9999999, 1), 1)")   -- U1001, in time
    -- found by the fuzzer (core evaluator): an array constructor that
    -- doubles its array on every call outgrew memory between two checks
    fails("($f := function($s, $x)<an:s> { $x > 0 ? $f([$s, $s], $x-0)" ..
          " : $s }; $f('a', 2))")
    -- found by the fuzzer (core library): a precision or radix past an
    -- int was converted before it was checked (undefined behaviour)
    for _, e in ipairs({ "$round(4.49, 1e300)", "$round(4.49, -1e300)",
                         "$formatBase(10, 1e300)",
                         "$formatBase(10, -1e300)" }) do
      local r, code = ms.jsonata(e, nil)
      assert(r ~= nil or code, e)
    end
    -- found by the fuzzer (signatures): quantifiers overran a buffer
    local sig = "(function($a)<n" .. string.rep("+", 100) .. ">{ $a })(1)"
    local r, code = ms.jsonata(sig, nil)
    assert(r ~= nil or code, sig)
    -- found by the fuzzer (core library): $pad built an offset per code
    -- point of the padding (8 bytes each) to cut it
    local t0 = os.clock()
    assert.are.equal(20000000,
                     ms.jsonata("$length($pad('foo', 20000000))", nil))
    assert(os.clock() - t0 < 5, "$pad is slow")
    assert.are.equal("ab\u{e9}\u{e9}", ms.jsonata("$pad('ab', 4, '\u{e9}')", nil))
    local deep = string.rep("[", 1000) .. string.rep("]", 1000)
    local r = ms.jsonata("$count($parse(s))", { s = deep })
    assert.are.equal(1, r)
  end)
end)

describe("moonstep eval --jsonata, dialect #binary", function()
  local tmp
  before_each(function() tmp = support.tmpdir("jsonata_sfn") end)
  after_each(function() support.rmtree(tmp) end)

  local function run(...)
    return support.run(tmp, { "eval", "--jsonata", ... })
  end

  it("evaluates as Step Functions does unless --reference", function()
    local out, err, code = run("$partition(a, 2)", "--input",
                               '{"a":[1,2,3]}')
    assert.are.equal(0, code, err)
    assert.are.equal("[[1,2],[3]]\n", out)
    out = run("$hash('Hello', 'MD5')")
    assert.are.equal('"8b1a9953c4611296a827abf8c47804d7"\n', out)
    out = run("$random(42)", "--describe")
    assert.are.equal('{"result":0.7275636800328681}\n', out)
    out = run("$parse('{oops')", "--describe")
    assert.matches('"code":"D3137"', out)
    assert.matches('"message":"Invalid JSON"', out)
    out = run("$eval('1')", "--describe")
    assert.matches('"code":"T1006"', out)
    out = run("$eval('1 + 1')", "--reference")
    assert.are.equal("2\n", out)
    out = run("$uuid()", "--reference", "--describe")
    assert.matches('"code":"T1006"', out)
    out, err, code = run("$range(1, 5, 0)")
    assert.are.equal(0, code, err)
    assert.are.equal("", out)
  end)
end)
