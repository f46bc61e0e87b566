/* yaml.h - read YAML documents as JSON values, for CloudFormation and SAM
 * templates (cfn.c) and any other YAML a user hands moonstep.
 *
 * What is read: block mappings and sequences, flow mappings and sequences,
 * plain, single- and double-quoted scalars (multi-line included), literal
 * (|) and folded (>) block scalars with chomping and indentation
 * indicators, comments, anchors and aliases, a leading "---" and
 * directives. Plain scalars resolve as YAML 1.2's core schema does (null,
 * true/false, integers, floats, else a string). CloudFormation's short
 * tags become its long forms: !Ref X -> {"Ref": X}, !Condition X ->
 * {"Condition": X}, !GetAtt A.B -> {"Fn::GetAtt": ["A", "B"]}, and every
 * other !Name V -> {"Fn::Name": V}; the standard !!str, !!int, !!float,
 * !!bool, !!null, !!map, !!seq tags are honoured.
 *
 * Not read (refused with a message, never misread): several documents in
 * one stream, complex ("?") keys, tabs used for indentation.
 */
#ifndef MS_YAML_H
#define MS_YAML_H

#include "jsonx.h"

/* Parse text (len bytes). Returns the document (new reference; an empty
 * document is JSON null) or NULL with *err = "LINE:COL: message"
 * (malloc'd). Mappings keep their key order; a duplicate key is an
 * error, as CloudFormation makes it. */
json_t *yaml_parse(const char *text, size_t len, char **err);

#endif
