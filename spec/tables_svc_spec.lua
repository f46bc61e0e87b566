-- tables_svc_spec.lua - DynamoDB's Task resources inside state machines
-- (engine/svc_dynamodb.c over tables.c), through the moonstep binary with
-- a scratch database: each integration ARN with AWS's request and
-- response shapes, errors caught by Catch under DynamoDB's names, AWS's
-- batch limits, and a Lua handler sharing the tables with the workflow.
local S = require "support"
local json = require "cjson"  -- no moonstep.so: these run the binary only

local PRE = "arn:aws:states:::"

-- Handlers find lua/moonstep/tables.lua through MOONSTEP_HOME.
local HOME = (function()
  local p = assert(io.popen("pwd"))
  local d = p:read("l")
  p:close()
  return d
end)()

-- A one-state machine calling resource with params.
local function task(resource, params, extra)
  local st = {Type = "Task", Resource = resource, Parameters = params,
              End = true}
  for k, v in pairs(extra or {}) do st[k] = v end
  return {StartAt = "T", States = {T = st}}
end

local function chain(states)
  local def = {StartAt = "S1", States = {}}
  for i, st in ipairs(states) do
    st.Type = st.Type or "Task"
    if i < #states then st.Next = "S" .. (i + 1) else st.End = true end
    def.States["S" .. i] = st
  end
  return def
end

local CREATE = {TableName = "orders",
  KeySchema = {{AttributeName = "id", KeyType = "HASH"},
               {AttributeName = "n", KeyType = "RANGE"}},
  AttributeDefinitions = {{AttributeName = "id", AttributeType = "S"},
                          {AttributeName = "n", AttributeType = "N"}},
  BillingMode = "PAY_PER_REQUEST"}

describe("#binary DynamoDB integrations", function()
  local tmp
  before_each(function()
    S.require_binary()
    tmp = S.tmpdir("tables-svc")
  end)
  after_each(function() S.rmtree(tmp) end)

  -- Run def with input; returns the decoded output, stderr and status.
  local function run(def, input)
    S.spit(tmp .. "/m.json", json.encode(def))
    local out, err, code = S.run(tmp, {"run", tmp .. "/m.json", "--input",
                                       json.encode(input or {}),
                                       "--db", tmp .. "/db"},
                                 "MOONSTEP_HOME=" .. S.shquote(HOME) .. " ",
                                 tmp)
    local ok, v = pcall(json.decode, out)
    return ok and v or out, err, code
  end

  local function create()
    local out, err, code = run(task(PRE .. "aws-sdk:dynamodb:createTable",
                                    CREATE))
    assert.are.equal(0, code, err)
    return out
  end

  it("createTable, describeTable, listTables, deleteTable (aws-sdk)",
     function()
    local d = create().TableDescription
    assert.are.equal("ACTIVE", d.TableStatus)
    assert.are.equal("arn:aws:dynamodb:us-east-1:123456789012:table/orders",
                     d.TableArn)
    local out = run(task(PRE .. "aws-sdk:dynamodb:describeTable",
                         {TableName = "orders"}))
    assert.are.equal("orders", out.Table.TableName)
    assert.are.equal(0, out.Table.ItemCount)
    out = run(task(PRE .. "aws-sdk:dynamodb:listTables", {}))
    assert.are.same({"orders"}, out.TableNames)
    out = run(task(PRE .. "aws-sdk:dynamodb:deleteTable",
                   {TableName = "orders"}))
    assert.are.equal("DELETING", out.TableDescription.TableStatus)
    local _, err, code = run(task(PRE .. "aws-sdk:dynamodb:createTable",
                                  CREATE))
    assert.are.equal(0, code, err)
    local e = run{StartAt = "T", States = {
      T = {Type = "Task", Resource = PRE .. "aws-sdk:dynamodb:createTable",
           Parameters = CREATE, Catch = {{ErrorEquals = {"States.ALL"},
           Next = "Done"}}, End = true},
      Done = {Type = "Pass", End = true}}}
    assert.are.equal("DynamoDb.ResourceInUseException", e.Error)
    assert.matches("^Table already exists: orders", e.Cause)
  end)

  it("putItem, getItem, updateItem, deleteItem (optimized) with AWS's "
     .. "response shapes", function()
    create()
    local out, err, code = run(chain{
      {Resource = PRE .. "dynamodb:putItem", ResultPath = "$.put",
       Parameters = {TableName = "orders", Item = {id = {["S.$"] = "$.id"},
         n = {N = "1"}, qty = {N = "2"}}}},
      {Resource = PRE .. "dynamodb:updateItem", ResultPath = "$.update",
       Parameters = {TableName = "orders", Key = {id = {["S.$"] = "$.id"},
         n = {N = "1"}}, UpdateExpression = "SET qty = qty + :d",
         ExpressionAttributeValues = {[":d"] = {N = "3"}},
         ReturnValues = "UPDATED_NEW"}},
      {Resource = PRE .. "dynamodb:getItem", ResultPath = "$.get",
       Parameters = {TableName = "orders", Key = {id = {["S.$"] = "$.id"},
         n = {N = "1"}}}},
      {Resource = PRE .. "dynamodb:deleteItem", ResultPath = "$.delete",
       Parameters = {TableName = "orders", Key = {id = {["S.$"] = "$.id"},
         n = {N = "1"}}, ReturnValues = "ALL_OLD"}},
      {Resource = PRE .. "dynamodb:getItem", ResultPath = "$.gone",
       Parameters = {TableName = "orders", Key = {id = {["S.$"] = "$.id"},
         n = {N = "1"}}}},
    }, {id = "o1"})
    assert.are.equal(0, code, err)
    assert.are.same({qty = {N = "5"}}, out.update.Attributes)
    assert.are.same({id = {S = "o1"}, n = {N = "1"}, qty = {N = "5"}},
                    out.get.Item)
    assert.are.same(out.get.Item, out.delete.Attributes)
    assert.is_nil(out.gone.Item)
    for _, r in ipairs{out.put, out.get, out.gone} do
      assert.are.equal(200, r.SdkHttpMetadata.HttpStatusCode)
      assert.are.equal(52, #r.SdkResponseMetadata.RequestId)
      assert.are.equal(r.SdkResponseMetadata.RequestId,
                       r.SdkHttpMetadata.HttpHeaders["x-amzn-RequestId"])
    end
  end)

  it("a failed condition is caught as DynamoDB.ConditionalCheck"
     .. "FailedException", function()
    create()
    local put = {TableName = "orders", Item = {id = {S = "o1"},
                 n = {N = "1"}}, ConditionExpression =
                 "attribute_not_exists(id)"}
    local def = chain{
      {Resource = PRE .. "dynamodb:putItem", Parameters = put,
       ResultPath = json.null},
      {Resource = PRE .. "dynamodb:putItem", Parameters = put,
       Catch = {{ErrorEquals = {"DynamoDB.ConditionalCheckFailedException"},
                 ResultPath = "$.error", Next = "S3"}}},
      {Type = "Pass", ResultPath = "$.after", Result = "caught"},
    }
    local out, err, code = run(def)
    assert.are.equal(0, code, err)
    assert.are.equal("DynamoDB.ConditionalCheckFailedException",
                     out.error.Error)
    assert.matches("^The conditional request failed %(Service: "
                   .. "AmazonDynamoDBv2; Status Code: 400; Error Code: "
                   .. "ConditionalCheckFailedException; Request ID: %w+; "
                   .. "Proxy: null%)$", out.error.Cause)
    -- uncaught: the execution fails with it
    out, err, code = run(task(PRE .. "dynamodb:putItem", put))
    assert.are.equal(1, code)
    assert.matches("DynamoDB.ConditionalCheckFailedException", err)
  end)

  it("query, scan, batchWriteItem, batchGetItem, transactWriteItems "
     .. "(aws-sdk)", function()
    create()
    local reqs = {}
    for i = 1, 5 do
      reqs[i] = {PutRequest = {Item = {id = {S = "a"},
                 n = {N = tostring(i)}}}}
    end
    local out, err, code = run(chain{
      {Resource = PRE .. "aws-sdk:dynamodb:batchWriteItem",
       ResultPath = "$.bw", Parameters = {RequestItems = {orders = reqs}}},
      {Resource = PRE .. "aws-sdk:dynamodb:query", ResultPath = "$.q",
       Parameters = {TableName = "orders", KeyConditionExpression =
         "id = :id AND n > :n", ExpressionAttributeValues =
         {[":id"] = {S = "a"}, [":n"] = {N = "1"}}, Limit = 2,
         ScanIndexForward = false}},
      {Resource = PRE .. "aws-sdk:dynamodb:scan", ResultPath = "$.s",
       Parameters = {TableName = "orders", Select = "COUNT"}},
      {Resource = PRE .. "aws-sdk:dynamodb:batchGetItem",
       ResultPath = "$.bg", Parameters = {RequestItems = {orders = {Keys = {
         {id = {S = "a"}, n = {N = "2"}}}}}}},
      {Resource = PRE .. "aws-sdk:dynamodb:transactWriteItems",
       ResultPath = "$.tw", Parameters = {TransactItems = {
         {Delete = {TableName = "orders", Key = {id = {S = "a"},
                    n = {N = "1"}}}},
         {Put = {TableName = "orders", Item = {id = {S = "b"},
                 n = {N = "1"}}}}}}},
      {Resource = PRE .. "aws-sdk:dynamodb:scan", ResultPath = "$.s2",
       Parameters = {TableName = "orders", ProjectionExpression = "id"}},
    })
    assert.are.equal(0, code, err)
    assert.are.same({UnprocessedItems = {}}, out.bw)
    assert.are.same({Items = {{id = {S = "a"}, n = {N = "5"}},
                              {id = {S = "a"}, n = {N = "4"}}},
                     Count = 2, ScannedCount = 2,
                     LastEvaluatedKey = {id = {S = "a"}, n = {N = "4"}}},
                    out.q)
    assert.are.same({Count = 5, ScannedCount = 5}, out.s)
    assert.are.same({Responses = {orders = {{id = {S = "a"},
                     n = {N = "2"}}}}, UnprocessedKeys = {}}, out.bg)
    assert.are.same({}, out.tw)
    assert.are.equal(5, out.s2.Count)
    assert.is_nil(out.SdkHttpMetadata)
  end)

  it("AWS's limits and errors in aws-sdk calls: DynamoDb.<Name>",
     function()
    create()
    local reqs = {}
    for i = 1, 26 do
      reqs[i] = {PutRequest = {Item = {id = {S = "a"},
                 n = {N = tostring(i)}}}}
    end
    local catch = {{ErrorEquals = {"States.ALL"}, Next = "Done"}}
    local function caught(resource, params)
      local def = {StartAt = "T", States = {
        T = {Type = "Task", Resource = resource, Parameters = params,
             Catch = catch, End = true},
        Done = {Type = "Pass", End = true}}}
      local out, err, code = run(def)
      assert.are.equal(0, code, err)
      return out
    end
    local e = caught(PRE .. "aws-sdk:dynamodb:batchWriteItem",
                     {RequestItems = {orders = reqs}})
    assert.are.equal("DynamoDb.ValidationException", e.Error)
    assert.matches("Member must have length less than or equal to 25",
                   e.Cause)
    assert.matches("%(Service: DynamoDb, Status Code: 400, Request ID: %w+%)$",
                   e.Cause)
    e = caught(PRE .. "aws-sdk:dynamodb:query", {TableName = "nope",
               KeyConditionExpression = "id = :v",
               ExpressionAttributeValues = {[":v"] = {S = "x"}}})
    assert.are.equal("DynamoDb.ResourceNotFoundException", e.Error)
    e = caught(PRE .. "aws-sdk:dynamodb:transactWriteItems",
      {TransactItems = {{ConditionCheck = {TableName = "orders",
        Key = {id = {S = "x"}, n = {N = "1"}},
        ConditionExpression = "attribute_exists(id)"}}}})
    assert.are.equal("DynamoDb.TransactionCanceledException", e.Error)
    assert.matches("^Transaction cancelled, please refer cancellation "
                   .. "reasons for specific reasons "
                   .. "%[ConditionalCheckFailed%]",
                   e.Cause)
    e = caught(PRE .. "dynamodb:getItem", {TableName = "orders",
                                           Key = {id = {S = "x"}}})
    assert.are.equal("DynamoDB.ValidationException", e.Error)
    assert.matches("^The provided key element does not match the schema",
                   e.Cause)
  end)

  it("a Lua handler and the workflow share the tables", function()
    create()
    os.execute("mkdir -p " .. S.shquote(tmp .. "/tasks"))
    S.spit(tmp .. "/tasks/Save.lua", [[
local tables = require "moonstep.tables"
return { handler = function(event)
  tables.orders:put({id = event.id, n = 1, by = "lua"},
                    {condition = "attribute_not_exists(id)"})
  return tables.orders:get{id = event.id, n = 1}
end }
]])
    local def = chain{
      {Resource = "arn:aws:lambda:us-east-1:123456789012:function:Save",
       ResultPath = "$.saved"},
      {Resource = PRE .. "dynamodb:getItem", ResultPath = "$.got",
       Parameters = {TableName = "orders", Key = {id = {["S.$"] = "$.id"},
         n = {N = "1"}}}},
      {Resource = "arn:aws:lambda:us-east-1:123456789012:function:Save",
       Catch = {{ErrorEquals = {"ConditionalCheckFailedException"},
                 ResultPath = "$.again", Next = "S4"}}},
      {Type = "Pass"},
    }
    local out, err, code = run(def, {id = "h1"})
    assert.are.equal(0, code, err)
    assert.are.same({id = "h1", n = 1, by = "lua"}, out.saved)
    assert.are.same({S = "lua"}, out.got.Item.by)
    assert.are.equal("ConditionalCheckFailedException", out.again.Error)
  end)
end)
