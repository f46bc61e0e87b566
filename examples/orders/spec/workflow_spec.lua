-- workflow_spec.lua - the orders example end to end: moonstep.run on
-- examples/orders/orders.asl.json with its real handlers
-- (examples/orders/tasks) and the virtual clock (the Retry's interval
-- passes at once), checking the output; then runs with `mocks` standing in
-- for the "Price item" Task to force its Catch path. Run from the
-- repository's top level: busted examples/orders/spec
local moonstep = require "moonstep"
local json = moonstep.json

local DIR = "examples/orders/"

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local definition = slurp(DIR .. "orders.asl.json")

local function input()
  return json.decode(slurp(DIR .. "input.json"))
end

local function run(order, mocks)
  return moonstep.run(definition, order, {
    tasks_dir = DIR .. "tasks", virtual_clock = true, mocks = mocks,
  })
end

-- Compares a JSON value with the one a JSON text describes.
local function assert_json(expected, value)
  assert.is_true(json.equal(json.decode(expected), value),
                 "got " .. json.encode(value))
end

describe("examples/orders/orders.asl.json", function()
  it("prices every item of input.json (BOOK-42 after a retry)", function()
    local d = run(input())
    assert.are.equal("SUCCEEDED", d.status)
    assert_json([[{
      "orderId": "o-1001", "customer": "ada@example.com", "currency": "EUR",
      "total": 5389,
      "lines": [
        {"sku": "BOOK-42", "qty": 2, "unitPrice": 1250, "lineTotal": 2500,
         "priced": true},
        {"sku": "PEN-7", "qty": 10, "unitPrice": 199, "lineTotal": 1990,
         "priced": true},
        {"sku": "MUG-1", "qty": 1, "unitPrice": 899, "lineTotal": 899,
         "priced": true}
      ],
      "unpriced": [],
      "summary": "3 items priced for order o-1001"
    }]], d.output)
  end)

  it("marks an unknown sku unpriced (the real handler's Catch path)",
     function()
    local order = input()
    order.items[2].sku = "PEN-99"
    local d = run(order)
    assert.are.equal("SUCCEEDED", d.status)
    assert_json([[{"sku": "PEN-99", "qty": 10, "priced": false,
                   "error": "Catalog.UnknownSku"}]], d.output.lines[2])
    assert_json([[["PEN-99"] ]], d.output.unpriced)
  end)

  it("takes the Catch path when a mock fails an item permanently",
     function()
    local seen = {}
    local d = run(input(), {
      ["Price item"] = function(item)
        seen[#seen + 1] = item.sku
        if item.sku == "MUG-1" then
          error({ errorType = "Catalog.UnknownSku",
                  errorMessage = "withdrawn from sale" })
        end
        return { sku = item.sku, qty = item.qty, unitPrice = 100,
                 lineTotal = 100 * item.qty, currency = item.currency }
      end,
    })
    assert.are.equal("SUCCEEDED", d.status)
    table.sort(seen)
    assert.are.same({ "BOOK-42", "MUG-1", "PEN-7" }, seen)
    assert_json([[{"sku": "MUG-1", "qty": 1, "priced": false,
                   "error": "Catalog.UnknownSku"}]], d.output.lines[3])
    assert_json([[["MUG-1"] ]], d.output.unpriced)
    assert.are.equal(200, d.output.lines[1].lineTotal)
  end)

  it("retries a throttled item, then fails after three retries", function()
    local calls = 0
    local d = run(input(), {
      ["Price item"] = function(item)
        calls = calls + 1
        error({ errorType = "Catalog.Throttled", errorMessage = "busy" })
      end,
    })
    assert.are.equal("FAILED", d.status)
    assert.are.equal("Catalog.Throttled", d.error)
    assert.is_true(calls >= 4)   -- at least one item: 1 call + 3 retries
  end)

  it("sends an order over 500.00 to review", function()
    local order = input()
    order.total = 50001
    local d = run(order)
    assert.are.equal("FAILED", d.status)
    assert.are.equal("Order.NeedsReview", d.error)
  end)

  it("fails an invalid order with the handler's error", function()
    local order = input()
    order.items = json.array({})
    local d = run(order)
    assert.are.equal("FAILED", d.status)
    assert.are.equal("Order.Invalid", d.error)
  end)
end)
