-- repl_cli_spec.lua - `moonstep repl`: piped sessions and -e chunks with
-- their output and exit status, ":" commands, and line editing at a real
-- terminal (through script(1), which Debian always has). #binary
local S = require "support"

describe("moonstep repl #binary", function()
  local tmp
  before_each(function()
    S.require_binary()
    tmp = S.tmpdir("repl")
  end)
  after_each(function() S.rmtree(tmp) end)

  local function piped(input, ...)
    S.spit(tmp .. "/in", input)
    local q = {}
    for i, a in ipairs({...}) do q[i] = S.shquote(a) end
    local ok, how, code = os.execute(string.format(
      "MOONSTEP_HISTORY= %s repl %s <%s >%s/out 2>%s/err",
      S.shquote(S.BIN), table.concat(q, " "), S.shquote(tmp .. "/in"),
      S.shquote(tmp), S.shquote(tmp)))
    local _ = ok, how
    return S.slurp(tmp .. "/out"), S.slurp(tmp .. "/err"), code
  end

  it("evaluates piped commands without a prompt", function()
    local out, err, code = piped(
      "x = 20\nx + 1\nfor i = 1, 2 do\n  print(i)\nend\n"
      .. "= {n = x}\n")
    assert.are.equal("", err)
    assert.are.equal(0, code)
    assert.are.equal('21\n1\n2\n{\n  "n": 20\n}\n', out)
  end)

  it("reports errors with a traceback and exits 1, going on after them",
     function()
    local out, err, code = piped("error('boom')\n1 +* 2\n'after'\n")
    assert.are.equal(1, code)
    assert.are.equal("after\n", out)
    assert.matches("stdin:1: boom\nstack traceback:", err)
    assert.matches("in main chunk", err)
    assert.not_matches("repl.lua", err)
    assert.matches("stdin:1: unexpected symbol near '1'", err)
  end)

  it("runs -e chunks and exits; -i goes on to the input", function()
    local out, err, code = piped("", "-e", "y = 2", "-e", "y * 3")
    assert.are.equal(0, code, err)
    assert.are.equal("6\n", out)
    out, err, code = piped("y + 1\n", "-e", "y = 2", "-i")
    assert.are.equal(0, code, err)
    assert.are.equal("3\n", out)
    _, err, code = piped("", "-e", "for")
    assert.are.equal(1, code)
    assert.matches("unfinished chunk: for", err)
    _, err, code = piped("", "--bogus")
    assert.are.equal(2, code)
    assert.matches("unknown option '%-%-bogus'", err)
  end)

  it("has : commands, and :q stops reading", function()
    local out, err, code = piped(":help\n:step\n:nope\n:q\n'not reached'\n")
    assert.are.equal(1, code)
    assert.matches(":s, :step", out)
    assert.not_matches("not reached", out)
    assert.matches("no current execution", err)
    assert.matches("unknown command :nope", err)
  end)

  it("edits lines at a terminal: completion, history, cursor keys",
     function()
    local script = io.open("/usr/bin/script") or io.open("/bin/script")
    assert.truthy(script, "script(1) from bsdutils is missing")
    script:close()
    local keys = table.concat({
      "abcd = 4\r", "ab\t * 2\r",          -- Tab completes abcd
      "\27[A\27[D\27[D\27[D+ 1 \r",         -- Up: the last line, edited
      "string.fo\t(\"%d\", 7)\r",           -- string.format
      "while true do end\r", "\3",         -- Ctrl-C stops the chunk
      "'still here'\r",                     -- and the prompt goes on
      "\21:q\r",                            -- Ctrl-U clears, then :q
    })
    local feed = tmp .. "/keys.sh"
    S.spit(feed, "for k in \"$@\"; do printf '%b' \"$k\"; sleep 0.2; done\n")
    local args = {}
    for line in keys:gmatch("[^\r\3]*[\r\3]") do
      args[#args + 1] = S.shquote((line:gsub("\27", "\\033")
                                       :gsub("\t", "\\t"):gsub("\21", "\\025")
                                       :gsub("\3", "\\003")
                                       :gsub("\r", "\\r")))
    end
    os.execute(string.format(
      "sleep 0.3; sh %s %s | HOME=%s script -qec %s /dev/null >%s/tty 2>&1",
      S.shquote(feed), table.concat(args, " "), S.shquote(tmp),
      S.shquote(S.BIN .. " repl"), S.shquote(tmp)))
    local tty = S.slurp(tmp .. "/tty"):gsub("\27%[[%d;]*[A-Za-z]", "")
    assert.matches("\n8\r?\n", tty)          -- abcd * 2
    assert.matches("\n6\r?\n", tty)          -- abcd + 1 * 2
    assert.matches("\n7\r?\n", tty)
    assert.matches("interrupted", tty)
    assert.matches("\nstill here\r?\n", tty)
    local hist = S.slurp(tmp .. "/.moonstep_history")
    assert.matches("abcd = 4\nabcd %* 2\n", hist)
  end)
end)
