/* cfn.h - read an AWS CloudFormation or SAM template into what moonstep
 * can stand up locally: DynamoDB tables, Lambda functions (as Lua
 * handlers), state machines with their definitions resolved, buckets and
 * the triggers that start executions when an object lands in one.
 *
 * The template (YAML or JSON) is resolved the way CloudFormation resolves
 * it: parameters (defaults, or values given), pseudo parameters
 * (AWS::Region us-east-1, AWS::AccountId 123456789012, AWS::Partition,
 * AWS::StackName, AWS::URLSuffix, AWS::NoValue), Conditions, Mappings,
 * and Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::Select, Fn::Split, Fn::If,
 * Fn::Equals, Fn::And, Fn::Or, Fn::Not, Fn::FindInMap, Fn::Base64,
 * Fn::GetAZs. Physical names are the ones the template gives (TableName,
 * FunctionName, StateMachineName, BucketName), else the logical id, so a
 * local deployment is deterministic. What cannot be emulated (IAM,
 * throughput, alarms, ...) is listed in `ignored`, not refused.
 */
#ifndef MS_CFN_H
#define MS_CFN_H

#include "jsonx.h"

typedef struct cfn_stack {
  char *name;          /* the stack's name */
  /* Each a JSON array (new references, owned by the stack): */
  json_t *tables;      /* DynamoDB CreateTable requests (TableName,
                        * KeySchema, AttributeDefinitions,
                        * GlobalSecondaryIndexes) */
  json_t *functions;   /* {"LogicalId", "FunctionName", "Arn",
                        * "Timeout", "MemorySize", "Environment"} */
  json_t *machines;    /* {"LogicalId", "Name", "Arn", "Type",
                        * "Definition" (the definition's JSON text)} */
  json_t *buckets;     /* {"LogicalId", "BucketName"} */
  json_t *triggers;    /* {"Bucket", "Prefix", "Suffix", "Event" ("s3" |
                        * "eventbridge"), "Machine" or "Function"} */
  json_t *ignored;     /* "LogicalId (AWS::IAM::Role)", ... */
  json_t *outputs;     /* Outputs, resolved: {"Name": value} */
} cfn_stack_t;

/* Load a template. text is YAML or JSON (len bytes); stack_name names the
 * stack (AWS::StackName); params ({"Name": "value"}, may be NULL) override
 * parameter defaults; base_dir (may be NULL) is where relative
 * DefinitionUri files are read from. Returns 0, or -1 with *err (malloc'd)
 * naming the resource and property that is wrong. */
int cfn_load(const char *text, size_t len, const char *stack_name,
             const json_t *params, const char *base_dir, cfn_stack_t *out,
             char **err);
void cfn_stack_free(cfn_stack_t *s);

#endif
