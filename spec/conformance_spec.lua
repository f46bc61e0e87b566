-- conformance_spec.lua - the AWS-recorded conformance cases, through the
-- binary: runs spec/conformance.lua and asserts its pass-rate threshold.
-- The cases live outside the repository (../shared/conformance/, or
-- MOONSTEP_CONFORMANCE); without them the spec is pending, visibly.
-- Tagged #conformance (make test runs the runner directly instead) and
-- #binary (it only drives the CLI).

local BUILD = os.getenv("MOONSTEP_BUILD") or "build"
local FILE = os.getenv("MOONSTEP_CONFORMANCE") or
             "../shared/conformance/aws-recorded.jsonl"
local THRESHOLD = os.getenv("MOONSTEP_CONFORMANCE_THRESHOLD") or "95"

local function shquote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

describe("AWS conformance #conformance #binary", function()
  if not exists(FILE) then
    pending("conformance cases not found at " .. FILE ..
            " (set MOONSTEP_CONFORMANCE); not run")
    return
  end

  it("passes at least " .. THRESHOLD .. "% of the recorded cases",
     function()
    local cmd = string.format(
      "lua5.4 spec/conformance.lua --binary %s --file %s --threshold %s 2>&1",
      shquote(BUILD .. "/moonstep"), shquote(FILE), shquote(THRESHOLD))
    local p = assert(io.popen(cmd))
    local report = p:read("a")
    local ok, how, code = p:close()
    local summary = report:match("\nconformance: [^\n]*") or report
    -- The whole report (table and failing ids) on failure; the summary
    -- line otherwise.
    assert.is_true(ok == true, string.format("%s exit %s\n%s", how,
                                             tostring(code), report))
    print((summary:gsub("^\n", "")))
  end)
end)
