-- workflow_spec.lua - the csv-ingest example end to end through the
-- moonstep binary (#binary): `moonstep deploy` of template.yaml into a
-- scratch folder, then both machines (csv-ingest: the template's single
-- handler; csv-ingest-map: ingest.asl.json's Distributed Map) on small
-- generated files and on each bad input: the same summary from both, a
-- clear failure where there is nothing to ingest. Run from the
-- repository's top level: busted examples/csv-ingest
package.path = "./examples/csv-ingest/?.lua;./spec/?.lua;" .. package.path
local json = require "cjson"
local S = require "support"
local gen = require "gen"

local ROOT = os.getenv("PWD")
local HEADER = "id,name,email,city,joined,balance,notes\n"

describe("#binary examples/csv-ingest workflows", function()
  local tmp
  local function env()
    return "MOONSTEP_HOME=" .. S.shquote(ROOT) .. " MOONSTEP_BUCKETS="
      .. S.shquote(tmp .. "/buckets") .. " "
  end
  local function moonstep(args)
    local all = {"--db", tmp .. "/db"}
    for _, a in ipairs(args) do all[#all + 1] = a end
    return S.run(tmp, all, env(), tmp)
  end
  setup(function() S.require_binary() end)
  before_each(function()
    tmp = S.tmpdir("csv-ingest")
    os.execute("mkdir -p " .. S.shquote(tmp .. "/buckets/csv-uploads/in"))
    local out, err, code = moonstep{"deploy",
      ROOT .. "/examples/csv-ingest/template.yaml", "--tasks",
      ROOT .. "/tasks"}
    assert.are.equal(0, code, err .. out)
  end)
  after_each(function() S.rmtree(tmp) end)

  local function put(key, text)
    S.spit(tmp .. "/buckets/csv-uploads/" .. key, text)
  end
  local function event(key)
    return json.encode({Records = {{s3 = {bucket = {name = "csv-uploads"},
                                          object = {key = key}}}}})
  end
  local function run(machine, key)
    local out, err, code = moonstep{"run", machine, "--input", event(key),
                                    "--tasks", ROOT .. "/tasks"}
    local ok, v = pcall(json.decode, out)
    return ok and v or nil, err, code
  end
  local function count()
    local out = moonstep{"table", "scan", "Customers"}
    local n = 0
    for _ in out:gmatch("[^\n]+") do n = n + 1 end
    return n
  end

  for _, machine in ipairs({"csv-ingest", "csv-ingest-map"}) do
    describe(machine, function()
      it("ingests a generated file and lists the bad rows' lines", function()
        local parts = {}
        local planted = gen.generate({rows = 400, bad = 3, noid = 1, dup = 2,
                                      seed = 3},
                                     function(s) parts[#parts + 1] = s end)
        put("in/customers.csv", table.concat(parts))
        local out, err, code = run(machine, "in/customers.csv")
        assert.are.equal(0, code, err)
        local lines = {}
        for i, p in ipairs(planted) do lines[i] = p.line end
        table.sort(lines)
        assert.are.same({400, 394, 6, 2}, {out.read, out.written,
                                           out.rejected, out.duplicates})
        assert.are.same(lines, out.bad_rows)
        assert.are.equal(394, count())
      end)

      it("answers a header-only file with zero rows", function()
        put("h.csv", HEADER)
        local out, err, code = run(machine, "h.csv")
        assert.are.equal(0, code, err)
        assert.are.same({0, 0, 0}, {out.read, out.written, out.rejected})
      end)

      it("fails clearly on an empty file and a missing object", function()
        put("e.csv", "")
        local _, err, code = run(machine, "e.csv")
        assert.are_not.equal(0, code)
        assert.matches("Ingest.EmptyFile", err, 1, true)
        _, err, code = run(machine, "missing.csv")
        assert.are_not.equal(0, code)
        assert.matches("NoSuchKey", err, 1, true)
        assert.are.equal(0, count())
      end)
    end)
  end
end)
