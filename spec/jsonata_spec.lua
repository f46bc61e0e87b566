-- jsonata_spec.lua - the JSONata evaluator (engine/jsonata*.c): a handful
-- of direct cases through moonstep.jsonata (results, undefined, errors
-- with the reference's codes, bindings, limits, hostile input), the CLI's
-- eval --jsonata (#binary), and the reference test suite through
-- spec/jsonata.lua at its threshold (#conformance: make test runs the
-- runner itself, with its full report).

local support = require("support")

local BUILD = os.getenv("MOONSTEP_BUILD") or "build"
local CASES = os.getenv("MOONSTEP_JSONATA") or
              "../shared/jsonata/cases.jsonl"
local THRESHOLD = os.getenv("MOONSTEP_JSONATA_THRESHOLD") or "99"

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- expr, input (JSON text or nil), bindings (JSON text or nil),
-- expected: JSON text | "undefined" | "error CODE"
local CASES_DIRECT = {
  {"1 + 2 * 3", nil, nil, "7"},
  {"a.b", '{"a":{"b":[1,2]}}', nil, "[1,2]"},
  {"a.b[1]", '{"a":{"b":[1,2]}}', nil, "2"},
  {"a.c", '{"a":{"b":1}}', nil, "undefined"},
  {"$x & '-' & $y", nil, '{"x":"a","y":2}', '"a-2"'},
  {"Account.Order.Product[Price > 30].SKU",
   '{"Account":{"Order":[{"Product":[{"SKU":"a","Price":34},' ..
   '{"SKU":"b","Price":21}]},{"Product":{"SKU":"c","Price":50}}]}}',
   nil, '["a","c"]'},
  {"$sum(items.(q * p))", '{"items":[{"q":2,"p":1.5},{"q":1,"p":3}]}',
   nil, "6"},
  {"items{type: $count(id)}",
   '{"items":[{"type":"x","id":1},{"type":"y","id":2},' ..
   '{"type":"x","id":3}]}', nil, '{"x":2,"y":1}'},
  {"$string(0.1 + 0.2)", nil, nil, '"0.3"'},
  {"$string(1e21)", nil, nil, '"1e+21"'},
  {"( $f := function($n) { $n <= 1 ? 1 : $n * $f($n - 1) }; $f(10) )",
   nil, nil, "3628800"},
  {"[1..5] ~> $map(function($v) { $v * $v }) ~> $sum()", nil, nil, "55"},
  {"$replace('hello world', /o/, '0')", nil, nil, '"hell0 w0rld"'},
  {"1 + 'a'", nil, nil, "error T2002"},
  {"1 +", nil, nil, "error S0207"},
  {"$substring('abc', 'x')", nil, nil, "error T0410"},
  {"foo(", nil, nil, "error S0203"},
}

describe("JSONata", function()
  local ms
  -- loaded when these tests run, not when the file is read: the
  -- sanitizer run reads #binary files without loading moonstep.so
  lazy_setup(function() ms = require("moonstep") end)

  local function run(expr, input, bindings, opts)
    opts = opts or {}
    opts.text = true
    local r, code, msg = ms.jsonata(expr, input, bindings, opts)
    if r ~= nil then return r end
    if code then return "error " .. code, msg end
    return "undefined"
  end

  for i, c in ipairs(CASES_DIRECT) do
    it(string.format("case %02d: %s", i, c[1]), function()
      assert.are.equal(c[4], (run(c[1], c[2], c[3])))
    end)
  end

  it("returns Lua values without the text option", function()
    local v = ms.jsonata("{'a': [1, 2]}", nil)
    assert.are.equal(2, #v.a)
    assert.is_nil(ms.jsonata("nothing", nil))
  end)

  it("gives the error's message and position", function()
    local r, code, msg, pos = ms.jsonata("1 + 'a'", nil)
    assert.is_nil(r)
    assert.are.equal("T2002", code)
    assert.are.equal('The right side of the "+" operator must evaluate ' ..
                     'to a number', msg)
    assert.are.equal(3, pos)
  end)

  it("stops runaway recursion at the depth limit", function()
    local got = run("( $f := function($n) { $n + $f($n + 1) }; $f(1) )",
                    nil, nil, { depth = 200 })
    assert.are.equal("error U1001", got)
  end)

  it("stops an endless tail call at the time limit", function()
    local got = run("( $f := function($n) { $f($n + 1) }; $f(1) )",
                    nil, nil, { timeout = 200 })
    assert.are.equal("error U1001", got)
  end)

  it("ends hostile expressions with an error, never a crash", function()
    local deep = string.rep("(", 100000) .. "1" .. string.rep(")", 100000)
    assert.matches("^error ", run(deep))
    assert.matches("^error ", run(string.rep("[", 50000)))
    assert.matches("^error ", run(string.rep("-", 100000) .. "1"))
    assert.matches("^error ", run("[1..100000000]"))
    assert.matches("^error ", run("\"\\u12"))
    assert.matches("^error ", run("/(/"))
    -- found by the fuzzer: a width past any string's length, and a
    -- picture with a truncated UTF-8 sequence
    assert.matches("^error D1005", run('$pad("x", 79007199254740993)'))
    assert.matches("^error D1005", run('$pad("x", -2e9)'))
    assert.matches("^error ", run("$fromMillis(7,'[f\247]')"))
    local nested = string.rep("{\"a\":", 1000) .. "1" ..
                   string.rep("}", 1000)
    assert.are.equal("1", run("**[$type($) = 'number']", nested))
  end)
end)

describe("moonstep eval --jsonata #binary", function()
  local tmp
  before_each(function() tmp = support.tmpdir("jsonata") end)
  after_each(function() support.rmtree(tmp) end)

  local function run(...)
    return support.run(tmp, { "eval", "--jsonata", ... })
  end

  it("prints the result and describes outcomes", function()
    local out, err, code = run("a.b", "--input", '{"a":{"b":3}}')
    assert.are.equal(0, code, err)
    assert.are.equal("3\n", out)
    out = run("$x * 2", "--bindings", '{"x":21}', "--describe")
    assert.are.equal('{"result":42}\n', out)
    out = run("nothing", "--describe")
    assert.are.equal('{"undefined":true}\n', out)
    out = run("1 + true", "--describe")
    assert.matches('"code":"T2002"', out)
    out, err, code = run("1 +")
    assert.are_not.equal(0, code)
    assert.matches("S0207", err)
  end)
end)

describe("JSONata reference test suite #conformance", function()
  if not exists(CASES) then
    pending("JSONata cases not found at " .. CASES ..
            " (set MOONSTEP_JSONATA); not run")
    return
  end
  it("passes at least " .. THRESHOLD .. "% of the cases", function()
    local cmd = string.format(
      "MOONSTEP_BUILD=%s lua5.4 spec/jsonata.lua --file %s --threshold %s" ..
      " 2>&1", support.shquote(BUILD), support.shquote(CASES),
      support.shquote(THRESHOLD))
    local p = assert(io.popen(cmd))
    local report = p:read("a")
    local ok, how, code = p:close()
    assert.is_true(ok == true, string.format("%s exit %s\n%s", how,
                                             tostring(code), report))
    print((report:match("jsonata: [^\n]*") or report))
  end)
end)
