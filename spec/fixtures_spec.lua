-- fixtures_spec.lua - the data-driven driver: every case in
-- spec/fixtures/{jpath,intrinsic,choice,validate,payload}/cases.json and
-- spec/fixtures/validate/jsonloc.json becomes one `it`, named by its
-- stable id, run through the moonstep Lua module: moonstep.eval for paths
-- and intrinsics, moonstep.path for what a path is, a three-state machine
-- for Choice rules (and a Pass state's ResultPath for jpath "set" cases),
-- moonstep.validate for definitions, moonstep.template for payload
-- templates, moonstep.locate for source positions. A missing or unreadable
-- fixture file fails loudly; it is never skipped. (The interpreter's
-- exec/ and task/ files are driven by exec_spec.lua.)
--
-- Case fields (each file is an array of objects with an "id"):
--   jpath      path, input, context?, vars?, expected | error [why]
--              | compile_error [why]; set, value, input, expected | error
--              [why] (ResultPath semantics); normalized?, reference?
--              (checked with moonstep.path)
--   intrinsic  expr, input, context?, vars?, expected | error [cause]
--              | compile_error | check "range" + range [lo, hi] | "uuid"
--   choice     rule, input, vars?, context? (Execution.Name only), top?,
--              expected true|false | error [cause] | invalid (message part)
--   validate   definition, valid true [warnings] | errors; each expected
--              diagnostic is {pointer, contains}
--   payload    template, input?, context?, vars?, assign?, expected (key
--              order included) | error + cause | invalid (message part)
--              [ptr]; or expr [field], input, expected | error + cause |
--              invalid (part of the cause)
--   jsonloc    text, pointer, line, col (validate/jsonloc.json)
local moonstep = require "moonstep"   -- cpath from .busted (MOONSTEP_BUILD)
local json = moonstep.json
package.path = "./spec/?.lua;" .. package.path
local ordered = require "conformance"  -- a JSON decoder keeping key order

local ROOT = "spec/fixtures/"

local function load_cases(area, file)
  local path = ROOT .. area .. "/" .. (file or "cases.json")
  local f, err = io.open(path, "rb")
  if not f then return nil, path .. ": " .. tostring(err) end
  local text = f:read("a")
  f:close()
  local ok, cases = pcall(json.decode, text)
  if not ok then return nil, path .. ": " .. tostring(cases) end
  if type(cases) ~= "table" or #cases == 0 then
    return nil, path .. ": not a non-empty array of cases"
  end
  -- Lua tables forget key order, and "$.o.*" or "$..x" results follow it
  -- (as do templates' outputs): keep each case's input, template and
  -- expected value as text too, in the file's key order.
  local raw = ordered.decode(text, nil, true)
  for n, case in ipairs(cases) do
    if type(case) == "table" then
      for _, k in ipairs({ "input", "template", "expected" }) do
        if case[k] ~= nil then
          case[k .. "_text"] = ordered.encode(raw[n][k])
        end
      end
    end
  end
  return cases
end

local function has(t, k)
  return t[k] ~= nil
end

local function show(v)
  local ok, s = pcall(json.encode, v)
  return ok and s or tostring(v)
end

local function assert_equal_json(want, got, what)
  assert(json.equal(want, got), string.format("%s: expected %s got %s",
         what or "value", show(want), show(got)))
end

local function opts_of(case)
  return { context = case.context, vars = case.vars }
end

-- Turn each case of area/file (default cases.json) into an it(); run(case)
-- does the checking.
local function drive(area, run, file)
  local label = file and (area .. "/" .. file) or area
  describe(label .. " fixtures", function()
    local cases, err = load_cases(area, file)
    if not cases then
      it("has spec/fixtures/" .. area .. "/" .. (file or "cases.json"),
         function()
        error("fixture file missing or invalid: " .. err)
      end)
      return
    end
    local seen = {}
    for n, case in ipairs(cases) do
      local id = type(case) == "table" and case.id or nil
      local name = type(id) == "string" and id or ("#" .. n .. " (no id)")
      it(name, function()
        assert(type(id) == "string", "case #" .. n .. " has no string id")
        assert(not seen[id], "duplicate id " .. id)
        seen[id] = true
        run(case)
      end)
    end
  end)
end

-- Run def (a Lua table) on input; returns the describe table.
local function run_machine(def, input, opts)
  local o = { virtual_clock = true }
  for k, v in pairs(opts or {}) do o[k] = v end
  local d, diags = moonstep.run(def, input, o)
  if d == nil then
    local msgs = {}
    for _, g in ipairs(diags or {}) do
      msgs[#msgs + 1] = tostring(g.pointer) .. ": " .. tostring(g.message)
    end
    error("definition refused: " .. table.concat(msgs, "; "), 2)
  end
  return d
end

local PREFIX = "^An error occurred while executing the state '[^']*' " ..
               "%(entered at the event id #%d+%)%. "

-- Evaluate expr as a Pass state's "v.$" field would, with the case's
-- input given as text so object key order is the file's. vars are set by
-- an Assign state first. Returns value | nil, error, cause (the cause
-- without the state prefix); a refused definition gives nil, "invalid".
local function eval_in_machine(expr, case)
  local def = { StartAt = "S", States = { S = {
    Type = "Pass", Parameters = { ["v.$"] = expr }, End = true } } }
  if case.vars ~= nil then
    def.StartAt = "V"
    def.States.V = { Type = "Pass", Assign = case.vars, Next = "S" }
  end
  local d, diags = moonstep.run(def, case.input_text or "{}",
                                { virtual_clock = true, input_text = true })
  if d == nil then
    local g = diags and diags[1] or {}
    return nil, "invalid", tostring(g.pointer) .. ": " ..
                           tostring(g.message)
  end
  if d.status ~= "SUCCEEDED" then
    local cause = d.cause
    if type(cause) == "string" then cause = cause:gsub(PREFIX, "") end
    return nil, d.error, cause
  end
  return d.output.v
end

-- Through a machine (key order kept) unless the case is about the context
-- object: a machine has its own, moonstep.eval takes the case's (or none).
local function evaluate(expr, case)
  if case.context == nil and not expr:find("$$", 1, true) then
    return eval_in_machine(expr, case)
  end
  local input = case.input
  if input == nil then input = json.decode("{}") end
  return moonstep.eval(expr, input, opts_of(case))
end

local function assert_fault(case, got_err, got_cause, what)
  assert(got_err ~= nil, what .. ": expected an error, got none")
  if type(case.error) == "string" then
    assert.are.equal(case.error, got_err, what .. " error")
  end
  if type(case.cause) == "string" then
    assert.are.equal(case.cause, got_cause, what .. " cause")
  end
  if type(case.why) == "string" then
    assert(type(got_cause) == "string" and
           got_cause:find(case.why, 1, true),
           string.format("%s: cause %q does not contain %q", what,
                         tostring(got_cause), case.why))
  end
end

---------------------------------------------------------------------------
-- jpath

-- What moonstep.path says of a path: it compiles (or not, with the case's
-- why), its text and root, and the case's normalized and reference fields.
local function root_of(text)
  if text:find("^%$%$") then return "context" end
  if text:find("^%$[%a_\128-\255]") then return "variable" end
  return "input"
end

local function check_path(text, case)
  local p, err = moonstep.path(text)
  if case.compile_error then
    assert(p == nil, "compiled: " .. show(p))
    assert(type(err) == "string", "no compile error message")
    if type(case.why) == "string" then
      assert(err:find(case.why, 1, true), string.format(
        "error %q does not contain %q", err, case.why))
    end
    return
  end
  assert(p ~= nil, "does not compile: " .. tostring(err))
  assert.are.equal(text, p.text)
  assert.are.equal(root_of(text), p.root, "root")
  if has(case, "normalized") then
    assert.are.equal(case.normalized, p.normalized, "normalized")
  end
  if has(case, "reference") then
    assert.are.equal(case.reference, p.reference, "reference")
  end
end

drive("jpath", function(case)
  if not has(case, "set") or case.error == nil then
    check_path(case.path or case.set, case)
  end
  if has(case, "set") then
    local def = { StartAt = "S", States = { S = {
      Type = "Pass", Result = case.value, ResultPath = case.set,
      End = true } } }
    local d, diags = moonstep.run(def, case.input_text or "{}",
      { virtual_clock = true, input_text = true })
    if case.error then
      if d == nil then  -- not a reference path: refused up front
        assert(type(diags) == "table" and #diags > 0, "no diagnostics")
        return
      end
      assert.are.equal("FAILED", d.status, show(d))
      local cause = d.cause
      if type(cause) == "string" then cause = cause:gsub(PREFIX, "") end
      assert_fault({ error = "States.Runtime", why = case.why }, d.error,
                   cause, "ResultPath " .. case.set)
    else
      assert(d ~= nil, "definition refused: " .. show(diags))
      assert.are.equal("SUCCEEDED", d.status, show(d))
      assert_equal_json(case.expected, d.output, "output")
    end
    return
  end
  local v, err, cause = evaluate(case.path, case)
  if case.compile_error or case.error then
    assert(v == nil, "expected an error, got " .. show(v))
    assert(err ~= nil, "no error name")
  else
    assert(v ~= nil, string.format("eval failed: %s: %s", tostring(err),
                                   tostring(cause)))
    assert_equal_json(case.expected, v, case.path)
  end
end)

---------------------------------------------------------------------------
-- intrinsic

local UUID4 = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-" ..
              "%x%x%x%x%x%x%x%x%x%x%x%x$"

drive("intrinsic", function(case)
  local v, err, cause = evaluate(case.expr, case)
  if case.compile_error then
    assert(v == nil, "expected a compile error, got " .. show(v))
    assert(err ~= nil, "no error name")
  elseif has(case, "error") then
    assert(v == nil, "expected " .. tostring(case.error) .. ", got " ..
                     show(v))
    assert_fault(case, err, cause, case.expr)
  else
    assert(v ~= nil, string.format("eval failed: %s: %s", tostring(err),
                                   tostring(cause)))
    if case.check == "range" then
      assert.are.equal("integer", math.type(v), show(v))
      assert(v >= case.range[1] and v <= case.range[2],
             show(v) .. " outside " .. show(case.range))
    elseif case.check == "uuid" then
      assert(type(v) == "string" and v:find(UUID4), "not a v4 uuid: " ..
             show(v))
    elseif case.check ~= nil then
      error("unknown check " .. tostring(case.check))
    else
      assert_equal_json(case.expected, v, case.expr)
    end
  end
end)

---------------------------------------------------------------------------
-- choice: C chooses T (Result true) or F (Result false); vars are set by
-- a Pass state's Assign before C.

local function choice_machine(case)
  local rule = {}
  for k, v in pairs(case.rule) do rule[k] = v end
  rule.Next = "T"
  local def = {
    StartAt = "C",
    States = {
      C = { Type = "Choice", Choices = json.array({ rule }), Default = "F" },
      T = { Type = "Pass", Result = true, End = true },
      F = { Type = "Pass", Result = false, End = true },
    },
  }
  if case.vars ~= nil then
    def.StartAt = "V"
    def.States.V = { Type = "Pass", Assign = case.vars, Next = "C" }
  end
  return def
end

drive("choice", function(case)
  local def = choice_machine(case)
  if has(case, "invalid") then
    local ok, diags = moonstep.validate(def)
    assert.is_false(ok, "definition accepted")
    local msgs = {}
    for _, g in ipairs(diags) do
      if not g.warning then
        if g.message:find(case.invalid, 1, true) then return end
        msgs[#msgs + 1] = g.pointer .. ": " .. g.message
      end
    end
    error(string.format("no diagnostic contains %q; got: %s", case.invalid,
                        table.concat(msgs, "; ")))
  end
  local opts = {}
  if case.context ~= nil then
    local ctx = case.context
    for k in pairs(ctx) do
      assert(k == "Execution", "context field " .. k .. " not supported")
    end
    for k in pairs(ctx.Execution) do
      assert(k == "Name", "context field Execution." .. k ..
             " not supported")
    end
    opts.name = ctx.Execution.Name
  end
  local input = case.input
  if input == nil then input = json.decode("{}") end
  local d = run_machine(def, input, opts)
  if has(case, "error") then
    assert.are.equal("FAILED", d.status, show(d))
    local cause = d.cause
    if type(cause) == "string" then cause = cause:gsub(PREFIX, "") end
    assert_fault(case, d.error, cause, "Choice")
  else
    assert.are.equal("SUCCEEDED", d.status, show(d))
    assert.are.equal(case.expected, d.output)
  end
end)

---------------------------------------------------------------------------
-- validate

-- Does diags hold one with this pointer and message part (warning or not)?
local function find_diag(diags, want, warning)
  for _, g in ipairs(diags) do
    if g.pointer == want.pointer and (not g.warning) == (not warning) and
       (want.contains == nil or g.message:find(want.contains, 1, true)) then
      return true
    end
  end
  return false
end

local function list_diags(diags)
  local out = {}
  for _, g in ipairs(diags or {}) do
    out[#out + 1] = string.format("%s%s: %s", g.warning and "(warning) "
                                  or "", tostring(g.pointer),
                                  tostring(g.message))
  end
  return #out > 0 and table.concat(out, "; ") or "none"
end

drive("validate", function(case)
  local text = json.encode(case.definition)
  local ok, diags = moonstep.validate(text)
  assert.are.equal("table", type(diags))
  if case.valid then
    assert(ok == true, "rejected: " .. list_diags(diags))
    for _, g in ipairs(diags) do
      assert(g.warning, "unexpected error: " .. list_diags(diags))
    end
  else
    assert(case.errors ~= nil, "case has neither valid nor errors")
    assert(ok == false, "accepted; diagnostics: " .. list_diags(diags))
  end
  for _, want in ipairs(case.errors or {}) do
    assert(find_diag(diags, want, false), string.format(
      "no error at %q containing %q; got: %s", want.pointer,
      tostring(want.contains), list_diags(diags)))
  end
  for _, want in ipairs(case.warnings or {}) do
    assert(find_diag(diags, want, true), string.format(
      "no warning at %q containing %q; got: %s", want.pointer,
      tostring(want.contains), list_diags(diags)))
  end
  for _, g in ipairs(diags) do
    assert.are.equal("number", type(g.line), "diagnostic without line")
    assert.are.equal("number", type(g.col), "diagnostic without col")
  end
end)

---------------------------------------------------------------------------
-- payload: templates through moonstep.template with template and input as
-- text (key order kept, and the output's checked); bare expressions
-- through moonstep.eval.

-- Does diags hold an error containing part (at ptr, when given)?
local function find_error(diags, part, ptr)
  for _, g in ipairs(diags) do
    if not g.warning and g.message:find(part, 1, true) and
       (ptr == nil or g.pointer == ptr) then
      return true
    end
  end
  return false
end

local function payload_expr(case)
  local input = case.input
  if input == nil then input = json.decode("{}") end
  local v, err, cause = moonstep.eval(case.expr, input,
    { context = case.context, vars = case.vars, field = case.field })
  if has(case, "invalid") then
    assert(v == nil, "compiled: " .. show(v))
    assert(err ~= nil, "no error name")
    assert(type(cause) == "string" and cause:find(case.invalid, 1, true),
           string.format("cause %q does not contain %q", tostring(cause),
                         case.invalid))
  elseif has(case, "error") then
    assert(v == nil, "expected " .. tostring(case.error) .. ", got " ..
                     show(v))
    assert_fault(case, err, cause, case.expr)
  else
    assert(v ~= nil, string.format("eval failed: %s: %s", tostring(err),
                                   tostring(cause)))
    assert_equal_json(case.expected, v, case.expr)
  end
end

drive("payload", function(case)
  if has(case, "expr") then return payload_expr(case) end
  local got, err, cause = moonstep.template(case.template_text,
    case.input_text, { context = case.context, vars = case.vars,
                       assign = case.assign, text = true })
  if has(case, "invalid") then
    assert(got == nil, "compiled: " .. tostring(got))
    assert.are.equal("invalid", err, tostring(cause))
    assert(find_error(cause, case.invalid, case.ptr), string.format(
      "no error%s containing %q; got: %s", case.ptr and (" at " ..
      case.ptr) or "", case.invalid, list_diags(cause)))
  elseif has(case, "error") then
    assert(got == nil, "expected " .. tostring(case.error) .. ", got " ..
                       tostring(got))
    assert(err ~= "invalid", "refused: " .. list_diags(cause))
    assert_fault(case, err, cause, "template")
  else
    assert(got ~= nil, string.format("failed: %s: %s", tostring(err),
      type(cause) == "table" and list_diags(cause) or tostring(cause)))
    -- the same encoder on both sides: values and key order must agree
    assert.are.equal(case.expected_text,
                     ordered.encode(ordered.decode(got, nil, true)))
  end
end)

---------------------------------------------------------------------------
-- jsonloc: where moonstep.locate puts a JSON pointer in a text

drive("validate", function(case)
  local line, col = moonstep.locate(case.text, case.pointer)
  assert(line ~= nil, "not located")
  assert.are.same({ case.line, case.col }, { line, col },
                  "line, col of " .. case.pointer)
end, "jsonloc.json")
