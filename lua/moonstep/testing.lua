-- moonstep/testing.lua - helpers for busted specs of Task handlers and
-- workflows: build the values Lambda and Step Functions hand to a handler
-- (a context, events) so a handler's spec can call handler(event, context)
-- directly, with no engine, and read a run's history.
--
-- One table M of functions, grouped by what they build; add new helpers as
-- fields of M in their own section.
local M = {}

-- ---- contexts -----------------------------------------------------------

local DEFAULT_REGION, DEFAULT_ACCOUNT = "us-east-1", "123456789012"

local function uuid(n)
  -- a stable, UUID-shaped request id for test n (a spec's ids never vary)
  return string.format("%08x-0000-4000-8000-%012x", n, n)
end

local requests = 0

-- A Lambda-shaped context, as moonstep passes one to handler(event,
-- context). opts (all optional): function_name ("test-function"),
-- memory_limit_in_mb (128), remaining_ms (3000: the default timeout),
-- region, account, aws_request_id, execution_name, execution_id,
-- state_name, retry_count (0), and log: a function(line) that receives
-- each context.log line (default: collected in context.logged).
-- get_remaining_time_in_millis() counts down from remaining_ms in real
-- time, as on Lambda.
function M.context(opts)
  opts = opts or {}
  requests = requests + 1
  local name = opts.function_name or "test-function"
  local region = opts.region or DEFAULT_REGION
  local account = opts.account or DEFAULT_ACCOUNT
  local remaining = opts.remaining_ms or 3000
  local started = os.clock()
  local ctx = {
    function_name = name,
    function_version = "$LATEST",
    invoked_function_arn = string.format(
      "arn:aws:lambda:%s:%s:function:%s", region, account, name),
    memory_limit_in_mb = opts.memory_limit_in_mb or 128,
    aws_request_id = opts.aws_request_id or uuid(requests),
    log_group_name = "/aws/lambda/" .. name,
    log_stream_name = os.date("!%Y/%m/%d") .. "/[$LATEST]" ..
      string.rep("0", 32),
    execution_name = opts.execution_name,
    execution_id = opts.execution_id,
    state_name = opts.state_name,
    retry_count = opts.retry_count or 0,
    logged = {},
  }
  function ctx.get_remaining_time_in_millis()
    local left = remaining - math.floor((os.clock() - started) * 1000)
    return left > 0 and left or 0
  end
  function ctx.log(...)
    local parts = table.pack(...)
    for i = 1, parts.n do parts[i] = tostring(parts[i]) end
    local line = table.concat(parts, "\t", 1, parts.n)
    if opts.log then opts.log(line) else ctx.logged[#ctx.logged + 1] = line end
  end
  return ctx
end

-- ---- events -------------------------------------------------------------

-- Events are built as plain tables; Records is marked as an array when
-- the moonstep module is at hand, so it stays [] / [...] through JSON.
local function array(t)
  local ok, moonstep = pcall(require, "moonstep")
  if ok and type(moonstep) == "table" and moonstep.json then
    return moonstep.json.array(t)
  end
  return t
end

-- An object key as S3 writes it in an event notification: URL-encoded,
-- a space as "+" ("red flower.jpg" -> "red+flower.jpg", the S3 user
-- guide's example); letters, digits, "-_.~" and "/" are kept (a guess for
-- the other characters: percent-encoded).
function M.s3_key(key)
  return (key:gsub("[^%w%-_%.~/ ]", function(c)
    return string.format("%%%02X", c:byte())
  end):gsub(" ", "+"))
end

-- The event a Lambda handler receives from an S3 event notification
-- (Records[] with one record, event version 2.1, the fields of the S3
-- user guide's "Event message structure"). o: bucket and key (required;
-- key given decoded, encoded as S3 does), size (0), event_name
-- ("ObjectCreated:Put"), region ("us-east-1"), time
-- ("1970-01-01T00:00:00.000Z"), etag, version_id, sequencer,
-- configuration_id.
function M.s3_event(o)
  assert(type(o) == "table", "s3_event{bucket=, key=, size=} expected")
  assert(type(o.bucket) == "string", "s3_event: bucket (a string) expected")
  assert(type(o.key) == "string", "s3_event: key (a string) expected")
  local object = {
    key = M.s3_key(o.key),
    size = o.size or 0,
    eTag = o.etag or "0123456789abcdef0123456789abcdef",
    sequencer = o.sequencer or "0A1B2C3D4E5F678901",
    versionId = o.version_id,
  }
  return {
    Records = array({
      {
        eventVersion = "2.1",
        eventSource = "aws:s3",
        awsRegion = o.region or DEFAULT_REGION,
        eventTime = o.time or "1970-01-01T00:00:00.000Z",
        eventName = o.event_name or "ObjectCreated:Put",
        userIdentity = { principalId = "EXAMPLE" },
        requestParameters = { sourceIPAddress = "127.0.0.1" },
        responseElements = {
          ["x-amz-request-id"] = "EXAMPLE123456789",
          ["x-amz-id-2"] = "EXAMPLE123/5678abcdefghijklambdaisawesome/" ..
                           "mnopqrstuvwxyzABCDEFGH",
        },
        s3 = {
          s3SchemaVersion = "1.0",
          configurationId = o.configuration_id or "testConfigRule",
          bucket = {
            name = o.bucket,
            ownerIdentity = { principalId = "EXAMPLE" },
            arn = "arn:aws:s3:::" .. o.bucket,
          },
          object = object,
        },
      },
    }),
  }
end

-- ---- history ------------------------------------------------------------

-- A history is the `history` field of moonstep.run(def, input, {history =
-- true}) (GetExecutionHistory's events array; [] for EXPRESS runs), or
-- the `events` of `moonstep get-execution-history` decoded. Both helpers
-- return plain arrays, for assert.same.

-- The event types in order: {"ExecutionStarted", "PassStateEntered", ...}.
function M.event_types(history)
  local types = {}
  for i, ev in ipairs(history) do types[i] = ev.type end
  return types
end

-- The names of the states entered, in entry order (every
-- *StateEntered event's stateEnteredEventDetails.name).
function M.states_entered(history)
  local names = {}
  for _, ev in ipairs(history) do
    local d = ev.stateEnteredEventDetails
    if d then names[#names + 1] = d.name end
  end
  return names
end

return M
