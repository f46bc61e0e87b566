-- deploy_spec.lua - `moonstep deploy TEMPLATE`: CloudFormation and SAM
-- templates resolved (parameters, conditions, mappings, intrinsic
-- functions, physical names and ARNs), their tables created, state
-- machines registered and run by name, triggers recorded; bad templates
-- refused with the place that is wrong. #binary
local S = require "support"
local json = require "conformance"  -- its exact JSON decoder

local FIX = "spec/fixtures/deploy/"

describe("moonstep deploy #binary", function()
  local tmp
  before_each(function()
    S.require_binary()
    tmp = S.tmpdir("deploy")
  end)
  after_each(function() S.rmtree(tmp) end)

  local function dry(file, ...)
    local out, err, code = S.run(tmp, {"deploy", FIX .. file, "--dry-run",
                                       ...})
    assert.are.equal(0, code, err)
    return json.decode(out)
  end

  it("resolves a SAM template: names, ARNs, conditions, mappings",
     function()
    local s = dry("sam.yaml", "--stack", "shop")
    assert.are.equal("shop", s.Stack)
    local names = {}
    for _, t in ipairs(s.Tables) do names[#names + 1] = t.TableName end
    -- ProdOnly's condition is false for Env=dev
    assert.are.same({"orders-dev", "Sessions"}, names)
    assert.are.equal("by-status",
                     s.Tables[1].GlobalSecondaryIndexes[1].IndexName)
    assert.are.same({{AttributeName = "id", KeyType = "HASH"}},
                    s.Tables[2].KeySchema)
    local f = s.Functions[1]
    assert.are.equal("Loader", f.FunctionName)
    assert.are.equal(
      "arn:aws:lambda:us-east-1:123456789012:function:Loader", f.Arn)
    assert.are.equal(128, f.MemorySize)
    assert.are.equal(30, f.Timeout)           -- from Globals
    -- Globals' variables merged under the function's own
    assert.are.same({TABLE = "orders-dev", STAGE = "dev"},
                    f.Environment.Variables)
    local m = s.Machines[1]
    assert.are.equal("pipeline-dev", m.Name)
    assert.are.equal("EXPRESS", m.Type)
    local def = json.decode(m.Definition)
    assert.are.equal(f.Arn, def.States.Load.Resource)
    assert.are.equal("orders-dev", def.States.Load.Parameters.table)
    assert.are.same({{Bucket = "shop-uploads-dev", Prefix = "in/",
                      Suffix = "", Event = "eventbridge",
                      Machine = "pipeline-dev"}}, s.Triggers)
    assert.are.equal(
      "arn:aws:states:us-east-1:123456789012:stateMachine:pipeline-dev",
      s.Outputs.PipelineArn)
    assert.are.equal("upload/", s.Outputs.FirstPrefix)
    assert.are.equal("aGkh", s.Outputs.Encoded)
    assert.are.same({"a", "b", "", "c"}, s.Outputs.Split)
    local ignored = table.concat(s.Ignored, "|")
    assert.matches("Orders.BillingMode", ignored, 1, true)
    assert.matches("Loader.Policies", ignored, 1, true)
  end)

  it("takes parameters and applies conditions", function()
    local s = dry("sam.yaml", "--parameter", "Env=prod")
    assert.are.equal(3, #s.Tables)
    assert.are.equal("ProdOnly", s.Tables[3].TableName)
    assert.are.same({TABLE = "orders-prod", MODE = "strict", STAGE = "prod"},
                    s.Functions[1].Environment.Variables)
    assert.are.equal(1024, s.Functions[1].MemorySize)
    -- the default stack name is the file's name
    assert.are.equal("sam-uploads-prod", s.Buckets[1].BucketName)
  end)

  it("resolves a CloudFormation JSON template", function()
    local s = dry("cfn.json")
    local def = json.decode(s.Machines[1].Definition)
    assert.are.equal("arn:aws:lambda:us-east-1:123456789012:function:Echo",
                     def.States.Echo.Resource)
    assert.are.equal("echo-machine", s.Machines[1].Name)
    assert.are.equal("STANDARD", s.Machines[1].Type)
    assert.are.same({{Bucket = "drop", Prefix = "", Suffix = ".json",
                      Event = "eventbridge", Machine = "echo-machine"}},
                    s.Triggers)
    assert.matches("Role (AWS::IAM::Role)", table.concat(s.Ignored, "|"),
                   1, true)
  end)

  local function refused(text, pattern, code, ...)
    local f = tmp .. "/t.yaml"
    S.spit(f, text)
    local _, err, rc = S.run(tmp, {"deploy", f, "--dry-run", ...})
    assert.are.equal(code or 3, rc)
    assert.matches(pattern, err)
  end

  it("refuses bad templates, naming the place", function()
    refused("Resources:\n  A:\n    Type: X\n  A: 1\n",
            "t.yaml:4:3: duplicate key \"A\"")
    refused("Parameters:\n  P: {Type: String}\nResources: {}\n",
            "Parameters/P: no value: give one with %-%-parameter P=VALUE")
    refused("Parameters:\n  P: {Type: String, AllowedValues: [a]}\n"
            .. "Resources: {}\n", "\"b\" is not one of its AllowedValues",
            3, "--parameter", "P=b")
    refused("Resources: {}\n", "declares no such parameter", 3,
            "--parameter", "Q=1")
    refused("Resources:\n  T:\n    Type: AWS::S3::Bucket\n"
            .. "    Properties: {BucketName: !Ref Nope}\n",
            "Resources/T/Properties/BucketName: no resource or parameter "
            .. "named \"Nope\"")
    refused("Resources:\n  M:\n    Type: AWS::StepFunctions::StateMachine\n"
            .. "    Properties:\n      DefinitionString: '{\"StartAt\": "
            .. "\"A\", \"States\": {\"A\": {\"Type\": \"Pass\", \"Next\": "
            .. "\"B\"}}}'\n",
            "state machine M.-/States/A/Next")
    refused("Resources:\n  M:\n    Type: AWS::Serverless::StateMachine\n"
            .. "    Properties:\n      DefinitionUri: missing.asl.json\n",
            "cannot read .*missing.asl.json")
    refused("Resources:\n  A: {Type: AWS::S3::Bucket, Properties: "
            .. "{BucketName: !Sub \"${B}\"}}\n  B: {Type: AWS::S3::Bucket, "
            .. "Properties: {BucketName: !Sub \"${A}\"}}\n",
            "nest more than")
    refused("[1, 2]\n", "a template is a mapping with a Resources mapping")
  end)
  it("creates tables, registers machines and runs them by name", function()
    local db = tmp .. "/d.db"
    local env = "MOONSTEP_BUCKETS=" .. S.shquote(tmp .. "/buckets") .. " "
    os.execute("mkdir -p " .. S.shquote(tmp .. "/tasks"))
    S.spit(tmp .. "/tasks/Echo.lua",
           "return {handler = function(e) return {echo = e} end}\n")
    local out, err, code = S.run(tmp, {"deploy", FIX .. "cfn.json",
                                       "--db", db, "--tasks",
                                       tmp .. "/tasks"})
    assert.are.equal(0, code, err)
    assert.matches("machine   echo%-machine %(STANDARD%)", out)
    assert.matches("function  Echo +" .. tmp:gsub("%p", "%%%0")
                   .. "/tasks/Echo.lua\n", out)
    assert.matches("not emulated %(read and ignored%):.*Role %(AWS::IAM::Role%)",
                   out)
    out, err, code = S.run(tmp, {"run", "echo-machine", "--db", db,
                                 "--input", '{"x": 1}'})
    assert.are.equal(0, code, err)
    assert.are.equal('{"echo":{"x":1}}\n', out)
    -- the run is recorded under the registered machine's name
    out = S.run(tmp, {"executions", "list", "--db", db, "--json"})
    assert.matches("stateMachine:echo%-machine", out)

    out, err, code = S.run(tmp, {"deploy", FIX .. "sam.yaml", "--db", db,
                                 "--stack", "shop"}, env)
    assert.are.equal(0, code, err)
    assert.matches("table     orders%-dev +created %(key pk%)", out)
    assert.matches("bucket    shop%-uploads%-dev +created", out)
    assert.matches("shop%-uploads%-dev", (S.run(tmp, {"s3", "ls"}, env)))
    assert.matches("Loader.lua %(missing: write it before running%)", out)
    -- deploying again keeps the tables
    out, err, code = S.run(tmp, {"deploy", FIX .. "sam.yaml", "--db", db,
                                 "--stack", "shop"}, env)
    assert.are.equal(0, code, err)
    assert.matches("table     orders%-dev +exists %(key pk%)", out)
    assert.matches("bucket    shop%-uploads%-dev +exists", out)
    out = S.run(tmp, {"table", "list", "--db", db})
    assert.matches("orders%-dev", out)
    assert.matches("Sessions", out)
    -- a table of the same name with another key is not replaced
    S.spit(tmp .. "/other.yaml", "Resources:\n  T:\n"
           .. "    Type: AWS::Serverless::SimpleTable\n"
           .. "    Properties:\n      TableName: Sessions\n"
           .. "      PrimaryKey: {Name: sid, Type: Number}\n")
    _, err, code = S.run(tmp, {"deploy", tmp .. "/other.yaml", "--db", db},
                         env)
    assert.are.equal(1, code)
    assert.matches("table Sessions exists with another key schema", err)
    -- an unknown name is still a missing file, and nothing is created
    _, err, code = S.run(tmp, {"run", "nothing.json"}, "MOONSTEP_DB= ", tmp)
    assert.are.equal(2, code)
    assert.matches("cannot read nothing.json", err)
    assert.is_nil(S.read(tmp .. "/.moonstep/moonstep.db"))
  end)
end)
