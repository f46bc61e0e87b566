-- handlers_spec.lua - the orders example's handlers alone: require the
-- modules from examples/orders/tasks and call handler(event, context) with
-- a context from moonstep.testing; no engine, no state machine (the
-- pattern of spec/handlers/hello_spec.lua). Run from the repository's top
-- level: busted examples/orders/spec
package.path = "./examples/orders/tasks/?.lua;./lua/?.lua;" .. package.path
local testing = require "moonstep.testing"
local ValidateOrder = require "ValidateOrder"
local PriceItem = require "PriceItem"

-- Calls f and returns the Lambda-style error table it raised.
local function raised(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  assert.are.equal("table", type(err))
  return err
end

local function order()
  return {
    orderId = "o-1", customer = "ada@example.com", currency = "EUR",
    total = 2699,
    items = { { sku = "book-42", qty = 2 }, { sku = "PEN-7", qty = 1 } },
  }
end

describe("examples/orders/tasks/ValidateOrder.lua", function()
  local context
  before_each(function()
    context = testing.context{ function_name = "ValidateOrder" }
  end)

  it("returns the order normalized, with its item count", function()
    assert.are.same({
      orderId = "o-1", customer = "ada@example.com", currency = "EUR",
      total = 2699, itemCount = 2,
      items = { { sku = "BOOK-42", qty = 2 }, { sku = "PEN-7", qty = 1 } },
    }, ValidateOrder.handler(order(), context))
    assert.are.same({ "order o-1: 2 items" }, context.logged)
  end)

  it("defaults the currency to EUR", function()
    local o = order()
    o.currency = nil
    assert.are.equal("EUR", ValidateOrder.handler(o, context).currency)
  end)

  it("fails an order without items with Order.Invalid", function()
    local o = order()
    o.items = {}
    local err = raised(ValidateOrder.handler, o, context)
    assert.are.equal("Order.Invalid", err.errorType)
    assert.are.equal("the order has no items", err.errorMessage)
  end)

  it("fails a bad quantity with Order.Invalid, naming the item", function()
    local o = order()
    o.items[2].qty = 0
    local err = raised(ValidateOrder.handler, o, context)
    assert.are.equal("Order.Invalid", err.errorType)
    assert.truthy(err.errorMessage:find("item 2 (PEN-7)", 1, true))
  end)

  it("fails a missing orderId or a fractional total", function()
    local o = order()
    o.orderId = nil
    assert.are.equal("orderId is missing",
                     raised(ValidateOrder.handler, o, context).errorMessage)
    o = order()
    o.total = 26.99
    assert.are.equal("Order.Invalid",
                     raised(ValidateOrder.handler, o, context).errorType)
  end)
end)

describe("examples/orders/tasks/PriceItem.lua", function()
  local function context(retry_count)
    return testing.context{ function_name = "PriceItem",
                            retry_count = retry_count }
  end

  it("prices a line in cents", function()
    assert.are.same({
      sku = "PEN-7", qty = 10, unitPrice = 199, lineTotal = 1990,
      currency = "EUR", catalogVersion = "stub-1",
    }, PriceItem.handler({ sku = "PEN-7", qty = 10, currency = "EUR" },
                         context(0)))
  end)

  it("is throttled on a flaky entry's first attempt, then prices it",
     function()
    local event = { sku = "BOOK-42", qty = 2, currency = "EUR" }
    local err = raised(PriceItem.handler, event, context(0))
    assert.are.equal("Catalog.Throttled", err.errorType)
    assert.are.equal(2500, PriceItem.handler(event, context(1)).lineTotal)
  end)

  it("fails an unknown sku with Catalog.UnknownSku", function()
    local err = raised(PriceItem.handler, { sku = "NOPE-1", qty = 1 },
                       context(0))
    assert.are.equal("Catalog.UnknownSku", err.errorType)
    assert.are.equal("no catalog entry for NOPE-1", err.errorMessage)
  end)
end)
