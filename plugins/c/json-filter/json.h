/*
 * json.h: a strict JSON parser that accepts and rejects exactly what serde_json 1.x
 * (`serde_json::from_slice::<Value>`, features `raw_value`, no `float_roundtrip`) does,
 * and builds values that compare as serde_json's `Value`s do:
 *
 *   - numbers are unsigned ints, negative ints or floats, of different kinds: 42 != 42.0;
 *     `-0` is a float; integers beyond u64/i64 become floats; floats are computed with
 *     serde_json's own (non-roundtrip) algorithm, so the same text gives the same double;
 *   - strings are compared after unescaping; `\u` surrogates must pair; invalid UTF-8 in a
 *     string, control characters, BOMs, NaN, Infinity, leading zeros, trailing commas,
 *     trailing characters and nesting deeper than 127 are errors;
 *   - objects compare as maps (key order irrelevant); with duplicate keys the last wins;
 *   - an object whose first key is "$serde_json::private::RawValue" stands for the JSON
 *     text in its (string) value, as serde_json's `raw_value` feature has it.
 *
 * Values live in a json_doc (an arena of nodes and decoded text, reused between parses).
 */
#ifndef JSON_H
#define JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum json_kind { JSON_NULL, JSON_BOOL, JSON_UINT, JSON_INT, JSON_FLOAT, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

typedef struct json_node {
    uint8_t kind;
    bool b;                   /* JSON_BOOL */
    uint32_t key_off, key_len; /* the member's key in doc->text, for members of an object */
    uint32_t off, len;        /* JSON_STRING: its bytes in doc->text; arrays, objects: count */
    int32_t first, last, next; /* children (array elements, object members), -1 for none */
    union {
        uint64_t u; /* JSON_UINT */
        int64_t i;  /* JSON_INT (always negative) */
        double f;   /* JSON_FLOAT */
    } num;
} json_node;

typedef struct json_doc {
    json_node *nodes;
    size_t n_nodes, cap_nodes;
    uint8_t *text;
    size_t n_text, cap_text;
    char error[96]; /* after a failed parse: what and where, serde_json-like */
} json_doc;

/* Parses `len` bytes at `s` (the whole of them) into `d`, which is emptied first. Returns
 * the root node, or -1 with d->error set. */
int32_t json_parse(json_doc *d, const uint8_t *s, size_t len);
/* A string node holding `len` bytes (for values that are not JSON). */
int32_t json_string(json_doc *d, const uint8_t *s, size_t len);
void json_free(json_doc *d);

/* A JSON Pointer, split into unescaped tokens (serde_json's `Value::pointer`). */
typedef struct json_pointer {
    size_t n;
    const uint8_t **tok;
    size_t *len;
} json_pointer;

/* Splits `p` (which starts with '/', or is empty for the whole document). The tokens are
 * malloc'd copies; returns false when `p` is neither. */
bool json_pointer_parse(json_pointer *out, const char *p, size_t len);
/* The node `ptr` names under `root`, or -1. */
int32_t json_lookup(const json_doc *d, int32_t root, const json_pointer *ptr);
/* Whether two values are equal as serde_json `Value`s. */
bool json_equal(const json_doc *a, int32_t x, const json_doc *b, int32_t y);

#endif /* JSON_H */
