-- cli_spec.lua - the moonstep command (engine/cli.c) driven as a user
-- drives it: run, --describe, validate, eval; exit status 0 succeeded,
-- 1 execution failed, 2 usage error, 3 invalid definition; output on
-- stdout, diagnostics on stderr. Tagged #binary: under "make test" these
-- run against build-asan/moonstep with leak checking on.
package.path = "./spec/?.lua;" .. package.path
local json = require "conformance"  -- its exact JSON decoder and equal

local support = require "support"
local shquote, slurp, spit = support.shquote, support.slurp, support.spit

local tmp -- a scratch folder for this file

-- Run the binary with argument list args; returns stdout, stderr, status.
local function moonstep(args) return support.run(tmp, args) end

-- Write a definition to the scratch folder; returns its path.
local function definition(name, text)
  local path = tmp .. "/" .. name
  spit(path, text)
  return path
end

local PASS = [[{
  "StartAt": "Hello",
  "States": {
    "Hello": {"Type": "Pass",
              "Parameters": {"greeting": "hi", "who.$": "$.who",
                             "n": 12345678901234567, "list": []},
              "End": true}
  }
}]]

local FAIL = [[{
  "StartAt": "Boom",
  "States": {
    "Boom": {"Type": "Fail", "Error": "Custom.Error", "Cause": "it broke"}
  }
}]]

-- Line 4 holds the bad Next; column 29 is where its value starts.
local INVALID = [[{
  "StartAt": "Load",
  "States": {
    "Load": {"Type": "Pass", "Next": "Lod"}
  }
}]]

describe("moonstep CLI #binary", function()
  setup(function()
    tmp = support.tmpdir("cli-spec")
    support.require_binary()
  end)

  teardown(function()
    support.rmtree(tmp)
  end)

  it("run prints the output of a Pass machine and exits 0", function()
    local def = definition("pass.json", PASS)
    local out, err, code = moonstep({ "run", def, "--input",
                                      '{"who": "world"}' })
    assert.are.equal(0, code, err)
    local got = json.decode(out)
    local want = json.decode([[{"greeting": "hi", "who": "world",
                                "n": 12345678901234567, "list": []}]])
    assert.is_true(json.equal(want, got), "got " .. out)
    assert.are.equal("integer", math.type(got.n))
  end)

  it("run reads the input from @FILE", function()
    local def = definition("pass.json", PASS)
    spit(tmp .. "/input.json", '{"who": "file"}')
    local out, err, code = moonstep({ "run", def, "--input",
                                      "@" .. tmp .. "/input.json" })
    assert.are.equal(0, code, err)
    assert.are.equal("file", json.decode(out).who)
  end)

  it("run --describe prints status SUCCEEDED and the output", function()
    local def = definition("pass.json", PASS)
    local out, err, code = moonstep({ "run", def, "--input",
                                      '{"who": "x"}', "--describe" })
    assert.are.equal(0, code, err)
    local d = json.decode(out)
    assert.are.equal("SUCCEEDED", d.status)
    assert.are.equal("x", d.output.who)
  end)

  it("a Fail machine exits 1 with error and cause in --describe", function()
    local def = definition("fail.json", FAIL)
    local out, err, code = moonstep({ "run", def, "--describe" })
    assert.are.equal(1, code, err)
    local d = json.decode(out)
    assert.are.equal("FAILED", d.status)
    assert.are.equal("Custom.Error", d.error)
    assert.are.equal("it broke", d.cause)
  end)

  it("a Fail machine without --describe exits 1, stdout empty", function()
    local def = definition("fail.json", FAIL)
    local out, err, code = moonstep({ "run", def })
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.truthy(err:find("Custom.Error", 1, true), err)
    assert.truthy(err:find("in state 'Boom'", 1, true), err)
  end)

  it("a failing handler's state, message and Lua traceback go to stderr",
     function()
    os.execute("mkdir -p " .. shquote(tmp .. "/tasks"))
    spit(tmp .. "/tasks/Boom.lua", [[
local M = {}
function M.handler(event)
  error({ errorType = "TooBig", errorMessage = "n is " .. event.n })
end
return M
]])
    local def = definition("boom.json", [[{"StartAt": "Check", "States": {
      "Check": {"Type": "Task", "End": true, "Resource":
        "arn:aws:lambda:us-east-1:123456789012:function:Boom"}}}]])
    local out, err, code = moonstep({ "run", def, "--input", '{"n": 2}',
                                      "--tasks", tmp .. "/tasks" })
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.truthy(err:find("FAILED in state 'Check': TooBig: n is 2", 1,
                           true), err)
    assert.truthy(err:find("Boom.lua:3:", 1, true), err)
  end)

  it("an invalid definition exits 3 with FILE:LINE:COL on stderr",
     function()
    local def = definition("invalid.json", INVALID)
    local out, err, code = moonstep({ "run", def })
    assert.are.equal(3, code, err)
    assert.are.equal("", out)
    local pat = "^" .. def:gsub("%p", "%%%0") ..
                ":4:%d+: error: /States/Load/Next: [^\n]+\n"
    assert.truthy(err:find(pat), "stderr: " .. err)
    assert.truthy(err:find("Lod", 1, true), err)
  end)

  it("validate of an invalid definition exits 3 with the same line",
     function()
    local def = definition("invalid.json", INVALID)
    local _, err, code = moonstep({ "validate", def })
    assert.are.equal(3, code, err)
    assert.truthy(err:find(":4:%d+: error: /States/Load/Next: "), err)
  end)

  it("validate of a good definition exits 0", function()
    local def = definition("pass.json", PASS)
    local _, err, code = moonstep({ "validate", def })
    assert.are.equal(0, code, err)
    assert.is_nil(err:find("error:", 1, true), err)
  end)

  it("an unknown flag is a usage error: exit 2", function()
    local def = definition("pass.json", PASS)
    local out, err, code = moonstep({ "run", def, "--no-such-flag" })
    assert.are.equal(2, code)
    assert.are.equal("", out)
    assert.truthy(err:find("no-such-flag", 1, true), err)
  end)

  it("an unknown command is a usage error: exit 2", function()
    local _, _, code = moonstep({ "no-such-command" })
    assert.are.equal(2, code)
  end)

  it("run without a file is a usage error: exit 2", function()
    local _, _, code = moonstep({ "run" })
    assert.are.equal(2, code)
  end)

  it("eval '$.a' --input '{\"a\":1}' prints 1", function()
    local out, err, code = moonstep({ "eval", "$.a", "--input",
                                      '{"a":1}' })
    assert.are.equal(0, code, err)
    assert.are.equal("1", (out:gsub("%s+$", "")))
  end)

  it("eval of an intrinsic with --vars", function()
    local out, err, code = moonstep({ "eval",
                                      "States.Format('{}-{}', $x, $.a)",
                                      "--input", '{"a":2}',
                                      "--vars", '{"x":"v"}' })
    assert.are.equal(0, code, err)
    assert.are.equal("v-2", json.decode(out))
  end)

  it("eval of a missing path fails with States.Runtime", function()
    local out, err, code = moonstep({ "eval", "$.nope", "--input", "{}" })
    assert.are_not.equal(0, code)
    assert.are.equal("", out)
    assert.truthy(err:find("States.Runtime", 1, true), err)
  end)

  it("the same execution twice prints identical bytes", function()
    local def = definition("pass.json", PASS)
    local args = { "run", def, "--input",
                   '{"who": {"z": 1, "a": [1.5, null, true], "m": {}}}' }
    local out1, err1, code1 = moonstep(args)
    local out2, _, code2 = moonstep(args)
    assert.are.equal(0, code1, err1)
    assert.are.equal(0, code2)
    assert.are.equal(out1, out2)
    assert.truthy(#out1 > 0)
  end)
  -- Regressions from the R2 review: output that cannot be written, inputs
  -- that are not files, and argument errors, each with a clear message.
  it("output to a full disk exits non-zero with a message", function()
    local def = definition("pass.json", PASS)
    for _, args in ipairs {
      { "run", def, "--input", '{"who": "x"}' },
      { "validate", def },
      { "eval", "$.a", "--input", '{"a": 1}' },
      { "help" },
    } do
      local q = {}
      for i, a in ipairs(args) do q[i] = shquote(a) end
      local _, how, code = os.execute(string.format(
        "%s %s >/dev/full 2>%s </dev/null", shquote(support.BIN),
        table.concat(q, " "), shquote(tmp .. "/stderr")))
      assert.are.equal("exit", how)
      assert.are.equal(1, code, args[1])
      assert.truthy(slurp(tmp .. "/stderr"):find("cannot write the output",
                                                 1, true), args[1])
    end
  end)

  it("--input @missing-file and @directory say why, exit 2", function()
    local def = definition("pass.json", PASS)
    local _, err, code = moonstep({ "run", def, "--input",
                                    "@" .. tmp .. "/no-such.json" })
    assert.are.equal(2, code)
    assert.truthy(err:find("--input: cannot read " .. tmp ..
                           "/no-such.json: No such file", 1, true), err)
    _, err, code = moonstep({ "run", def, "--input", "@" .. tmp })
    assert.are.equal(2, code)
    assert.truthy(err:find("Is a directory", 1, true), err)
    _, err, code = moonstep({ "validate", tmp })
    assert.are.equal(2, code)
    assert.truthy(err:find("Is a directory", 1, true), err)
  end)

  it("an endless file is refused, not read into memory", function()
    local _, err, code = moonstep({ "validate", "/dev/zero" })
    assert.are.equal(2, code)
    assert.truthy(err:find("File too large", 1, true), err)
  end)

  it("a definition over 1 MiB exits 3", function()
    local def = definition("big.json", '{"StartAt":"A","States":{"A":' ..
      '{"Type":"Pass","End":true,"Result":"' .. string.rep("x", 2^21) ..
      '"}}}')
    local _, err, code = moonstep({ "validate", def })
    assert.are.equal(3, code)
    assert.truthy(err:find("the limit is 1048576", 1, true), err)
  end)

  it("each subcommand's argument errors exit 2 with a message", function()
    local def = definition("pass.json", PASS)
    for _, case in ipairs {
      { { "run" }, "missing FILE" },
      { { "run", def, "--input" }, "incomplete option '--input'" },
      { { "run", def, "--clock", "fast" }, "unknown clock 'fast'" },
      { { "run", def, def }, "unexpected argument" },
      { { "run", def, "--input", "{" }, "--input is not valid JSON" },
      { { "validate" }, "missing FILE" },
      { { "eval" }, "missing EXPR" },
      { { "eval", "$.a", "--input" }, "option '--input' needs a value" },
      { { "eval", "--vars" }, "option '--vars' needs a value" },
      { { "eval", "$.a", "--vars", "[]" }, "--vars must be a JSON object" },
      { { "eval", "$.a", "--bogus" }, "unexpected argument '--bogus'" },
      { { "nope" }, "unknown command 'nope'" },
    } do
      local out, err, code = moonstep(case[1])
      local what = table.concat(case[1], " ")
      assert.are.equal(2, code, what)
      assert.are.equal("", out, what)
      assert.truthy(err:find(case[2], 1, true), what .. ": " .. err)
    end
  end)
end)
