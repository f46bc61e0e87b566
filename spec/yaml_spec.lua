-- yaml_spec.lua - moonstep.yaml: the YAML reader behind `moonstep deploy`
-- (engine/yaml.c), case by case: block and flow collections, scalars and
-- their types, block scalars, CloudFormation's short tags, anchors, and
-- the errors for what it refuses.
local yaml = require "moonstep.yaml"
local json = require "moonstep.json"

local function same(yaml_text, expected_json)
  local v, err = yaml.decode(yaml_text)
  assert.is_nil(err)
  assert.are.equal(json.encode(json.decode(expected_json)), json.encode(v))
end

local function refused(yaml_text, pattern)
  local v, err = yaml.decode(yaml_text)
  assert.is_nil(v)
  assert.matches(pattern, err)
end

describe("moonstep.yaml", function()
  it("reads block mappings and sequences, nested", function()
    same([=[
a: 1
b:
  c: two
  d:
    - x
    - y: 3
      z: [1, 2]
e:
- 1
- - 2
  - 3
]=], [=[{"a":1,"b":{"c":"two","d":["x",{"y":3,"z":[1,2]}]},"e":[1,[2,3]]}]=])
  end)

  it("keeps key order", function()
    same("z: 1\na: 2\nm: 3\n", [=[{"z":1,"a":2,"m":3}]=])
  end)

  it("resolves plain scalars with the core schema", function()
    same([=[
n: null
t: ~
e:
b1: true
b2: False
i: -42
h: 0x1F
o: 0o17
f: 1.5e3
v: 2010-09-09
s: hello world
q: "1"
big: 123456789012345678901234567890
]=], [=[{"n":null,"t":null,"e":null,"b1":true,"b2":false,"i":-42,"h":31,
      "o":15,"f":1500.0,"v":"2010-09-09","s":"hello world","q":"1",
      "big":1.2345678901234568e29}]=])
  end)

  it("reads quoted scalars with escapes and folding", function()
    same([=[
a: "tab\there \"q\" \u00e9 \x41"
b: 'it''s # not a comment'
c: "one
  two

  three"
d: plain # a comment
url: http://example.com:8080/x
]=], [=[{"a":"tab\there \"q\" é A","b":"it's # not a comment",
      "c":"one two\nthree","d":"plain","url":"http://example.com:8080/x"}]=])
  end)

  it("folds multi-line plain scalars", function()
    same("a: one\n  two\n  three\nb: x\n", [=[{"a":"one two three","b":"x"}]=])
  end)

  it("reads literal and folded block scalars with chomping", function()
    same([=[
lit: |
  line 1
    indented
  line 3

fold: >
  a
  b

  c
strip: |-
  x

keep: |+
  y

last: end
]=], [=[{"lit":"line 1\n  indented\nline 3\n","fold":"a b\nc\n",
      "strip":"x","keep":"y\n\n","last":"end"}]=])
  end)

  it("reads flow collections across lines", function()
    same([=[
a: [1, "two", {k: v, n: [x, y]}, ]
b: {
  c: 1,   # comment
  d: [ ]
}
]=], [=[{"a":[1,"two",{"k":"v","n":["x","y"]}],"b":{"c":1,"d":[]}}]=])
  end)

  it("turns CloudFormation's short tags into their long forms", function()
    same([=[
A: !Ref Bucket
B: !GetAtt Table.Arn
C: !Sub "arn:${AWS::Partition}:s3:::${Bucket}/*"
D: !Join [":", [a, !Ref X]]
E: !Sub
  - "${A}-x"
  - A: !Ref P
F: !GetAtt
  - Fn
  - Arn
G: !If [IsProd, 1, !Ref "AWS::NoValue"]
H: !Sub |
  {"StartAt": "${S}"}
]=], [=[{"A":{"Ref":"Bucket"},"B":{"Fn::GetAtt":["Table","Arn"]},
      "C":{"Fn::Sub":"arn:${AWS::Partition}:s3:::${Bucket}/*"},
      "D":{"Fn::Join":[":",["a",{"Ref":"X"}]]},
      "E":{"Fn::Sub":["${A}-x",{"A":{"Ref":"P"}}]},
      "F":{"Fn::GetAtt":["Fn","Arn"]},
      "G":{"Fn::If":["IsProd",1,{"Ref":"AWS::NoValue"}]},
      "H":{"Fn::Sub":"{\"StartAt\": \"${S}\"}\n"}}]=])
  end)

  it("honours anchors, aliases and standard tags", function()
    same([=[
base: &b {x: 1}
copy: *b
s: !!str 123
]=], [=[{"base":{"x":1},"copy":{"x":1},"s":"123"}]=])
  end)

  it("skips a document start, directives, comments, CRLF and a BOM",
     function()
    same("\239\187\191%YAML 1.2\r\n---\r\n# c\r\na: 1\r\n...\r\n",
         [=[{"a":1}]=])
    same("", "null")
  end)

  it("reads a SAM template", function()
    local v = assert(yaml.decode([=[
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Customers:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema:
        - AttributeName: id
          KeyType: HASH
]=]))
    assert.are.equal("AWS::Serverless-2016-10-31", v.Transform)
    assert.are.equal("HASH",
      v.Resources.Customers.Properties.KeySchema[1].KeyType)
  end)

  it("refuses what it cannot read, with LINE:COL", function()
    refused("a: 1\na: 2\n", "^2:1: duplicate key \"a\"")
    refused("a:\n\tb: 1\n", "^2:2: a tab character")
    refused("a: 1\n  b: 2\n", "^2:%d+: ")
    refused("a: \"open\n", "^1:4: this quoted string has no closing")
    refused("a: [1, 2\n", "^1:4: this list has no closing %]")
    refused("a: [[1]\n", "^1:4: this list has no closing %]")
    refused("a: *nope\n", "no anchor named \"nope\"")
    refused("a: 1\n---\nb: 2\n", "several YAML documents")
    refused("a: b: c\n", "nested mapping cannot start")
    refused("? complex\n: key\n", "complex mapping keys")
    refused("a: !Bad-Tag x\n", "unknown tag !Bad%-Tag")
    refused("a: \"\\q\"\n", "unknown escape")
  end)

  it("refuses nesting deeper than the JSON limit", function()
    refused(string.rep("[", 5000) .. string.rep("]", 5000), "nested more than")
  end)
end)
